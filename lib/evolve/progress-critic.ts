/**
 * The pairwise progress critic of EVOLVE-VLA (methods digest section 3): given two frames of one
 * episode (before = earlier, after = later) and the instruction, it answers c in [-100, 100], how
 * far `after` advanced the task over `before` (negative: it went backwards). ProgressEstimator
 * turns these answers into an episode's done signal and reward.
 *
 * It is the native transformer core with the progress head (config head 'progress', frames 2):
 * the backbone expert alone over [frame 0 patches | frame 1 patches | instruction tokens], mean
 * pooling of the patch rows of the last layer, RMSNorm, a linear score z, c = 100 tanh(z).
 * Training minimizes sum_b w_b ((c_b - y_b) / 100)^2 / sum_b w_b with AdamW; labels y come from
 * the simulator's task progress (taskProgress) of the two frames.
 *
 * @example
 * ```ts
 * import { ProgressCritic, Tokenizer } from 'vla-ttt';
 * const vocabulary = Tokenizer.fromTexts(instructions).vocabulary;
 * const critic = ProgressCritic.create({ preset: 'critic-small', vocabulary, seed: 1 });
 * const batch = critic.pack([{ before: frames[0], after: frames[16], instruction: 'put the carrot on the plate' }]);
 * critic.trainStep(batch, [taskProgress(s16, s0) - taskProgress(s0, s0)], { lr: 3e-4 });
 * const [c] = await critic.scoreAsync(batch);               // in [-100, 100]
 * critic.save('critic.safetensors', { trained_on: 'demos/base' });
 * ```
 */
import { ArgumentError, RangeValueError, ShapeError, UnsupportedError } from '../errors.js';
import { presetConfig, type CriticPresetName, type ModelConfig } from '../model/config.js';
import { callNative as call, callNativeAsync as callAsync, checkpointMetadata, checkpointWeights, tokenizerFromMetadata } from '../model/model-io.js';
import type { AdamOptions, OptimizerState } from '../model/policy.js';
import { Tokenizer } from '../model/tokenizer.js';
import { checkCriticPair, checkFinite } from '../model/validate.js';
import type { NativeAdamOptions, NativeCriticObservations, NativePolicyInstance } from '../native/addon-types.js';
import { addon } from '../native/loader.js';

/** Two frames of one episode and its instruction; frames are [S, S, 3] RGB uint8, row 0 at the top. */
export interface CriticPair {
  before: Uint8Array;
  after: Uint8Array;
  instruction: string;
}

/** Pairs packed for the native core (ProgressCritic.pack). Reusable across calls. */
export interface CriticBatch {
  B: number;
  /** [B, 2, S, S, 3]: each sample's before frame, then its after frame. */
  images: Uint8Array;
  /** [B, L] instruction token ids, 0 = padding. */
  text: Int32Array;
}

export interface CriticStepOptions extends AdamOptions {
  /** Clip the gradient's global norm (0: no clipping; default 1). */
  maxGradNorm?: number;
  /** Per-sample loss weights [B]: finite, >= 0, not all 0 (default: all 1). */
  weights?: ArrayLike<number>;
}

export interface CriticStepReport {
  /** The weighted loss sum_b w_b ((c_b - y_b) / 100)^2 / sum_b w_b, before the step. */
  loss: number;
  /** The gradient's global norm, before clipping. */
  gradNorm: number;
  clipped: boolean;
  /** ((c_b - y_b) / 100)^2 per sample, unweighted, before the step. */
  perSample: Float64Array;
  /** The optimizer's 1-based step count after this step. */
  step: number;
}

export interface CriticCreateOptions {
  /** Default 'critic-small'. */
  preset?: CriticPresetName;
  /** Fields that override the preset (head must stay 'progress' and frames 2). */
  config?: Partial<ModelConfig>;
  /** The instruction vocabulary in id order, starting with '<pad>', '<unk>' (Tokenizer.vocabulary). */
  vocabulary: readonly string[];
  seed?: number | bigint;
  /** float64 is the reference used by gradient checks. */
  dtype?: 'float32' | 'float64';
}

