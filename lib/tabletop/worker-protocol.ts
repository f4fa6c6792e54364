/**
 * Messages between the rollout coordinator (main thread) and its environment workers. Every
 * field is structured-cloneable. A round carries, for each environment slot of the worker,
 * either an episode to start or an action to take (null: let the scripted expert act).
 */
import type { Scene } from '../render/scene.js';
import type { EnvOptions, Observation, StepInfo } from './env.js';
import type { EpisodeOutcome } from './metrics.js';

/** One episode to run: which task, which of its episodes, its configuration and seed. */
export interface EpisodePlan {
  task: string;
  /** Index of the episode within its task (0-based). */
  episodeIndex: number;
  /** 0..23 */
  configuration: number;
  seed: number;
}

/**
 * Environment options that can cross a thread boundary (the shift as text). Images are the
 * rollout's business (RolloutOptions.render), not the environments'.
 */
export type WorkerEnvOptions = Omit<EnvOptions, 'shift' | 'images'> & { shift?: string };

/**
 * What a worker adds to each observation that needs an action: nothing; its scene (the
 * coordinator draws every scene of a round); or its image, drawn in the worker with the native
 * renderer, all of the worker's environments in one call.
 */
export type WorkerImages =
  | { kind: 'none' }
  | { kind: 'scenes' }
  /** threadPool: draw with the native thread pool (false: on the worker's own thread only). */
  | { kind: 'native'; width: number; height: number; threadPool: boolean };

export interface InitRequest {
  type: 'init';
  slots: number;
  env: WorkerEnvOptions;
  /** Scale of the scripted expert's noise (expert.ts). */
  expertNoise: number;
  images: WorkerImages;
  /** Compute each observation's ground-truth task progress (evolve/task-progress.ts). */
  progress: boolean;
}

export interface RoundItem {
  slot: number;
  reset?: EpisodePlan;
  /** The action to take; null: the scripted expert chooses it. */
  action?: Float64Array | null;
  /** End the episode now, without acting: the outcome is judged on the current state. */
  finish?: boolean;
}

export interface RoundRequest {
  type: 'round';
  items: RoundItem[];
}

export type WorkerRequest = InitRequest | RoundRequest;

export interface SlotResult {
  slot: number;
  /** The new observation (absent when an episode was ended by a finish request). */
  observation?: Observation;
  scene?: Scene;
  /** The action taken, after clipping (absent after a reset). */
  action?: Float64Array;
  info?: StepInfo;
  done: boolean;
  /** Present when done. */
  outcome?: EpisodeOutcome;
  /** Distractors placed in this episode (after a reset). */
  distractors?: number;
  /** Ground-truth task progress (0..100) of `observation`, when the rollout asked for it. */
  progress?: number;
}

/**
 * With native images, a round's pixels travel in one transferred buffer and every image is a
 * view into it.
 */
export type WorkerResponse =
  | { type: 'ready' }
  | { type: 'round'; results: SlotResult[] }
  | { type: 'error'; slot: number | null; message: string; name: string };
