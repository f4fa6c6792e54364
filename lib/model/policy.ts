/**
 * The flow-matching policy with latent prompts: acting (batched action chunks), training steps,
 * test-time prompt steps, per-sample flow losses, and checkpoints. The computation is native
 * (native/model); this class packs observations, tokenizes instructions and keeps the tokenizer
 * with the weights.
 *
 * @example
 * ```ts
 * import { Policy } from 'vla-ttt';
 * const policy = Policy.load('models/tabletop-small.safetensors');
 * const chunks = await policy.actAsync([observation], { seed: 1 }); // observation from the tabletop env
 * const firstAction = chunks.action(0, 0);                          // Float32Array(7)
 * policy.promptStep(buffer.sample(128, rng), { lr: 1e-3, seed: 0, step: 0 });
 * policy.save('adapted.safetensors');
 * ```
 *
 * On a CUDA device (`device: 'cuda'`, docs/cuda.md): act, promptStep and trainStep (and their
 * async forms) run there; the weights move back for save / getParams / getPrompt by themselves.
 *
 * @example
 * ```ts
 * const policy = Policy.load('models/tabletop-small.safetensors', { device: 'cuda' }); // throws with the reason where CUDA is not usable
 * const chunks = await policy.actAsync([observation], { seed: 1 });                    // on the device
 * await policy.promptStepAsync(buffer.sample(128, rng), { lr: 1e-3, seed: 0, step: 0 }); // on the device
 * policy.save('adapted.safetensors');                                                  // the device's weights
 * policy.to('cpu');                                                                    // back to the CPU kernels
 * ```
 */
import { ArgumentError, RangeValueError, ShapeError, UnsupportedError } from '../errors.js';
import type {
  NativeFlowTargets,
  NativeObservations,
  NativeParamInfo,
  NativePolicyInstance,
  NativeStepResult,
  ParamGroupName,
} from '../native/addon-types.js';
import { addon } from '../native/loader.js';
import { presetConfig, type ModelConfig, type PresetName } from './config.js';
import { checkDevice, type Device } from './device.js';
import { callNative as call, callNativeAsync as callAsync, checkpointMetadata, checkpointWeights, tokenizerFromMetadata } from './model-io.js';
import { Tokenizer } from './tokenizer.js';
import { checkFinite, checkObservation } from './validate.js';

/** What the policy sees at one step (the tabletop environment's Observation fits). */
export interface PolicyObservation {
  image: { width: number; height: number; data: Uint8Array } | null;
  instruction: string;
  /** [ee x, ee y, ee z, gripper opening]. */
  state: ArrayLike<number>;
  embodimentId: number;
}

/** Observations packed for the native core; build with Policy.pack(). Reusable across calls. */
export type ObservationBatch = NativeObservations;

/** Action chunks [B, H, A] (row-major) with views by sample and step. */
export class ActionChunks {
  constructor(
    readonly data: Float32Array | Float64Array,
    readonly batch: number,
    readonly horizon: number,
    readonly actionDim: number,
  ) {}
  /** Sample b's chunk [H * A] (a view, no copy). */
  chunk(b: number): Float32Array | Float64Array {
    return this.data.subarray(b * this.horizon * this.actionDim, (b + 1) * this.horizon * this.actionDim);
  }
  /** Sample b's action at chunk step k [A] (a view). */
  action(b: number, k: number): Float32Array | Float64Array {
    const o = (b * this.horizon + k) * this.actionDim;
    return this.data.subarray(o, o + this.actionDim);
  }
}

export interface ActOptions {
  /** Seed of the starting noise x_1 (default 0). */
  seed?: number | bigint;
  /** The starting noise itself [B * H * A] (overrides seed). */
  noise?: Float32Array | Float64Array;
  /** Hide the prompt from the action expert, per sample [B] (ablations). */
  dropPrompt?: Uint8Array;
  /**
   * Receives the observation encodings [B * encodingSize] that acting computes anyway, for a
   * test-time training buffer (prompt steps on them skip the observation forward pass).
   */
  encodingsOut?: Float32Array | Float64Array;
}

export interface AdamOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** Clip the gradient's global norm (0: no clipping). */
  maxGradNorm?: number;
}

