/**
 * The raw interface of the native addon (native/napi). Library code uses the typed wrappers in
 * lib/ops and lib/system; this file only describes what the binary exports.
 */

/** Element types the native core accepts. */
export type NativeArray = Float32Array | Float64Array | Int32Array | Uint8Array;

/** A tensor as the addon reads and returns it: row-major data and its shape. */
export interface NativeTensor {
  data: NativeArray;
  shape: number[];
}

export interface NativeOpInput {
  name: string;
  kind: 'float' | 'int32' | 'uint8';
  shape: string;
  optional: boolean;
  inplace: boolean;
  checkFinite: boolean;
}

export interface NativeOpAttr {
  name: string;
  /** null when the attribute is required. */
  default: number | null;
  doc: string;
  integer: boolean;
}

export interface NativeOpOutput {
  name: string;
  kind: 'float' | 'int32' | 'uint8';
  shape: string;
  differentiable: boolean;
}

/** One registered op, as listOps() describes it. */
export interface NativeOpInfo {
  name: string;
  summary: string;
  inputs: NativeOpInput[];
  attrs: NativeOpAttr[];
  outputs: NativeOpOutput[];
  backward: string | null;
}

export interface NativeBuildInfo {
  version: string;
  compiler: string;
  buildType: string;
  buildSystem: string;
  blas: string;
  cuda: string;
  hasOpenblas: boolean;
  hasCuda: boolean;
  hasCublas: boolean;
  napiVersion: number;
}

export interface NativeCudaStatus {
  /** What runs device 'cuda': the CUDA backend, its CPU emulator (the test addon), or nothing. */
  backend: 'cuda' | 'emulator' | 'none';
  available: boolean;
  deviceCount: number;
  deviceName: string;
  reason: string;
}

export interface NativeCpuInfo {
  hardwareIsa: 'generic' | 'avx2' | 'avx512';
  activeIsa: 'generic' | 'avx2' | 'avx512';
  cpus: number;
  threads: number;
}

/**
 * A batch of B scenes with G geoms in all, as flat arrays (lib/render/scene.ts explains each
 * field; native/render/render_batch.h the layout). Scene b owns geoms [geomOffsets[b], geomOffsets[b+1]).
 */
export interface NativeSceneBatch {
  /** [B + 1], starts at 0, non-decreasing, ends at G. */
  geomOffsets: Int32Array;
  /** [G] */
  type: Int32Array;
  /** [G * 3] */
  size: Float32Array;
  /** [G * 3] */
  pos: Float32Array;
  /** [G * 9] */
  mat: Float32Array;
  /** [G * 4] */
  rgba: Float32Array;
  /** [G] */
  texture: Int32Array;
  /** [G * 4] */
  texParams: Float32Array;
  /** [B * 10]: pos 3, lookAt 3, up 3, fovyDeg. */
  cameras: Float32Array;
  /** [B * 10]: direction 3, color 3, ambient 3, shadows 0/1. */
  lights: Float32Array;
  /** [B * 3] */
  background: Float32Array;
}

export interface NativeRenderOptions {
  width: number;
  height: number;
  /** Samples per pixel side (1 to 8); default 1. */
  supersample?: number | undefined;
  /** false: draw on the calling thread only; default true (the global thread pool). */
  threadPool?: boolean | undefined;
  /** Uint8Array of B * H * W * 3 bytes to draw into (returned); a new one when absent. */
  out?: Uint8Array | undefined;
}

/** A batch of observations as the native policy reads it (float arrays in the policy's dtype). */
export interface NativeObservations {
  batch: number;
  /** [B, S, S, 3] RGB, row 0 at the top (may be left out when `encodings` are given). */
  images?: Uint8Array;
  /** [B, encodingSize()] observation encodings (the observation rows' K/V per layer), in the policy's dtype. */
  encodings?: Float32Array | Float64Array;
  /** [B, max_text_len] token ids, 0 = padding. */
  text: Int32Array;
  /** [B, state_dim]. */
  state: Float32Array | Float64Array;
  /** [B] embodiment ids (prompt router). */
  embodiment: Int32Array;
}

