/**
 * vla-ttt: test-time training of flow-matching robot policies, on a native C++/CUDA core.
 *
 * This entry point exports the foundation: tensors, the native ops (typed from the registry),
 * build and machine facts, the error classes, and the batched scene renderer with its image
 * helpers (PNG and animated GIF encoding, filmstrips and contact sheets).
 */
export { Tensor, dtypeOf, shapeSize } from './tensor.js';
// The seeded generator every random process takes (TrajectoryBuffer.sample, rollouts, draws).
export { Rng, deriveSeed } from './util/random.js';
export type { DType, FloatDType, FloatTensor, ArrayFor, RandomOptions } from './tensor.js';
export { runOp, runOpAsync, listOps } from './ops/run.js';
export type { OpName, OpInputs, OpAttrs, OpOutputs } from './ops/run.js';
export { opTable } from './ops/op-table.js';
export { buildInfo, cpuInfo, cudaStatus, gemmBackend, reportedExternalMemory, setGemmBackend, setNumThreads, setIsaCap } from './system.js';
export type { BuildInfo, CpuInfo, CudaStatus, Isa } from './system.js';
export {
  VlaError,
  ShapeError,
  DTypeError,
  RangeValueError,
  ArgumentError,
  UnsupportedError,
  OutOfMemoryError,
  InternalError,
  fromNativeError,
} from './errors.js';
export type { VlaErrorCode } from './errors.js';
export { GeomType, TextureKind, allocateGeoms } from './render/scene.js';
export type { Scene, SceneGeoms, Camera, Lighting } from './render/scene.js';
export { buildGeoms, setGeom, axisAngleRotation } from './render/scene-builder.js';
export type { GeomSpec, GeomTypeName, TextureName } from './render/scene-builder.js';
export { packScenes, packedSceneCount, renderScenes, renderScenesAsync, RenderedBatch } from './render/renderer.js';
export type { PackedSceneBatch, RenderOptions } from './render/renderer.js';
export { encodePng, crc32 } from './render/png.js';
export { encodeGif, lzwEncode, mapToPalette, medianCutPalette } from './render/gif.js';
export type { GifOptions } from './render/gif.js';
export { tileImages, filmstrip, contactSheet, upscale } from './render/image-grid.js';
export type { RgbImage, GridOptions, Rgb } from './render/image-grid.js';
export { drawText, textWidth, glyph, glyphWidth, glyphHeight, glyphAdvance } from './render/bitmap-font.js';
export type { TextTarget } from './render/bitmap-font.js';
export { AddonLoadError, loadAddon, packageRoot } from './native/loader.js';
export type { LoadAttempt } from './native/loader.js';
export type { NativeOpInfo } from './native/addon-types.js';
// The tabletop benchmark (MuJoCo world, tasks, shifts, expert, rollouts, evaluation, datasets).
export * from './tabletop/index.js';
export { Policy, ActionChunks } from './model/policy.js';
export type {
  PolicyObservation,
  ObservationBatch,
  ActOptions,
  AdamOptions,
  TrainStepOptions,
  PromptStepOptions,
  FlowStepOptions,
  StepReport,
  TrainingBatch,
  CreateOptions,
  LoadOptions,
  OptimizerState,
} from './model/policy.js';
export { DEVICES } from './model/device.js';
export type { Device } from './model/device.js';
export { Tokenizer, words, PAD_ID, UNK_ID } from './model/tokenizer.js';
export { presetConfig } from './model/config.js';
export type { ModelConfig, PresetName, CriticPresetName, ModelHead, ExpertDims } from './model/config.js';
// The pairwise progress critic of EVOLVE-VLA (the same native core with the progress head).
export { ProgressCritic } from './evolve/progress-critic.js';
export type { CriticPair, CriticBatch, CriticStepOptions, CriticStepReport, CriticCreateOptions } from './evolve/progress-critic.js';
export type { ParamGroupName, NativeFlowTargets, NativeParamInfo } from './native/addon-types.js';
// Test-time training: the trajectory buffer, latent prompt optimization, the offline protocol and
// the in-loop Adapter.
export { TrajectoryBuffer, DEFAULT_BUFFER_TRAJECTORIES } from './adapt/trajectory-buffer.js';
export type { BufferSampleOptions } from './adapt/trajectory-buffer.js';
export { optimizePrompt, DEFAULT_PROMPT_LR } from './adapt/latent-prompt.js';
export type { PromptOptimizationOptions, PromptOptimizationResult, PromptProgress } from './adapt/latent-prompt.js';
export { runOfflineLpo, summarizeEval, summarizeLpoResult } from './adapt/offline-lpo.js';
export type { EvalSummary, LpoResultSummary, OfflineLpoOptions, OfflineLpoResult } from './adapt/offline-lpo.js';
export { demoReportHtml, demoVerdict, pickShowcaseEpisode } from './report/demo-report.js';
export type { DemoFilmstrip, DemoReportInput } from './report/demo-report.js';
export { lpoLossSvg, successBarsSvg } from './report/lpo-charts.js';
export { barChartSvg, lineChartSvg } from './report/svg-chart.js';
export type { Bar, BarChartOptions, BarGroup, ChartOptions, Series } from './report/svg-chart.js';
export { Adapter } from './adapt/adapter.js';
export type { AdapterOptions, AdaptationReport } from './adapt/adapter.js';
export { Normalization } from './train/normalization.js';
export { loadController, PolicyController, DEFAULT_EXECUTE_STEPS } from './tabletop/policy-controller.js';
// Benchmarks on this machine (vla-ttt bench, bench/*.bench.mjs): timing helpers, the model
// benchmark's inputs, timed tabletop runs, the machine's facts.
export { median, quantile, timeCalls } from './bench/timing.js';
export type { CallTimes } from './bench/timing.js';
export { BENCH_INSTRUCTIONS, benchActions, benchObservations, benchPolicy, modelOpCall } from './bench/model-inputs.js';
export type { ModelOp } from './bench/model-inputs.js';
export { BENCH_TASKS, timeTabletopRun } from './bench/tabletop-timing.js';
export type { TabletopRun, TabletopRunConfig } from './bench/tabletop-timing.js';
export { describeMachine, machineFacts } from './bench/machine.js';
export type { MachineFacts } from './bench/machine.js';
export { BENCH_PARTS, BENCH_SETTINGS, runBench } from './bench/run-bench.js';
export type { BenchOptions, BenchPart, BenchReport, EnvTiming, ModelTiming } from './bench/run-bench.js';