export interface TrainStepOptions extends AdamOptions {
  /** Seed and step select the flow-matching draws (noise, time, prompt drops): reproducible and resumable. */
  seed?: number | bigint;
  step?: number | bigint;
  /** Probability of dropping the prompt -> action-expert edge per sample (TTT-VLA's p1 / p2). */
  dropProbability?: number;
  /** lambda in L = L_action + lambda L_state. */
  stateWeight?: number;
  actionLoss?: boolean;
  stateLoss?: boolean;
  /** Parameter groups that train (default: all the model has). */
  groups?: ParamGroupName[];
}

export interface PromptStepOptions extends AdamOptions {
  seed?: number | bigint;
  step?: number | bigint;
}

export interface FlowStepOptions extends AdamOptions {
  groups?: ParamGroupName[];
  /** Let the action loss reach the prompt (needed when only the prompt trains). */
  actionToPrompt?: boolean;
}

export type StepReport = NativeStepResult;

/** AdamW state in the parameters' flat layout. */
export interface OptimizerState {
  m: Float32Array | Float64Array;
  v: Float32Array | Float64Array;
  step: number;
}

/** A training batch: observations plus ground-truth action chunks [B * H * A]. */
export interface TrainingBatch {
  observations: ObservationBatch;
  actions: Float32Array | Float64Array;
}

export interface CreateOptions {
  preset?: PresetName;
  /** Fields that override the preset. */
  config?: Partial<ModelConfig>;
  /** The instruction vocabulary (or the texts to build it from). */
  tokenizer: Tokenizer;
  seed?: number | bigint;
  /** float64 is the reference used by gradient checks. */
  dtype?: 'float32' | 'float64';
  /** Where act and the steps run (default 'cpu'); see Policy.to. */
  device?: Device;
}

export interface LoadOptions {
  /** Where act and the steps run (default 'cpu'); see Policy.to. */
  device?: Device;
}

/**
 * A progress critic's config (or checkpoint) is not a policy's; several frames per observation
 * are not packed by this API yet (one image per observation).
 */
function checkPolicyConfig(config: ModelConfig, where: string): void {
  if ((config.head ?? 'policy') !== 'policy') {
    throw new ArgumentError('VLA_ARGUMENT', `${where}: this is a progress critic (head '${String(config.head)}'), not a policy; use ProgressCritic (ProgressCritic.create / ProgressCritic.load)`);
  }
  if ((config.frames ?? 1) !== 1) {
    throw new UnsupportedError('VLA_UNSUPPORTED', `${where}: frames = ${String(config.frames)} is not supported by the TypeScript Policy API yet (one image per observation); use frames = 1`);
  }
}

export class Policy {
  readonly config: ModelConfig;
  readonly tokenizer: Tokenizer;
  /** Metadata read from the checkpoint (empty for a new policy). */
  readonly metadata: Readonly<Record<string, string>>;
  private readonly native: NativePolicyInstance;

  private constructor(native: NativePolicyInstance, tokenizer: Tokenizer, metadata: Record<string, string>) {
    this.native = native;
    this.config = JSON.parse(native.config()) as ModelConfig;
    checkPolicyConfig(this.config, 'Policy');
    this.tokenizer = tokenizer;
    this.metadata = metadata;
    if (tokenizer.size !== this.config.vocab_size) {
      throw new ArgumentError('VLA_ARGUMENT', `Policy: the tokenizer has ${tokenizer.size} words but the model's vocab_size is ${this.config.vocab_size}`);
    }
  }

  /** A policy with seeded random weights. */
  static create(opts: CreateOptions): Policy {
    if (typeof opts !== 'object' || opts === null) {
      throw new ArgumentError('VLA_ARGUMENT', 'Policy.create: options must be an object { tokenizer, preset?, config?, seed?, dtype? }');
    }
    if (!(opts.tokenizer instanceof Tokenizer)) {
      throw new ArgumentError('VLA_ARGUMENT', `Policy.create: 'tokenizer' must be a Tokenizer (the instruction vocabulary), got ${opts.tokenizer === undefined ? 'undefined' : typeof opts.tokenizer}`);
    }
    const config = presetConfig(opts.preset ?? 'small', opts.tokenizer.size, { ...opts.config, vocab_size: opts.tokenizer.size });
    checkPolicyConfig(config, 'Policy.create');
    const Native = addon().NativePolicy;
    const native = call(() => new Native({ config: JSON.stringify(config), seed: opts.seed ?? 0, dtype: opts.dtype ?? 'float32' }));
    return new Policy(native, opts.tokenizer, {}).place(opts.device ?? 'cpu', 'Policy.create');
  }