/** A progress critic's batch: B samples of `frames` images each and their instructions. */
export interface NativeCriticObservations {
  batch: number;
  /** [B, frames, S, S, 3] RGB, row 0 at the top. */
  images: Uint8Array;
  /** [B, max_text_len] token ids, 0 = padding. */
  text: Int32Array;
}

/** One AdamW step of a progress critic. */
export interface NativeProgressStepResult {
  /** sum_b w_b ((c_b - y_b) / 100)^2 / sum_b w_b, before the step. */
  loss: number;
  /** ((c_b - y_b) / 100)^2 per sample (unweighted), before the step. */
  perSample: Float64Array;
  gradNorm: number;
  clipped: boolean;
  /** The optimizer's 1-based step count after this step. */
  step: number;
}

export interface NativeFlowTargets {
  actions?: Float32Array | Float64Array;
  actionNoise?: Float32Array | Float64Array;
  actionTime?: Float32Array | Float64Array;
  actionWeights?: Float32Array | Float64Array;
  stateNoise?: Float32Array | Float64Array;
  stateTime?: Float32Array | Float64Array;
  dropPrompt?: Uint8Array;
}

export interface NativeLossResult {
  total: number;
  action: number;
  state: number;
  actionPerSample: Float64Array;
  statePerSample: Float64Array;
}

export interface NativeStepResult extends NativeLossResult {
  gradNorm: number;
  clipped: boolean;
  /** The optimizer's 1-based step count after this step. */
  step: number;
}

export type ParamGroupName = 'embed' | 'prompt' | 'backbone' | 'action' | 'state' | 'progress';

export interface NativeAdamOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  maxGradNorm?: number;
}

export interface NativeParamInfo {
  name: string;
  shape: number[];
  group: ParamGroupName;
  offset: number;
  size: number;
}

export interface NativePolicyInstance {
  config(): string;
  dtype(): 'float32' | 'float64';
  layout(): NativeParamInfo[];
  numParams(): number;
  /** Bytes this policy holds natively, as last reported to the engine with AdjustExternalMemory. */
  nativeBytes(): number;
  getParams(): Float32Array | Float64Array;
  setParams(params: Float32Array | Float64Array): void;
  getGrads(): Float32Array | Float64Array;
  save(path: string, metadata?: Record<string, string>, dtype?: 'float32' | 'float16'): void;
  act(obs: NativeObservations, options?: NativeActOptions): Float32Array | Float64Array;
  actAsync(obs: NativeObservations, options?: NativeActOptions): Promise<Float32Array | Float64Array>;
  encodingSize(): number;
  encode(obs: NativeObservations): Float32Array | Float64Array;
  encodeAsync(obs: NativeObservations): Promise<Float32Array | Float64Array>;
  predict(obs: NativeObservations, inputs: { xt: Float32Array | Float64Array; t: Float32Array | Float64Array; dropPrompt?: Uint8Array }): Float32Array | Float64Array;
  lossAndGrads(
    obs: NativeObservations,
    targets: NativeFlowTargets,
    options?: { actionLoss?: boolean; stateLoss?: boolean; stateWeight?: number; actionToPrompt?: boolean; groups?: ParamGroupName[]; grads?: boolean },
  ): NativeLossResult;
  trainStep(obs: NativeObservations, actions: Float32Array | Float64Array, options: NativeTrainOptions): NativeStepResult;
  trainStepAsync(obs: NativeObservations, actions: Float32Array | Float64Array, options: NativeTrainOptions): Promise<NativeStepResult>;
  promptStep(obs: NativeObservations, options: NativePromptOptions): NativeStepResult;
  promptStepAsync(obs: NativeObservations, options: NativePromptOptions): Promise<NativeStepResult>;
  flowLoss(obs: NativeObservations, targets: NativeFlowTargets): Float64Array;
  flowStep(obs: NativeObservations, targets: NativeFlowTargets, options: NativeFlowOptions): NativeStepResult;
  flowStepAsync(obs: NativeObservations, targets: NativeFlowTargets, options: NativeFlowOptions): Promise<NativeStepResult>;
  resetOptimizer(): void;
  optimizerStep(): number;
  getOptimizerState(): { m: Float32Array | Float64Array; v: Float32Array | Float64Array; step: number };
  setOptimizerState(state: { m: Float32Array | Float64Array; v: Float32Array | Float64Array; step: number }): void;
  /** Places the policy: act and the steps run on device 'cuda' (its device twin) or on the CPU. */
  toDevice(device: 'cpu' | 'cuda'): void;
  device(): 'cpu' | 'cuda';
  // A progress critic's calls (head 'progress'); they fail on a policy, and the policy's on a critic.
  /** c [B] in [-100, 100] (the model's dtype): how far each sample's last frame advanced the task over its first. */
  progress(obs: NativeCriticObservations): Float32Array | Float64Array;
  progressAsync(obs: NativeCriticObservations): Promise<Float32Array | Float64Array>;
  /** One AdamW step on the weighted squared error of c / 100 against targets / 100 (weights null: all 1). */
  progressStep(
    obs: NativeCriticObservations,
    targets: Float32Array | Float64Array,
    weights: Float32Array | Float64Array | null,
    options?: NativeAdamOptions,
  ): NativeProgressStepResult;
  progressStepAsync(
    obs: NativeCriticObservations,
    targets: Float32Array | Float64Array,
    weights: Float32Array | Float64Array | null,
    options?: NativeAdamOptions,
  ): Promise<NativeProgressStepResult>;
}

