/**
 * The test-time training buffer: a bounded ring of the robot's own trajectories in the target
 * world, successes and failures alike (TTT-VLA keeps both; the state-grounding loss needs no
 * reward). When full, adding a trajectory evicts the oldest. Prompt steps draw batches of
 * transitions from it uniformly.
 *
 * A transition is the observation at step t of a trajectory: the frame, the instruction, the
 * embodiment and the robot state [ee x, ee y, ee z, gripper opening], which is the state
 * expert's target. Saved and loaded as a demonstration dataset folder (docs/dataset.md), so
 * `vla-ttt collect-demos` output and a saved buffer are interchangeable.
 *
 * @example
 * ```ts
 * const buffer = new TrajectoryBuffer({ capacity: 800, imageSize: { width: 64, height: 64 } });
 * buffer.add(recorder.finish(result));             // from a rollout (EpisodeRecorder)
 * const batch = buffer.sample(128, rng, { policy, normalization });
 * await buffer.save('buffers/camera', { shift: 'camera', shiftSeed: 0, seed: 1 });
 * ```
 */
import { ArgumentError, RangeValueError, ShapeError } from '../errors.js';
import type { ObservationBatch, Policy } from '../model/policy.js';
import { checkFinite } from '../model/validate.js';
import { ACTION_DIM } from '../tabletop/actions.js';
import { DatasetReader, DatasetWriter, STATE_DIM, type DemoEpisode } from '../tabletop/dataset.js';
import type { ImageSize } from '../tabletop/observation-images.js';
import type { Normalization } from '../train/normalization.js';
import type { Rng } from '../util/random.js';

export const DEFAULT_BUFFER_TRAJECTORIES = 800;

export interface BufferSampleOptions {
  /** The policy the batch is for (its text length and tokenizer). */
  policy: Pick<Policy, 'config' | 'tokenizer'>;
  /** Normalizes the state targets as in training. */
  normalization: Normalization;
  /** Only transitions of these tasks (per-task adaptation); default all. */
  tasks?: readonly string[];
}

export class TrajectoryBuffer {
  readonly capacity: number;
  readonly imageSize: ImageSize;
  private readonly ring: DemoEpisode[] = [];
  private next = 0;
  /** Added since creation (evicted ones included). */
  private added = 0;
  private index: { key: string; entries: Int32Array } | null = null;