/** A critic's config: head 'progress' with two frames (before, after). */
function checkCriticConfig(config: ModelConfig, where: string): void {
  if (config.head !== 'progress') {
    throw new ArgumentError('VLA_ARGUMENT', `${where}: this is a policy (head '${config.head ?? 'policy'}'), not a progress critic; use Policy (Policy.create / Policy.load)`);
  }
  if (config.frames !== 2) {
    throw new UnsupportedError('VLA_UNSUPPORTED', `${where}: frames = ${String(config.frames ?? 1)}; ProgressCritic compares two frames (frames = 2)`);
  }
}

export class ProgressCritic {
  /** The tokenizer saved with the weights. */
  readonly tokenizer: Tokenizer;
  /** Metadata read from the checkpoint (empty for a new critic). */
  readonly metadata: Record<string, string>;
  private readonly native: NativePolicyInstance;
  private readonly cfg: ModelConfig;

  private constructor(native: NativePolicyInstance, tokenizer: Tokenizer, metadata: Record<string, string>) {
    this.native = native;
    this.cfg = JSON.parse(native.config()) as ModelConfig;
    checkCriticConfig(this.cfg, 'ProgressCritic');
    this.tokenizer = tokenizer;
    this.metadata = metadata;
    if (tokenizer.size !== this.cfg.vocab_size) {
      throw new ArgumentError('VLA_ARGUMENT', `ProgressCritic: the vocabulary has ${tokenizer.size} words but the model's vocab_size is ${this.cfg.vocab_size}`);
    }
  }

  /** A critic with seeded random weights. */
  static create(opts: CriticCreateOptions): ProgressCritic {
    if (typeof opts !== 'object' || opts === null) {
      throw new ArgumentError('VLA_ARGUMENT', 'ProgressCritic.create: options must be an object { vocabulary, preset?, config?, seed?, dtype? }');
    }
    if (!Array.isArray(opts.vocabulary) || !opts.vocabulary.every((w) => typeof w === 'string')) {
      throw new ArgumentError('VLA_ARGUMENT', "ProgressCritic.create: 'vocabulary' must be an array of words in id order (Tokenizer.fromTexts(texts).vocabulary)");
    }
    const tokenizer = new Tokenizer(opts.vocabulary);
    const preset = opts.preset ?? 'critic-small';
    if (preset !== 'critic-tiny' && preset !== 'critic-small') {
      throw new ArgumentError('VLA_ARGUMENT', `ProgressCritic.create: preset '${String(preset)}' is not a critic preset ('critic-tiny', 'critic-small')`);
    }
    const config = presetConfig(preset, tokenizer.size, { ...opts.config, vocab_size: tokenizer.size });
    checkCriticConfig(config, 'ProgressCritic.create');
    const Native = addon().NativePolicy;
    const native = call(() => new Native({ config: JSON.stringify(config), seed: opts.seed ?? 0, dtype: opts.dtype ?? 'float32' }));
    return new ProgressCritic(native, tokenizer, {});
  }

  /** Loads a checkpoint written by save(); a policy checkpoint is refused (use Policy.load). */
  static load(path: string): ProgressCritic {
    const { policy, metadata } = call(() => addon().NativePolicy.load(path));
    checkCriticConfig(JSON.parse(policy.config()) as ModelConfig, `ProgressCritic.load(${path})`);
    return new ProgressCritic(policy, tokenizerFromMetadata(metadata, path), metadata);
  }

  /**
   * Saves weights (float32, or float16 for shipping; loading widens them back), config,
   * vocabulary and `metadata` atomically (temp file + rename). The keys 'vocab', 'format',
   * 'format_version' and 'config' are reserved.
   */
  save(path: string, metadata: Record<string, string> = {}, options: { weights?: 'float32' | 'float16' } = {}): void {
    const meta = checkpointMetadata(metadata, this.tokenizer, 'ProgressCritic.save');
    const weights = checkpointWeights(options, 'ProgressCritic.save');
    call(() => this.native.save(path, meta, weights));
  }

