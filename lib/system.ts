/**
 * The native core's build and machine: what was compiled in, what the CPU supports, threads.
 *
 * @example
 * ```ts
 * import { buildInfo, cpuInfo, setNumThreads } from 'vla-ttt';
 * console.log(buildInfo().blas, cpuInfo().activeIsa);
 * setNumThreads(2);
 * ```
 */
import { fromNativeError } from './errors.js';
import type { NativeBuildInfo, NativeCpuInfo, NativeCudaStatus } from './native/addon-types.js';
import { addon, addonPath } from './native/loader.js';

export type BuildInfo = NativeBuildInfo & { addonPath: string };
export type CpuInfo = NativeCpuInfo;
export type CudaStatus = NativeCudaStatus;
export type Isa = NativeCpuInfo['activeIsa'];

function call<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw fromNativeError(e);
  }
}

/** What the loaded binary was built with: compiler, BLAS, CUDA (with the reason when off). */
export function buildInfo(): BuildInfo {
  return { ...call(() => addon().buildInfo()), addonPath: addonPath() };
}

/** The CPU's instruction-set level, the level in use, CPUs available and the thread pool size. */
export function cpuInfo(): CpuInfo {
  return call(() => addon().cpu());
}

/** Whether a CUDA device is usable by this build, and why not when it is not. */
export function cudaStatus(): CudaStatus {
  return call(() => addon().cudaStatus());
}

/**
 * Bytes the native core has reported to the JS engine (AdjustExternalMemory): every live policy's
 * parameters, gradients, AdamW moments and cached workspaces. The garbage collector weighs
 * policies by it; process.memoryUsage().external does not include it on Node 20 (it counts
 * ArrayBuffer backing stores only), so watch this for native memory in long runs.
 */
export function reportedExternalMemory(): number {
  return call(() => addon().reportedExternalMemory());
}

/** Resizes the native thread pool (default: the CPUs this process may use, or VLA_TTT_NUM_THREADS). */
export function setNumThreads(n: number): void {
  call(() => addon().setNumThreads(n));
}

/** What float GEMM runs on now: 'openblas', 'own-avx2', 'own-avx512' or 'own-generic'. */
export function gemmBackend(): string {
  return call(() => addon().gemmBackend());
}

/**
 * Selects the float GEMM backend for the process (also VLA_TTT_GEMM at start-up): 'own' (vla-ttt's
 * kernels), 'openblas' (when the build has it), or 'auto'.
 */
export function setGemmBackend(name: 'auto' | 'own' | 'openblas'): void {
  call(() => addon().setGemmBackend(name));
}

/** Caps the SIMD level kernels use (for testing and comparisons). Fails above what the CPU supports. */
export function setIsaCap(isa: Isa): void {
  call(() => addon().setIsaCap(isa));
}
