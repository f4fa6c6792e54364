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

/** Environment options that can cross a thread boundary (the shift as text). */
export type WorkerEnvOptions = Omit<EnvOptions, 'shift'> & { shift?: string };

export interface InitRequest {
  type: 'init';
  slots: number;
  env: WorkerEnvOptions;
  /** Scale of the scripted expert's noise (expert.ts). */
  expertNoise: number;
  /** Return a Scene with every observation (a renderer is attached). */
  scenes: boolean;
}

export interface RoundItem {
  slot: number;
  reset?: EpisodePlan;
  /** The action to take; null: the scripted expert chooses it. */
  action?: Float64Array | null;
}

export interface RoundRequest {
  type: 'round';
  items: RoundItem[];
}

export type WorkerRequest = InitRequest | RoundRequest;

export interface SlotResult {
  slot: number;
  observation: Observation;
  scene?: Scene;
  /** The action taken, after clipping (absent after a reset). */
  action?: Float64Array;
  info?: StepInfo;
  done: boolean;
  /** Present when done. */
  outcome?: EpisodeOutcome;
  /** Distractors placed in this episode (after a reset). */
  distractors?: number;
}

export type WorkerResponse =
  | { type: 'ready' }
  | { type: 'round'; results: SlotResult[] }
  | { type: 'error'; slot: number | null; message: string; name: string };
