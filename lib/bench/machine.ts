/**
 * The machine a measurement ran on, for reports and benchmark files: CPU model and count,
 * memory, SIMD level in use, native threads, GEMM backend, build, CUDA status, load average.
 *
 * @example
 * ```ts
 * console.log(describeMachine(machineFacts())); // "AMD EPYC, 2 CPUs, 8 GiB, SIMD avx2 (hardware avx2), ..."
 * ```
 */
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';

import { buildInfo, cpuInfo, cudaStatus, gemmBackend, type Isa } from '../system.js';

export interface MachineFacts {
  cpu: string;
  cpus: number;
  memoryGiB: number;
  node: string;
  /** SIMD level the kernels use, and the highest the CPU has. */
  isa: Isa;
  hardwareIsa: Isa;
  nativeThreads: number;
  gemm: string;
  compiler: string;
  buildType: string;
  /** The CUDA device in use or why there is none (`vla-ttt info`). */
  cuda: { available: boolean; reason: string };
  /** 1, 5 and 15 minute load averages when the facts were taken. */
  loadAverage: number[];
}

export function machineFacts(): MachineFacts {
  const cpu = cpuInfo();
  const build = buildInfo();
  const cuda = cudaStatus();
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown CPU',
    cpus: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    isa: cpu.activeIsa,
    hardwareIsa: cpu.hardwareIsa,
    nativeThreads: cpu.threads,
    gemm: gemmBackend(),
    compiler: build.compiler,
    buildType: build.buildType,
    cuda: { available: cuda.available, reason: cuda.reason },
    loadAverage: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

/** One line: CPU, cores, memory, SIMD, threads, GEMM, GPU, load. */
export function describeMachine(m: MachineFacts): string {
  return (
    `${m.cpu}, ${m.cpus} CPUs, ${m.memoryGiB} GiB, SIMD ${m.isa} (hardware ${m.hardwareIsa}), ${m.nativeThreads} native threads, GEMM ${m.gemm}, ` +
    `${m.cuda.available ? `CUDA: ${m.cuda.reason}` : 'no GPU'}; load average ${m.loadAverage[0]?.toFixed(1) ?? '?'} (1 min), ${m.loadAverage[1]?.toFixed(1) ?? '?'} (5 min)`
  );
}