  /** An independent copy (same config, vocabulary, weights and metadata; fresh optimizer state). */
  clone(): ProgressCritic {
    const Native = addon().NativePolicy;
    const native = call(() => new Native({ config: JSON.stringify(this.cfg), seed: 0, dtype: this.dtype }));
    const copy = new ProgressCritic(native, this.tokenizer, { ...this.metadata });
    copy.setParams(this.getParams());
    return copy;
  }

  /** A copy of the configuration (head 'progress', frames 2). */
  get config(): ModelConfig {
    return structuredClone(this.cfg);
  }

  /** S: frames are S x S RGB. */
  get imageSize(): number {
    return this.cfg.image_size;
  }

  /** Number of parameters (elements of the flat buffer, with alignment padding). */
  get numParams(): number {
    return this.native.numParams();
  }

  get dtype(): 'float32' | 'float64' {
    return this.native.dtype();
  }

  /**
   * Packs pairs for the native core: checks every frame's size first (a bad pair leaves `reuse`
   * as it was), tokenizes the instructions as Policy does. Pass the result back as `reuse` to
   * fill the same buffers.
   */
  pack(pairs: readonly CriticPair[], reuse?: CriticBatch): CriticBatch {
    if (!Array.isArray(pairs)) throw new ArgumentError('VLA_ARGUMENT', 'pack: pairs must be an array of { before, after, instruction }');
    const B = pairs.length;
    if (B === 0) throw new ArgumentError('VLA_ARGUMENT', 'pack: no pairs (the batch is empty)');
    const S = this.cfg.image_size;
    const L = this.cfg.max_text_len;
    const frame = S * S * 3;
    pairs.forEach((p, b) => checkCriticPair(p, S, `pack: pair ${b}`));
    const fits = reuse !== undefined && reuse.B === B && reuse.images.length === B * 2 * frame && reuse.text.length === B * L;
    const out: CriticBatch = fits ? reuse : { B, images: new Uint8Array(B * 2 * frame), text: new Int32Array(B * L) };
    pairs.forEach((p, b) => {
      out.images.set(p.before, 2 * b * frame);
      out.images.set(p.after, (2 * b + 1) * frame);
      this.tokenizer.encode(p.instruction, L, out.text.subarray(b * L, (b + 1) * L));
    });
    return out;
  }

  /** c [B] in [-100, 100]: how far each pair's `after` frame advanced the task over `before`. */
  score(pairs: readonly CriticPair[] | CriticBatch): Float64Array {
    const obs = this.observations(pairs, 'score');
    return Float64Array.from(call(() => this.native.progress(obs)));
  }

  /** score() on a worker thread: the event loop keeps running. */
  async scoreAsync(pairs: readonly CriticPair[] | CriticBatch): Promise<Float64Array> {
    const obs = this.observations(pairs, 'scoreAsync');
    return Float64Array.from(await callAsync(() => this.native.progressAsync(obs)));
  }

  /**
   * One AdamW step on sum_b w_b ((c_b - y_b) / 100)^2 / sum_b w_b over every parameter, with
   * targets y [B] in [-100, 100] and optional weights. Defaults: lr 3e-4, weightDecay 0.01,
   * maxGradNorm 1. A non-finite gradient fails before any parameter changes.
   */
  trainStep(batch: CriticBatch, targets: ArrayLike<number>, options: CriticStepOptions = {}): CriticStepReport {
    const { obs, y, w, adam } = this.stepArgs(batch, targets, options, 'trainStep');
    return call(() => this.native.progressStep(obs, y, w, adam));
  }

