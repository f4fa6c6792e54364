/**
 * Demonstrations in memory for training: every step of every successful episode of one or more
 * datasets (docs/dataset.md), and batches sampled from them with seeded draws.
 *
 * A training sample is the observation at step t of an episode and the action chunk
 * a[t .. t+H-1]; past the episode's end the chunk repeats its last action (the robot holds still).
 * States and actions are normalized (train/normalization.ts); images are augmented when asked.
 */
import { ArgumentError, RangeValueError } from '../errors.js';
import type { ObservationBatch } from '../model/policy.js';
import type { Tokenizer } from '../model/tokenizer.js';
import { DatasetReader } from '../tabletop/dataset.js';
import { Rng } from '../util/random.js';
import { augmentImage, type AugmentOptions } from './augment.js';
import { Normalization } from './normalization.js';

interface DemoEpisode {
  task: string;
  instruction: string;
  embodiment: number;
  steps: number;
  images: Uint8Array; // [T, S, S, 3]
  states: Float32Array; // [T, 4]
  actions: Float32Array; // [T, 7]
}

export interface SampledBatch {
  observations: ObservationBatch & { images: Uint8Array };
  /** Normalized action chunks [B * H * A]. */
  actions: Float32Array;
}

export const STATE_DIM = 4;
export const ACTION_DIM = 7;

export class DemoSet {
  private constructor(
    readonly episodes: DemoEpisode[],
    readonly imageSize: number,
    /** Flat index: sample i -> (episode, step). */
    private readonly index: Int32Array,
  ) {}

  /** Loads the successful episodes of every dataset folder (all must have images of one size). */
  static async load(dirs: readonly string[], options: { maxEpisodesPerTask?: number } = {}): Promise<DemoSet> {
    if (dirs.length === 0) throw new ArgumentError('VLA_ARGUMENT', 'DemoSet.load: no dataset folders given');
    const episodes: DemoEpisode[] = [];
    const perTask = new Map<string, number>();
    let size = -1;
    for (const dir of dirs) {
      const reader = await DatasetReader.open(dir);
      const img = reader.manifest.image;
      if (!img) throw new ArgumentError('VLA_ARGUMENT', `${dir}: the dataset has no images (collect it with the renderer)`);
      if (img.width !== img.height) throw new ArgumentError('VLA_ARGUMENT', `${dir}: images are ${img.width}x${img.height}; the policy takes square images`);
      if (size >= 0 && img.width !== size) throw new ArgumentError('VLA_ARGUMENT', `${dir}: images are ${img.width}px but another dataset has ${size}px`);
      size = img.width;
      for (let i = 0; i < reader.count; i++) {
        const e = await reader.readEpisode(i);
        if (!e.header.success || e.header.steps === 0) continue;
        const n = perTask.get(e.header.task) ?? 0;
        if (options.maxEpisodesPerTask !== undefined && n >= options.maxEpisodesPerTask) continue;
        perTask.set(e.header.task, n + 1);
        if (!e.image) throw new RangeValueError('VLA_VALUE', `${dir}: episode ${i} has no frames`);
        episodes.push({
          task: e.header.task,
          instruction: e.header.instruction,
          embodiment: e.header.embodimentId,
          steps: e.header.steps,
          images: e.image,
          states: e.state,
          actions: e.action,
        });
      }
    }
    if (episodes.length === 0) throw new RangeValueError('VLA_VALUE', `no successful episodes in ${dirs.join(', ')}`);
    const total = episodes.reduce((s, e) => s + e.steps, 0);
    const index = new Int32Array(total * 2);
    let k = 0;
    episodes.forEach((e, ei) => {
      for (let t = 0; t < e.steps; t++) {
        index[k++] = ei;
        index[k++] = t;
      }
    });
    return new DemoSet(episodes, size, index);
  }

  get samples(): number {
    return this.index.length / 2;
  }

  /** Episodes per task. */
  tasks(): Map<string, number> {
    const m = new Map<string, number>();
    for (const e of this.episodes) m.set(e.task, (m.get(e.task) ?? 0) + 1);
    return m;
  }

  instructions(): string[] {
    return [...new Set(this.episodes.map((e) => e.instruction))];
  }

  /** Normalization statistics of every state and action of the set. */
  fitNormalization(): Normalization {
    const states = new Float32Array(this.samples * STATE_DIM);
    const actions = new Float32Array(this.samples * ACTION_DIM);
    let o = 0;
    for (const e of this.episodes) {
      states.set(e.states, o * STATE_DIM);
      actions.set(e.actions, o * ACTION_DIM);
      o += e.steps;
    }
    return Normalization.fit(states, actions, STATE_DIM, ACTION_DIM);
  }

  /**
   * A batch of B samples drawn uniformly (with replacement) by `rng`, normalized, with chunks of
   * `horizon` actions; `reuse` (a previous batch of the same size) is refilled in place.
   */
  sample(
    B: number,
    rng: Rng,
    opts: { horizon: number; textLength: number; tokenizer: Tokenizer; normalization: Normalization; augment: AugmentOptions | null },
    reuse?: SampledBatch,
  ): SampledBatch {
    const S = this.imageSize;
    const frame = S * S * 3;
    const H = opts.horizon;
    const L = opts.textLength;
    const out: SampledBatch =
      reuse && reuse.observations.batch === B
        ? reuse
        : {
            observations: { batch: B, images: new Uint8Array(B * frame), text: new Int32Array(B * L), state: new Float32Array(B * STATE_DIM), embodiment: new Int32Array(B) },
            actions: new Float32Array(B * H * ACTION_DIM),
          };
    const obs = out.observations;
    const state = obs.state as Float32Array;
    for (let b = 0; b < B; b++) {
      const i = rng.int(this.samples);
      const e = this.episodes[this.index[2 * i]!]!;
      const t = this.index[2 * i + 1]!;
      const src = e.images.subarray(t * frame, (t + 1) * frame);
      const dst = obs.images.subarray(b * frame, (b + 1) * frame);
      if (opts.augment) augmentImage(src, dst, S, rng, opts.augment);
      else dst.set(src);
      opts.tokenizer.encode(e.instruction, L, obs.text.subarray(b * L, (b + 1) * L));
      state.set(e.states.subarray(t * STATE_DIM, (t + 1) * STATE_DIM), b * STATE_DIM);
      obs.embodiment[b] = e.embodiment;
      for (let k = 0; k < H; k++) {
        const tk = Math.min(t + k, e.steps - 1);
        out.actions.set(e.actions.subarray(tk * ACTION_DIM, (tk + 1) * ACTION_DIM), (b * H + k) * ACTION_DIM);
      }
    }
    opts.normalization.normalizeState(state);
    opts.normalization.normalizeAction(out.actions);
    return out;
  }
}
