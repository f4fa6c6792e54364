/**
 * `vla-ttt info`: what this installation is (binary, build options, CPU, CUDA, ops) and a
 * quick check that it computes: a linear layer at the `small` policy's largest training shape,
 * checked against a float64 run and timed.
 */
import { writeFileSync } from 'node:fs';

import type { Command } from 'commander';

import { listOps, runOp } from '../../ops/run.js';
import { buildInfo, cpuInfo, cudaStatus, gemmBackend } from '../../system.js';
import { Tensor } from '../../tensor.js';
import type { CliContext } from '../context.js';

export interface InfoReport {
  build: ReturnType<typeof buildInfo>;
  cpu: ReturnType<typeof cpuInfo>;
  cuda: ReturnType<typeof cudaStatus>;
  ops: number;
  gemm: string;
  selfCheck?: { shape: string; gflops: number; maxRelError: number; ms: number };
}

/** Times y = x W^T at M x K x N in float32 and checks it against float64 on the same values. */
function linearSelfCheck(M: number, K: number, N: number): InfoReport['selfCheck'] {
  const x = Tensor.randn([M, K], { seed: 1 });
  const w = Tensor.randn([N, K], { seed: 2, scale: 1 / Math.sqrt(K) });
  runOp('linear', { x, w }); // warm-up: pack buffers, thread pool
  const reps = 5;
  const t0 = performance.now();
  let y = runOp('linear', { x, w }).y;
  for (let i = 1; i < reps; i++) y = runOp('linear', { x, w }).y;
  const ms = (performance.now() - t0) / reps;
  const y64 = runOp('linear', { x: Tensor.wrap(Float64Array.from(x.data), x.shape), w: Tensor.wrap(Float64Array.from(w.data), w.shape) }).y;
  let scale = 1e-3;
  let worst = 0;
  for (let i = 0; i < y64.size; i++) scale = Math.max(scale, Math.abs(y64.data[i]!));
  for (let i = 0; i < y64.size; i++) worst = Math.max(worst, Math.abs(y.data[i]! - y64.data[i]!));
  return { shape: `M=${M} K=${K} N=${N}`, gflops: (2 * M * K * N) / (ms * 1e6), maxRelError: worst / scale, ms };
}

export function infoReport(check: boolean): InfoReport {
  const ops = listOps();
  const report: InfoReport = { build: buildInfo(), cpu: cpuInfo(), cuda: cudaStatus(), ops: ops.length, gemm: gemmBackend() };
  if (check && ops.some((o) => o.name === 'linear')) report.selfCheck = linearSelfCheck(5632, 128, 1024);
  return report;
}

export function formatInfo(r: InfoReport): string {
  const lines = [
    `vla-ttt ${r.build.version}`,
    `  addon:    ${r.build.addonPath}`,
    `  build:    ${r.build.buildSystem}, ${r.build.compiler}, ${r.build.buildType}, N-API ${r.build.napiVersion}`,
    `  GEMM:     ${r.gemm} in use (built with: ${r.build.blas}; VLA_TTT_GEMM=own|openblas selects)`,
    `  CUDA:     ${r.build.cuda}`,
    `  device:   ${r.cuda.available ? r.cuda.reason : `CPU only (${r.cuda.reason})`}`,
    `  CPU:      ${r.cpu.cpus} CPUs, ${r.cpu.threads} threads, SIMD ${r.cpu.activeIsa} (hardware ${r.cpu.hardwareIsa})`,
    `  ops:      ${r.ops} native ops (see docs/ops.md)`,
  ];
  if (r.selfCheck) {
    const c = r.selfCheck;
    lines.push(
      `  check:    linear ${c.shape}: ${c.ms.toFixed(2)} ms, ${c.gflops.toFixed(1)} GFLOP/s, float32 vs float64 max rel. error ${c.maxRelError.toExponential(1)}`,
    );
  }
  return lines.join('\n') + '\n';
}

export function registerInfo(program: Command, ctx: CliContext): Command {
  return program
    .command('info')
    .description('show the native build, CPU, CUDA and op facts, and run a quick compute check')
    .option('--no-check', 'skip the compute check')
    .option('--json <file>', 'also write the report as JSON')
    .addHelpText('after', '\nExample:\n  vla-ttt info --json info.json')
    .action((opts: { check: boolean; json?: string }) => {
      const report = infoReport(opts.check);
      ctx.io.stdout(formatInfo(report));
      if (opts.json) writeFileSync(opts.json, JSON.stringify(report, null, 2) + '\n');
    });
}