  /**
   * An independent copy (same config, tokenizer, weights, metadata and device; fresh optimizer
   * state), e.g. a shadow policy that adapts on native threads while this one keeps acting.
   */
  clone(): Policy {
    const Native = addon().NativePolicy;
    const native = call(() => new Native({ config: JSON.stringify(this.config), seed: 0, dtype: this.dtype }));
    const copy = new Policy(native, this.tokenizer, { ...this.metadata });
    copy.setParams(this.getParams());
    return copy.place(this.device, 'Policy.clone');
  }

  /** Loads a checkpoint written by save() (safetensors; see docs/weights.md). */
  static load(path: string, options: LoadOptions = {}): Policy {
    const { policy, metadata } = call(() => addon().NativePolicy.load(path));
    checkPolicyConfig(JSON.parse(policy.config()) as ModelConfig, `Policy.load(${path})`);
    return new Policy(policy, tokenizerFromMetadata(metadata, path), metadata).place(options.device ?? 'cpu', `Policy.load(${path})`);
  }

  /** Where act and the steps run now. */
  get device(): Device {
    return this.native.device();
  }

  /**
   * Moves the policy to `device` (in place; returns this, like torch's Module.to).
   *
   * On 'cuda', act, promptStep and trainStep (and their async forms) run on the device; the
   * device keeps its own AdamW state (fresh on every move; the prompt step and the training step
   * each have theirs, and a step reports its own optimizer's count). getParams, getPrompt, save
   * and clone copy the device's weights back first, and setParams / setPrompt reach the device
   * before its next call. The ops the device lacks (encode, observation encodings and
   * `encodingsOut`, predict, lossAndGrads, flowLoss, flowStep, getGrads, the optimizer state,
   * trainStep with `groups`, `actionLoss`, `stateLoss` or `actionToPrompt`) throw an
   * UnsupportedError naming the op: they run on the CPU, after `to('cpu')`.
   *
   * 'cuda' throws an UnsupportedError with the reason cudaStatus() gives where this build has no
   * CUDA backend or no CUDA device is usable, and for a float64 policy or a model whose
   * observation rows attend the prompt. Moving to 'cpu' copies the device's weights back and
   * drops the device state.
   *
   * @example
   * ```ts
   * const policy = Policy.load('models/tabletop-small.safetensors').to('cuda');
   * const chunks = policy.act(observations, { seed: 0 });   // sampled on the device
   * policy.to('cpu').encode(observations);                  // encodings are a CPU op
   * ```
   */
  to(device: Device): this {
    return this.place(device, 'Policy.to');
  }

  private place(device: Device, where: string): this {
    checkDevice(device, where);
    call(() => this.native.toDevice(device));
    return this;
  }

  /**
   * Saves weights, config, vocabulary and `metadata` atomically (temp file + rename). Weights are
   * float32 by default (exact); `{ weights: 'float16' }` halves the file for shipping (rounded to
   * nearest; load() widens them back to float32).
   *
   * @example
   * ```ts
   * policy.save('models/mine.safetensors', { trained_on: 'demos/base' }, { weights: 'float16' });
   * ```
   */
  save(path: string, metadata: Record<string, string> = {}, options: { weights?: 'float32' | 'float16' } = {}): void {
    const meta = checkpointMetadata(metadata, this.tokenizer, 'Policy.save');
    const weights = checkpointWeights(options, 'Policy.save');
    call(() => this.native.save(path, meta, weights));
  }

  get dtype(): 'float32' | 'float64' {
    return this.native.dtype();
  }

  /** Number of parameters (elements of the flat buffer, with alignment padding). */
  get numParams(): number {
    return this.native.numParams();
  }

  /**
   * Bytes this policy holds natively (parameters, gradients, AdamW moments, cached workspaces), as
   * reported to the JS engine after its last call; see reportedExternalMemory() for all policies.
   */
  get nativeBytes(): number {
    return this.native.nativeBytes();
  }

  layout(): NativeParamInfo[] {
    return this.native.layout();
  }

  /** A copy of every parameter (flat, in layout order). */
  getParams(): Float32Array | Float64Array {
    return call(() => this.native.getParams());
  }

  setParams(params: Float32Array | Float64Array): void {
    call(() => this.native.setParams(params));
  }

  /** Gradients of the last lossAndGrads / step call (flat, in layout order). */
  getGrads(): Float32Array | Float64Array {
    return call(() => this.native.getGrads());
  }

