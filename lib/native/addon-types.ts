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

export interface NativeAddon {
  runOp(name: string, inputs: Record<string, NativeTensor | undefined>, attrs?: Record<string, number | boolean | undefined>): Record<string, NativeTensor>;
  runOpAsync(name: string, inputs: Record<string, NativeTensor | undefined>, attrs?: Record<string, number | boolean | undefined>): Promise<Record<string, NativeTensor>>;
  listOps(): NativeOpInfo[];
  buildInfo(): NativeBuildInfo;
  cudaStatus(): NativeCudaStatus;
  cpu(): NativeCpuInfo;
  setNumThreads(n: number): void;
  setIsaCap(isa: 'generic' | 'avx2' | 'avx512'): void;
  fillRandom(array: Float32Array | Float64Array, distribution: 'normal' | 'uniform', seed: number | bigint, stream: number | bigint, offset: number | bigint): void;
}
