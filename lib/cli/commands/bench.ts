/**
 * `vla-ttt bench`: measures this machine (lib/bench/run-bench.ts) and prints a table, with the
 * machine beside it; --json FILE writes the report.
 *
 *   vla-ttt bench                              # act, train, prompt, env: about 2 min on a 2-core CPU
 *   vla-ttt bench --quick --what act --json -  # a few seconds
 *
 * JSON: { benchmark, date, quick, what, device, seed, threads, repeats: { model, env }, machine,
 *         act: [{ op, preset, batch, medianMs, perSecond, unit: 'chunks/s', p90Ms, minMs,
 *                 repeatMedianMs, cpuMsPerCall, warmup, rewarm, callsPerRepeat }] | null,
 *         train: {...same, unit: 'samples/s'} | null, prompt: {...} | null,
 *         env: [{ workers, images: false, envStepsPerSecond, repeatEnvStepsPerSecond,
 *                 cpuMsPerStep, episodes, envSteps, loadBefore, loadAfter }] | null, seconds }
 */
import type { Command } from 'commander';
import { z } from 'zod';

import { describeMachine } from '../../bench/machine.js';
import { BENCH_PARTS, BENCH_SETTINGS, runBench, type BenchPart, type BenchReport, type ModelTiming } from '../../bench/run-bench.js';
import { cpuInfo } from '../../system.js';
import { defaultWorkers } from '../../tabletop/rollout.js';
import { emitReport, intOption, parseOptions, type CliContext } from '../context.js';
import { addDeviceOption, deviceField, resolveCpuDevice } from '../device.js';

const whatList = z.string().transform((s, ctx) => {
  const parts = s.split(',').map((x) => x.trim()).filter(Boolean);
  const bad = parts.filter((p) => !(BENCH_PARTS as readonly string[]).includes(p));
  if (parts.length === 0 || bad.length > 0) {
    ctx.addIssue({ code: 'custom', message: `must be a comma-separated list of ${BENCH_PARTS.join(', ')}, got '${s}'` });
    return z.NEVER;
  }
  return [...new Set(parts)] as BenchPart[];
});

const BenchOptions = z.object({
  quick: z.boolean().optional(),
  what: whatList,
  seed: intOption(0),
  workers: intOption(1, 64),
  threads: intOption(1, 1024).optional(),
  json: z.string().min(1).optional(),
  device: deviceField,
});

const ms = (x: number) => (x >= 100 ? `${x.toFixed(0)} ms` : `${x.toFixed(2)} ms`);

/** The report as a table, one row per measurement, the machine first. */
export function formatBench(r: BenchReport): string {
  const rows: Array<[string, string, string, string]> = [];
  const model = (label: string, t: ModelTiming) => rows.push([`${label} (${t.preset})`, `batch ${t.batch}`, ms(t.medianMs), `${t.perSecond.toFixed(t.perSecond >= 100 ? 0 : 1)} ${t.unit}`]);
  for (const t of r.act ?? []) model('act', t);
  if (r.train) model('train step', r.train);
  if (r.prompt) model('prompt step (LPO)', r.prompt);
  for (const e of r.env ?? []) rows.push(['env, expert, no images', `${e.workers} worker${e.workers === 1 ? '' : 's'}`, '-', `${e.envStepsPerSecond.toFixed(0)} env steps/s`]);
  const head: [string, string, string, string] = ['what', 'size', 'median', 'throughput'];
  const w = [0, 1, 2].map((i) => Math.max(head[i]!.length, ...rows.map((row) => row[i]!.length)));
  const line = (row: [string, string, string, string]) => `${row[0].padEnd(w[0]!)}  ${row[1].padEnd(w[1]!)}  ${row[2].padStart(w[2]!)}  ${row[3]}`;
  return (
    [
      `vla-ttt bench${r.quick ? ' --quick' : ''}: device ${r.device}, ${r.threads} native thread${r.threads === 1 ? '' : 's'}, seed ${r.seed}`,
      `machine: ${describeMachine(r.machine)}`,
      line(head),
      ...rows.map(line),
      `medians of ${r.repeats.model} repeats (model) and ${r.repeats.env} (env); ${r.seconds.toFixed(1)} s in all`,
    ].join('\n') + '\n'
  );
}

export function registerBench(program: Command, ctx: CliContext): Command {
  const q = BENCH_SETTINGS.quick;
  const f = BENCH_SETTINGS.full;
  const cmd = program
    .command('bench')
    .description('measure this machine: policy act (chunks/s), train step and prompt step (samples/s) of the small preset, tabletop env steps/s')
    .option('--quick', 'short settings (a few seconds): for tests and CI')
    .option('--what <list>', `comma-separated: ${BENCH_PARTS.join(', ')}`, BENCH_PARTS.join(','))
    .option('--seed <n>', "seed of the policy's weights, the inputs and the episodes", '0')
    .option('--workers <n>', 'env: time 1, 2, ..., n worker threads', String(defaultWorkers()))
    .option('--threads <n>', 'native thread pool size during the model timings (default: the current pool, VLA_TTT_NUM_THREADS or the CPUs)')
    .option('--json <file>', "also write the report as JSON ('-' for stdout instead of the table)");
  return addDeviceOption(cmd)
    .addHelpText(
      'after',
      [
        '',
        'Measurements (each figure the median over repeats; repeats go round every row once):',
        '  act     Policy.act, small preset, batch 1 and 8: action chunks per second',
        '  train   Policy.trainStep, small preset, batch 64: samples per second',
        '  prompt  Policy.promptStep (LPO: state loss, AdamW on the prompt), batch 128: samples per second',
        '  env     tabletop env steps per second, scripted expert, 4 base tasks, no images, 1..--workers workers',
        `Settings: --quick  ${q.repeats} repeats of ${q.act.calls} act calls and ${q.step.calls} step; env: ${q.envRepeats} run of ${q.envEpisodesPerTask} episode per task`,
        `          default  ${f.repeats} repeats of ${f.act.calls} act calls and ${f.step.calls} steps; env: ${f.envRepeats} runs of ${f.envEpisodesPerTask} episodes per task`,
        '',
        'Example:',
        '  vla-ttt bench --quick --what act,train --json bench.json',
      ].join('\n'),
    )
    .action(async (raw: unknown) => {
      const o = parseOptions(BenchOptions, raw);
      const device = resolveCpuDevice(o.device, 'vla-ttt bench', 'its figures are the CPU kernels\' (the device has its own benchmarks: scripts/gpu-check.sh)');
      const report = await runBench({
        what: o.what,
        quick: o.quick === true,
        seed: o.seed,
        workers: o.workers,
        threads: o.threads ?? cpuInfo().threads,
        device,
        onLine: (line) => ctx.io.stderr(`bench: ${line}\n`),
      });
      await emitReport(ctx.io, o.json, report, () => formatBench(report));
    });
}