  /** The latent prompt block of `embodiment` [K * width] (a copy). */
  getPrompt(embodiment: number): Float32Array | Float64Array {
    const { offset, size } = this.promptBlock(embodiment, 'getPrompt');
    return this.getParams().slice(offset, offset + size);
  }

  /** Replaces the prompt block of `embodiment` (atomically with respect to act calls). */
  setPrompt(embodiment: number, values: ArrayLike<number>): void {
    const { offset, size } = this.promptBlock(embodiment, 'setPrompt');
    if (values.length !== size) throw new ShapeError('VLA_SHAPE', `setPrompt: ${values.length} values, expected K * width = ${size}`);
    checkFinite(values, 'setPrompt: values');
    const params = this.getParams();
    params.set(values, offset);
    this.setParams(params);
  }

  private promptBlock(embodiment: number, where: string): { offset: number; size: number } {
    const info = this.layout().find((p) => p.name === 'prompt');
    if (!info) throw new ArgumentError('VLA_ARGUMENT', `${where}: this policy has no latent prompt (a baseline config)`);
    if (!Number.isInteger(embodiment) || embodiment < 0 || embodiment >= this.config.num_embodiments) {
      throw new RangeValueError('VLA_VALUE', `${where}: embodiment ${embodiment} is not in [0, ${this.config.num_embodiments})`);
    }
    const size = this.config.num_prompt_tokens * this.config.backbone.width;
    return { offset: info.offset + embodiment * size, size };
  }

  /**
   * Packs observations for the native core. Pass the result back as `reuse` next time to fill the
   * same buffers (a control loop then allocates nothing per step).
   */
  pack(observations: readonly PolicyObservation[], reuse?: ObservationBatch): ObservationBatch {
    if (!Array.isArray(observations)) throw new ArgumentError('VLA_ARGUMENT', 'pack: observations must be an array');
    const B = observations.length;
    if (B === 0) throw new ArgumentError('VLA_ARGUMENT', 'pack: no observations');
    const c = this.config;
    // All of them first, so a bad one leaves a `reuse` batch as it was.
    observations.forEach((o, b) => checkObservation(o, c, `pack: observation ${b}`));
    const S = c.image_size;
    const L = c.max_text_len;
    const fits = reuse && reuse.batch === B;
    const FloatArray = this.dtype === 'float64' ? Float64Array : Float32Array;
    const out: ObservationBatch = fits
      ? reuse
      : { batch: B, images: new Uint8Array(B * S * S * 3), text: new Int32Array(B * L), state: new FloatArray(B * c.state_dim), embodiment: new Int32Array(B) };
    const images = out.images;
    if (!images) throw new ArgumentError('VLA_ARGUMENT', 'pack: `reuse` has no image buffer');
    observations.forEach((o, b) => {
      images.set(o.image!.data, b * S * S * 3);
      this.tokenizer.encode(o.instruction, L, out.text.subarray(b * L, (b + 1) * L));
      for (let i = 0; i < c.state_dim; i++) out.state[b * c.state_dim + i] = o.state[i]!;
      out.embodiment[b] = o.embodimentId;
    });
    return out;
  }

  private batchOf(obs: readonly PolicyObservation[] | ObservationBatch): ObservationBatch {
    return Array.isArray(obs) ? this.pack(obs as readonly PolicyObservation[]) : (obs as ObservationBatch);
  }

  private chunks(data: Float32Array | Float64Array, B: number): ActionChunks {
    return new ActionChunks(data, B, this.config.horizon, this.config.action_dim);
  }

  /** Samples action chunks on this thread (10 Euler steps; the prefix is encoded once). */
  act(obs: readonly PolicyObservation[] | ObservationBatch, options: ActOptions = {}): ActionChunks {
    const batch = this.batchOf(obs);
    return this.chunks(call(() => this.native.act(batch, options)), batch.batch);
  }

  /** act() on a worker thread: the event loop keeps running. */
  async actAsync(obs: readonly PolicyObservation[] | ObservationBatch, options: ActOptions = {}): Promise<ActionChunks> {
    const batch = this.batchOf(obs);
    return this.chunks(await callAsync(() => this.native.actAsync(batch, options)), batch.batch);
  }