export interface NativeActOptions {
  seed?: number | bigint;
  noise?: Float32Array | Float64Array;
  dropPrompt?: Uint8Array;
  /** Filled with the observation encodings the prefix pass computes anyway ([B * encodingSize()]). */
  encodingsOut?: Float32Array | Float64Array;
}

export interface NativeTrainOptions extends NativeAdamOptions {
  seed?: number | bigint;
  step?: number | bigint;
  dropProbability?: number;
  stateWeight?: number;
  actionLoss?: boolean;
  stateLoss?: boolean;
  groups?: ParamGroupName[];
}

export interface NativePromptOptions extends NativeAdamOptions {
  seed?: number | bigint;
  step?: number | bigint;
}

export interface NativeFlowOptions extends NativeAdamOptions {
  groups?: ParamGroupName[];
  actionToPrompt?: boolean;
}

export interface NativePolicyClass {
  new (options: { config: string; seed?: number | bigint; dtype?: 'float32' | 'float64' }): NativePolicyInstance;
  load(path: string): { policy: NativePolicyInstance; metadata: Record<string, string> };
  fromBytes(bytes: Uint8Array, source: string): { policy: NativePolicyInstance; metadata: Record<string, string> };
  preset(name: string, vocabSize: number): string;
}

export interface NativeAddon {
  NativePolicy: NativePolicyClass;
  runOp(name: string, inputs: Record<string, NativeTensor | undefined>, attrs?: Record<string, number | boolean | undefined>): Record<string, NativeTensor>;
  runOpAsync(name: string, inputs: Record<string, NativeTensor | undefined>, attrs?: Record<string, number | boolean | undefined>): Promise<Record<string, NativeTensor>>;
  listOps(): NativeOpInfo[];
  buildInfo(): NativeBuildInfo;
  cudaStatus(): NativeCudaStatus;
  cpu(): NativeCpuInfo;
  setNumThreads(n: number): void;
  setIsaCap(isa: 'generic' | 'avx2' | 'avx512'): void;
  /** What float GEMM runs on now: 'openblas', 'own-avx2', 'own-avx512' or 'own-generic'. */
  gemmBackend(): string;
  setGemmBackend(name: 'auto' | 'own' | 'openblas'): void;
  /** Bytes native code has reported to this environment's engine with AdjustExternalMemory. */
  reportedExternalMemory(): number;
  fillRandom(array: Float32Array | Float64Array, distribution: 'normal' | 'uniform', seed: number | bigint, stream: number | bigint, offset: number | bigint): void;
  /** Draws the batch into uint8 RGB images [B, H, W, 3], row 0 at the top. */
  renderBatch(batch: NativeSceneBatch, options: NativeRenderOptions): Uint8Array;
  /** renderBatch on a worker thread. The batch arrays and `out` must not change until it settles. */
  renderBatchAsync(batch: NativeSceneBatch, options: NativeRenderOptions): Promise<Uint8Array>;
}