  constructor(options: { capacity?: number; imageSize: ImageSize }) {
    const capacity = options.capacity ?? DEFAULT_BUFFER_TRAJECTORIES;
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new ArgumentError('VLA_ARGUMENT', `TrajectoryBuffer: capacity must be a positive integer, got ${String(capacity)}`);
    const { width, height } = options.imageSize;
    if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width < 1 || height < 1) {
      throw new ArgumentError('VLA_ARGUMENT', `TrajectoryBuffer: image size must be positive integers, got ${String(width)}x${String(height)}`);
    }
    this.capacity = capacity;
    this.imageSize = { width, height };
  }

  /** Trajectories held. */
  get size(): number {
    return this.ring.length;
  }

  /** Transitions held (steps over all trajectories). */
  get transitions(): number {
    return this.ring.reduce((s, e) => s + e.state.length / STATE_DIM, 0);
  }

  /** Trajectories added since creation, evicted ones included. */
  get totalAdded(): number {
    return this.added;
  }

  /** The trajectories held, oldest first. */
  trajectories(): DemoEpisode[] {
    return this.ring.length < this.capacity ? [...this.ring] : [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
  }

  /** Adds a trajectory (with its frames); evicts the oldest when full. */
  add(ep: DemoEpisode): void {
    const id = `TrajectoryBuffer.add: ${ep.task}#${ep.episodeIndex}`;
    const steps = ep.state.length / STATE_DIM;
    const frame = this.imageSize.width * this.imageSize.height * 3;
    if (!Number.isInteger(steps) || steps < 1) throw new ShapeError('VLA_SHAPE', `${id} has ${ep.state.length} state values, not a positive multiple of ${STATE_DIM}`);
    if (!ep.image || ep.image.length !== steps * frame) {
      // No frames at all is a missing argument; frames of another size, a shape mismatch.
      const ErrorClass = ep.image ? ShapeError : ArgumentError;
      throw new ErrorClass(ep.image ? 'VLA_SHAPE' : 'VLA_ARGUMENT', `${id} needs ${steps} frames of ${this.imageSize.width}x${this.imageSize.height} RGB (${steps * frame} bytes), got ${ep.image ? ep.image.length : 'none'}`);
    }
    if (ep.action.length !== steps * ACTION_DIM) throw new ShapeError('VLA_SHAPE', `${id} has ${ep.action.length} action values, expected ${steps} steps * ${ACTION_DIM} = ${steps * ACTION_DIM}`);
    checkFinite(ep.state, `${id} state`);
    checkFinite(ep.action, `${id} action`);
    // Ids become Int32 in sampled batches: a fraction or a negative would be silently wrong there.
    if (!Number.isSafeInteger(ep.embodimentId) || ep.embodimentId < 0) throw new RangeValueError('VLA_VALUE', `${id} embodimentId must be a non-negative integer, got ${String(ep.embodimentId)}`);
    if (this.ring.length < this.capacity) this.ring.push(ep);
    else this.ring[this.next] = ep;
    this.next = (this.next + 1) % this.capacity;
    this.added++;
    this.index = null;
  }

  /** (trajectory, step) pairs of the held transitions, of `tasks` when given. */
  private entries(tasks?: readonly string[]): Int32Array {
    const key = tasks ? [...tasks].sort().join(',') : '*';
    if (this.index && this.index.key === key) return this.index.entries;
    const wanted = tasks ? new Set(tasks) : null;
    const pairs: number[] = [];
    this.ring.forEach((e, i) => {
      if (wanted && !wanted.has(e.task)) return;
      const steps = e.state.length / STATE_DIM;
      for (let t = 0; t < steps; t++) pairs.push(i, t);
    });
    this.index = { key, entries: Int32Array.from(pairs) };
    return this.index.entries;
  }

  /**
   * B transitions drawn uniformly with replacement by `rng`, packed for a prompt step: images,
   * tokenized instructions, embodiments and the normalized states (the state expert's targets).
   * `reuse` (a previous batch of the same size) is refilled in place.
   */
  sample(B: number, rng: Rng, options: BufferSampleOptions, reuse?: ObservationBatch): ObservationBatch {
    if (!Number.isSafeInteger(B) || B < 1) throw new ArgumentError('VLA_ARGUMENT', `TrajectoryBuffer.sample: batch must be a positive integer, got ${String(B)}`);
    if (typeof (rng as Partial<Rng> | null)?.int !== 'function') throw new ArgumentError('VLA_ARGUMENT', 'TrajectoryBuffer.sample: rng must be an Rng (the seeded generator of util/random)');
    this.checkImageSize(options, 'sample');
    const entries = this.entries(options.tasks);
    if (entries.length === 0) {
      throw new RangeValueError('VLA_VALUE', `TrajectoryBuffer.sample: no transitions${options.tasks ? ` of task(s) ${options.tasks.join(', ')}` : ''} in the buffer`);
    }
    const n = entries.length / 2;
    const picks = new Int32Array(2 * B);
    for (let b = 0; b < B; b++) {
      const i = rng.int(n);
      picks[2 * b] = entries[2 * i]!;
      picks[2 * b + 1] = entries[2 * i + 1]!;
    }
    return this.fill(picks, options, reuse);
  }

  /**
   * Every held transition as (trajectory, step) pairs in the order they happened: trajectories
   * oldest first, steps in time order (the stream an online learner sees), of `tasks` if given.
   * Pass them (or a slice) to `pack`; they stay valid until the next `add`.
   */
  inOrder(tasks?: readonly string[]): Int32Array {
    const pairs: number[] = [];
    const n = this.ring.length;
    // Once the ring is full, the oldest trajectory sits where the next one will be written.
    const oldest = n < this.capacity ? 0 : this.next;
    for (let k = 0; k < n; k++) {
      const i = (oldest + k) % n;
      const e = this.ring[i]!;
      if (tasks && !tasks.includes(e.task)) continue;
      const steps = e.state.length / STATE_DIM;
      for (let t = 0; t < steps; t++) pairs.push(i, t);
    }
    return Int32Array.from(pairs);
  }

  /** Packs the transitions `pairs` ([trajectory, step] flattened, as `inOrder` gives them) for a prompt step. */
  pack(pairs: Int32Array, options: BufferSampleOptions, reuse?: ObservationBatch): ObservationBatch {
    const B = pairs.length / 2;
    if (!Number.isSafeInteger(B) || B < 1) throw new ArgumentError('VLA_ARGUMENT', `TrajectoryBuffer.pack: need at least one (trajectory, step) pair, got ${pairs.length} values`);
    this.checkImageSize(options, 'pack');
    return this.fill(pairs, options, reuse);
  }

  private checkImageSize(options: BufferSampleOptions, caller: string): void {
    const c = options.policy.config;
    if (c.image_size !== this.imageSize.width || c.image_size !== this.imageSize.height) {
      throw new ArgumentError('VLA_ARGUMENT', `TrajectoryBuffer.${caller}: the buffer holds ${this.imageSize.width}x${this.imageSize.height} frames but the policy takes ${c.image_size}x${c.image_size}`);
    }
  }

  private fill(pairs: Int32Array, options: BufferSampleOptions, reuse?: ObservationBatch): ObservationBatch {
    const B = pairs.length / 2;
    const c = options.policy.config;
    const source = this.ring;
    const frame = this.imageSize.width * this.imageSize.height * 3;
    const L = c.max_text_len;
    const out: ObservationBatch =
      reuse && reuse.batch === B && reuse.images && reuse.images.length === B * frame
        ? reuse
        : { batch: B, images: new Uint8Array(B * frame), text: new Int32Array(B * L), state: new Float32Array(B * STATE_DIM), embodiment: new Int32Array(B) };
    const images = out.images!;
    const state = out.state;
    for (let b = 0; b < B; b++) {
      const e = source[pairs[2 * b]!];
      const t = pairs[2 * b + 1]!;
      if (!e || !Number.isInteger(t) || t < 0 || (t + 1) * STATE_DIM > e.state.length) {
        throw new RangeValueError('VLA_VALUE', `TrajectoryBuffer.pack: pair ${b} (trajectory ${pairs[2 * b]}, step ${t}) is not a held transition`);
      }
      images.set(e.image!.subarray(t * frame, (t + 1) * frame), b * frame);
      options.policy.tokenizer.encode(e.instruction, L, out.text.subarray(b * L, (b + 1) * L));
      for (let k = 0; k < STATE_DIM; k++) state[b * STATE_DIM + k] = e.state[t * STATE_DIM + k]!;
      out.embodiment[b] = e.embodimentId;
    }
    options.normalization.normalizeState(state);
    return out;
  }

  /** Writes the held trajectories as a dataset folder (docs/dataset.md); `dir` must be new or empty. */
  async save(dir: string, meta: { shift: string; shiftSeed: number; seed: number; controlHz?: number }): Promise<void> {
    const eps = this.trajectories();
    const writer = await DatasetWriter.create(dir, {
      tasks: [...new Set(eps.map((e) => e.task))],
      shift: meta.shift,
      shiftSeed: meta.shiftSeed,
      seed: meta.seed,
      embodimentId: eps[0]?.embodimentId ?? 0,
      controlHz: meta.controlHz ?? 5,
      image: { ...this.imageSize },
    });
    for (const e of eps) await writer.append(e);
    await writer.close();
  }

  /** Loads a saved buffer (or any dataset folder with frames), keeping the newest `capacity` trajectories. */
  static async load(dir: string, options: { capacity?: number } = {}): Promise<TrajectoryBuffer> {
    const reader = await DatasetReader.open(dir);
    const image = reader.manifest.image;
    if (!image) throw new ArgumentError('VLA_ARGUMENT', `${dir}: the dataset has no frames; a test-time buffer needs the camera images`);
    const buffer = new TrajectoryBuffer({ capacity: options.capacity ?? Math.max(DEFAULT_BUFFER_TRAJECTORIES, reader.count), imageSize: image });
    for (let i = 0; i < reader.count; i++) {
      const e = await reader.readEpisode(i);
      buffer.add({
        task: e.header.task,
        instruction: e.header.instruction,
        episodeIndex: e.header.episodeIndex,
        configuration: e.header.configuration,
        seed: e.header.seed,
        embodimentId: e.header.embodimentId,
        success: e.header.success,
        stageSuccess: e.header.stageSuccess,
        state: e.state,
        action: e.action,
        image: e.image,
      });
    }
    return buffer;
  }
}