  /**
   * Elements per sample of an observation encoding: the keys and values of the observation rows at
   * every layer (depth * 2 * obs_len * kv_dim). They never depend on the prompt, so a prompt step
   * on encoded observations skips their forward pass.
   */
  get encodingSize(): number {
    return this.native.encodingSize();
  }

  /** Observation encodings [B * encodingSize] (see encodingSize). */
  encode(obs: readonly PolicyObservation[] | ObservationBatch): Float32Array | Float64Array {
    const batch = this.batchOf(obs);
    return call(() => this.native.encode(batch));
  }

  async encodeAsync(obs: readonly PolicyObservation[] | ObservationBatch): Promise<Float32Array | Float64Array> {
    const batch = this.batchOf(obs);
    return callAsync(() => this.native.encodeAsync(batch));
  }

  /** The action expert's field v(x_t, t) [B * H * A] by one full pass (no KV cache). */
  predict(obs: ObservationBatch, xt: Float32Array | Float64Array, t: Float32Array | Float64Array, dropPrompt?: Uint8Array): Float32Array | Float64Array {
    return call(() => this.native.predict(obs, dropPrompt ? { xt, t, dropPrompt } : { xt, t }));
  }

  /** Losses and gradients (routed as in TTT-VLA) for given flow draws; gradients via getGrads(). */
  lossAndGrads(
    obs: ObservationBatch,
    targets: NativeFlowTargets,
    options: { actionLoss?: boolean; stateLoss?: boolean; stateWeight?: number; actionToPrompt?: boolean; groups?: ParamGroupName[]; grads?: boolean } = {},
  ) {
    return call(() => this.native.lossAndGrads(obs, targets, options));
  }

  /** One supervised step: L = L_action + lambda L_state, routed gradients, AdamW. */
  trainStep(batch: TrainingBatch, options: TrainStepOptions = {}): StepReport {
    checkTrainingBatch(batch, 'trainStep');
    return call(() => this.native.trainStep(batch.observations, batch.actions, options));
  }

  async trainStepAsync(batch: TrainingBatch, options: TrainStepOptions = {}): Promise<StepReport> {
    checkTrainingBatch(batch, 'trainStepAsync');
    return callAsync(() => this.native.trainStepAsync(batch.observations, batch.actions, options));
  }

  /**
   * One test-time step of latent prompt optimization: the state-grounding loss on the batch;
   * only the prompt blocks of the embodiments present move (AdamW, no weight decay by default).
   */
  promptStep(obs: ObservationBatch, options: PromptStepOptions = {}): StepReport {
    return call(() => this.native.promptStep(obs, options));
  }

  async promptStepAsync(obs: ObservationBatch, options: PromptStepOptions = {}): Promise<StepReport> {
    return callAsync(() => this.native.promptStepAsync(obs, options));
  }

  /** Per-sample CFM losses [B] for given actions, noise and times (EVOLVE's ratios). */
  flowLoss(obs: ObservationBatch, targets: NativeFlowTargets): Float64Array {
    return call(() => this.native.flowLoss(obs, targets));
  }

  /** One AdamW step on (1/B) sum_b w_b L_b with per-sample weights targets.actionWeights. */
  flowStep(obs: ObservationBatch, targets: NativeFlowTargets, options: FlowStepOptions = {}): StepReport {
    return call(() => this.native.flowStep(obs, targets, options));
  }

  async flowStepAsync(obs: ObservationBatch, targets: NativeFlowTargets, options: FlowStepOptions = {}): Promise<StepReport> {
    return callAsync(() => this.native.flowStepAsync(obs, targets, options));
  }

  /** Forgets AdamW's moments (start of a new adaptation run). */
  resetOptimizer(): void {
    call(() => this.native.resetOptimizer());
  }

  get optimizerStep(): number {
    return this.native.optimizerStep();
  }

  /** AdamW's moments and step count (copies), to save with a checkpoint for resuming. */
  getOptimizerState(): OptimizerState {
    return call(() => this.native.getOptimizerState());
  }

  setOptimizerState(state: OptimizerState): void {
    call(() => this.native.setOptimizerState(state));
  }
}

/** The native layer checks the arrays; this catches a batch that is not an object at all. */
function checkTrainingBatch(batch: unknown, where: string): asserts batch is TrainingBatch {
  if (typeof batch !== 'object' || batch === null) throw new ArgumentError('VLA_ARGUMENT', `${where}: batch must be { observations, actions }, got ${batch === null ? 'null' : typeof batch}`);
}