  /** trainStep() on a worker thread. The batch must not change until it settles. */
  async trainStepAsync(batch: CriticBatch, targets: ArrayLike<number>, options: CriticStepOptions = {}): Promise<CriticStepReport> {
    const { obs, y, w, adam } = this.stepArgs(batch, targets, options, 'trainStepAsync');
    return callAsync(() => this.native.progressStepAsync(obs, y, w, adam));
  }

  /** A copy of every parameter (flat, in layout order). */
  getParams(): Float32Array | Float64Array {
    return call(() => this.native.getParams());
  }

  setParams(params: Float32Array | Float64Array): void {
    call(() => this.native.setParams(params));
  }

  /** AdamW's moments and step count (copies), to save with a checkpoint for resuming. */
  getOptimizerState(): OptimizerState {
    return call(() => this.native.getOptimizerState());
  }

  setOptimizerState(state: OptimizerState): void {
    call(() => this.native.setOptimizerState(state));
  }

  private observations(pairs: readonly CriticPair[] | CriticBatch, where: string): NativeCriticObservations {
    if (Array.isArray(pairs)) return this.toNative(this.pack(pairs as readonly CriticPair[]), where);
    return this.toNative(pairs as CriticBatch, where);
  }

  /** The native layer checks the arrays' types and sizes; this catches what is not a batch at all. */
  private toNative(batch: CriticBatch, where: string): NativeCriticObservations {
    if (typeof batch !== 'object' || batch === null) {
      throw new ArgumentError('VLA_ARGUMENT', `${where}: expected pairs (an array) or a CriticBatch { B, images, text }, got ${batch === null ? 'null' : typeof batch}`);
    }
    if (typeof batch.B !== 'number' || !Number.isInteger(batch.B) || batch.B < 1) {
      throw new RangeValueError('VLA_VALUE', `${where}: batch.B = ${String(batch.B)} is not a positive integer (the number of pairs)`);
    }
    return { batch: batch.B, images: batch.images, text: batch.text };
  }

  private stepArgs(batch: CriticBatch, targets: ArrayLike<number>, options: CriticStepOptions, where: string) {
    const obs = this.toNative(batch, where);
    const B = obs.batch;
    const FloatArray = this.dtype === 'float64' ? Float64Array : Float32Array;
    const y = new FloatArray(this.checkedValues(targets, B, `${where}: targets`, -100, 100));
    let w: Float32Array | Float64Array | null = null;
    if (options.weights !== undefined) {
      const weights = this.checkedValues(options.weights, B, `${where}: weights`, 0, Infinity);
      if (!weights.some((v) => v > 0)) throw new RangeValueError('VLA_VALUE', `${where}: weights are all 0 (the weighted mean is undefined)`);
      w = new FloatArray(weights);
    }
    const adam: NativeAdamOptions = {};
    for (const k of ['lr', 'beta1', 'beta2', 'eps', 'weightDecay', 'maxGradNorm'] as const) {
      const v = options[k];
      if (v !== undefined) adam[k] = v;
    }
    return { obs, y, w, adam };
  }

  /** `values` as numbers: B of them, finite, within [lo, hi]; errors name `subject[i]`. */
  private checkedValues(values: ArrayLike<number>, B: number, subject: string, lo: number, hi: number): number[] {
    if (typeof values !== 'object' || values === null || typeof values.length !== 'number') {
      throw new ArgumentError('VLA_ARGUMENT', `${subject} must be an array of ${B} numbers`);
    }
    if (values.length !== B) throw new ShapeError('VLA_SHAPE', `${subject} has ${values.length} values, expected one per pair (B = ${B})`);
    checkFinite(values, subject);
    const out = Array.from(values);
    out.forEach((v, i) => {
      if (v < lo || v > hi) throw new RangeValueError('VLA_VALUE', `${subject}[${i}] = ${v} is not in [${lo}, ${hi === Infinity ? 'Infinity)' : `${hi}]`}`);
    });
    return out;
  }
}
