/**
 * vla-ttt: test-time training of flow-matching robot policies, on a native C++/CUDA core.
 *
 * This entry point exports the foundation: tensors, the native ops (typed from the registry),
 * build and machine facts, and the error classes.
 */
export { Tensor, dtypeOf, shapeSize } from './tensor.js';
export type { DType, FloatDType, FloatTensor, ArrayFor, RandomOptions } from './tensor.js';
export { runOp, runOpAsync, listOps } from './ops/run.js';
export type { OpName, OpInputs, OpAttrs, OpOutputs } from './ops/run.js';
export { opTable } from './ops/op-table.js';
export { buildInfo, cpuInfo, cudaStatus, setNumThreads, setIsaCap } from './system.js';
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
export { AddonLoadError, loadAddon, packageRoot } from './native/loader.js';
export type { LoadAttempt } from './native/loader.js';
export type { NativeOpInfo } from './native/addon-types.js';
// The tabletop benchmark (MuJoCo world, tasks, shifts, expert, rollouts, evaluation, datasets).
export * from './tabletop/index.js';
