/**
 * Records the episodes of a rollout (runRollouts' onTransition / onEpisode) as DemoEpisode
 * values: states, actions and frames of every step, the outcome at the end. Only the episodes in
 * progress are held; each frame is copied at once into its episode's own array (sized for the
 * task's step cap), so the rollout's per-round image buffers are not kept alive.
 *
 * @example
 * ```ts
 * const recorder = new EpisodeRecorder({ width: 64, height: 64 });
 * await runRollouts({ policy, episodes, onTransition: recorder.onTransition,
 *                     onEpisode: (r) => buffer.add(recorder.finish(r)) });
 * ```
 */
import { ArgumentError } from '../errors.js';
import { ACTION_DIM } from './actions.js';
import { STATE_DIM, type DemoEpisode } from './dataset.js';
import type { ImageSize } from './observation-images.js';
import type { EpisodePlan, EpisodeResult, Transition } from './rollout.js';
import { DEFAULT_EPISODE_CAPS, episodeCap, getTask } from './tasks.js';

interface InProgress {
  state: number[];
  action: number[];
  frames: Uint8Array | null;
  /** Task progress of each recorded observation, while every transition carries it. */
  progress: number[] | null;
  instruction: string;
  embodimentId: number;
}

function episodeKey(e: Pick<EpisodePlan, 'task' | 'episodeIndex'>): string {
  return `${e.task}#${e.episodeIndex}`;
}

export class EpisodeRecorder {
  private readonly open = new Map<string, InProgress>();
  private readonly frameBytes: number;

  /** `image`: the frame size every observation carries, or null to record states and actions only. */
  constructor(readonly image: ImageSize | null) {
    this.frameBytes = image ? image.width * image.height * 3 : 0;
  }

  /** Episodes started and not finished yet. */
  get inProgress(): number {
    return this.open.size;
  }

  readonly onTransition = (t: Transition): void => {
    const key = episodeKey(t.episode);
    let b = this.open.get(key);
    if (!b) {
      const cap = episodeCap(getTask(t.episode.task), DEFAULT_EPISODE_CAPS);
      b = { state: [], action: [], frames: this.image ? new Uint8Array(cap * this.frameBytes) : null, progress: t.progress === undefined ? null : [], instruction: t.observation.instruction, embodimentId: t.observation.embodimentId };
      this.open.set(key, b);
    }
    if (t.step !== b.state.length / STATE_DIM) {
      throw new ArgumentError('VLA_ARGUMENT', `episode recorder: step ${t.step} of ${key} arrived after ${b.state.length / STATE_DIM} recorded steps`);
    }
    if ((t.progress === undefined) !== (b.progress === null)) {
      throw new ArgumentError('VLA_ARGUMENT', `episode recorder: step ${t.step} of ${key} ${t.progress === undefined ? 'lacks' : 'has'} a task progress value and earlier steps did not agree`);
    }
    b.state.push(...t.observation.state);
    b.action.push(...t.action);
    if (b.progress) b.progress.push(t.progress!);
    if (b.frames) {
      const frame = t.observation.image;
      if (!frame || frame.data.length !== this.frameBytes) {
        throw new ArgumentError('VLA_ARGUMENT', `episode recorder: step ${t.step} of ${key} came without its ${this.image!.width}x${this.image!.height} frame`);
      }
      if (b.frames.length < (t.step + 1) * this.frameBytes) {
        const grown = new Uint8Array(Math.max(b.frames.length * 2, (t.step + 1) * this.frameBytes));
        grown.set(b.frames);
        b.frames = grown;
      }
      b.frames.set(frame.data, t.step * this.frameBytes);
    }
  };

  /** The finished episode `r` (its transitions were recorded); forgets it. */
  finish(r: EpisodeResult): DemoEpisode {
    const key = episodeKey(r);
    const b = this.open.get(key);
    if (!b) throw new ArgumentError('VLA_ARGUMENT', `episode recorder: episode ${key} ended without recorded steps`);
    this.open.delete(key);
    const steps = b.state.length / STATE_DIM;
    if (b.action.length !== steps * ACTION_DIM) {
      throw new ArgumentError('VLA_ARGUMENT', `episode recorder: episode ${key} recorded ${steps} states but ${b.action.length / ACTION_DIM} actions`);
    }
    return {
      task: r.task,
      instruction: b.instruction || getTask(r.task).instruction,
      episodeIndex: r.episodeIndex,
      configuration: r.configuration,
      seed: r.seed,
      embodimentId: b.embodimentId,
      success: r.outcome.success,
      stageSuccess: r.outcome.stages.map((s) => s.success),
      state: Float32Array.from(b.state),
      action: Float32Array.from(b.action),
      image: b.frames ? b.frames.slice(0, steps * this.frameBytes) : null,
      ...(b.progress ? { progress: Float32Array.from(b.progress), finalProgress: r.finalProgress ?? null } : {}),
    };
  }
}
