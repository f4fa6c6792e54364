/**
 * `vla-ttt adapt`: test-time training of a checkpoint in a shifted world (lib/adapt/offline-lpo.ts).
 *
 *   vla-ttt adapt --method lpo --policy models/tabletop-small.safetensors --shift camera --out runs/lpo-camera
 *
 * Writes into --out (created; must be new or empty): result.json (settings, before and after
 * summaries, the flip table per task and overall, loss curves, wall times, prompt shifts),
 * before.json and after.json (full eval reports, episodes included, for `vla-ttt compare`),
 * prompt.json (the adapted prompt blocks), loss.svg (the state-grounding loss per step), and with
 * --save-buffer the buffer as a dataset folder (buffer/).
 */
import { readFileSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';

import type { Command } from 'commander';
import { z } from 'zod';

import { runOfflineLpo, summarizeLpoResult, type OfflineLpoResult } from '../../adapt/offline-lpo.js';
import { TrajectoryBuffer } from '../../adapt/trajectory-buffer.js';
import { ArgumentError } from '../../errors.js';
import { lpoLossSvg } from '../../report/lpo-charts.js';
import { DatasetReader, writeFileAtomic } from '../../tabletop/dataset.js';
import type { EvalReport } from '../../tabletop/eval.js';
import { DEFAULT_EXECUTE_STEPS } from '../../tabletop/policy-controller.js';
import { parseShift } from '../../tabletop/shifts.js';
import { defaultWorkers } from '../../tabletop/rollout.js';
import { parseTaskList } from '../../tabletop/tasks.js';
import { intOption, numberOption, parseOptions, type CliContext } from '../context.js';
import { formatComparison } from './compare.js';
import type { SweepFile } from './sweep.js';


const AdaptOptions = z.object({
  method: z.enum(['lpo']),
  policy: z.string().min(1),
  shift: z.string().min(1),
  shiftSeed: intOption(0),
  out: z.string().min(1),
  tasks: z.string(),
  episodes: intOption(1),
  seed: intOption(0),
  bufferTrajectories: intOption(1),
  bufferSeed: intOption(0),
  mode: z.enum(['joint', 'per-task']),
  steps: intOption(0),
  batch: intOption(1),
  lr: numberOption(1e-8, 0.999),
  weightDecay: numberOption(0, 10),
  optimizationSeed: intOption(0),
  executeSteps: intOption(1).optional(),
  workers: intOption(1),
  envsPerWorker: intOption(1),
  saveBuffer: z.boolean().optional(),
  before: z.string().min(1).optional(),
  buffer: z.string().min(1).optional(),
  online: z.boolean().optional(),
  microBatch: intOption(1),
  passes: intOption(1),
  anchor: numberOption(0, 1e6),
  trustRadius: numberOption(0, 1e3),
  ema: numberOption(0, 0.999999),
  maxLossRatio: numberOption(0, 1e6),
  collapseRatio: numberOption(0, 1e6),
  collapseWindow: intOption(1),
  initPromptFrom: z.string().regex(/^(auto|none|\d+)$/, "must be 'auto', 'none' or an embodiment id"),
});

/** The evaluation of `policy` under `shift` from a sweep file, checked against the adapt settings. */
function readSweepBaseline(file: string, policy: string, shiftText: string, executeSteps: number | undefined): EvalReport {
  let sweep: SweepFile;
  try {
    sweep = JSON.parse(readFileSync(file, 'utf8')) as SweepFile;
  } catch (e) {
    throw new ArgumentError('VLA_ARGUMENT', `--before '${file}': not a readable sweep file (${(e as Error).message})`);
  }
  if (typeof sweep.results !== 'object' || sweep.results === null) throw new ArgumentError('VLA_ARGUMENT', `--before '${file}': no results (write it with vla-ttt sweep)`);
  if (sweep.policy !== basename(policy)) throw new ArgumentError('VLA_ARGUMENT', `--before '${file}' evaluated ${sweep.policy}, not ${basename(policy)}`);
  const shift = parseShift(shiftText).text;
  // Sweep keys are the expressions as given ('camera'); reports carry the normalized text ('camera:1').
  const report = Object.values(sweep.results).find((r) => r.shift === shift);
  if (!report) throw new ArgumentError('VLA_ARGUMENT', `--before '${file}' has no evaluation under '${shift}' (it has ${Object.keys(sweep.results).join(', ')})`);
  const expected = executeSteps ?? DEFAULT_EXECUTE_STEPS;
  if (sweep.executeSteps !== null && sweep.executeSteps !== expected) {
    throw new ArgumentError('VLA_ARGUMENT', `--before '${file}' executed ${sweep.executeSteps} actions per chunk; pass --execute-steps ${sweep.executeSteps} or evaluate again`);
  }
  return report;
}

/** A saved buffer, checked to come from the same shifted world. */
async function loadBuffer(dir: string, shiftText: string): Promise<TrajectoryBuffer> {
  const reader = await DatasetReader.open(dir);
  const shift = parseShift(shiftText).text;
  const saved = parseShift(reader.manifest.shift).text;
  if (saved !== shift) throw new ArgumentError('VLA_ARGUMENT', `--buffer '${dir}' was collected under '${saved}', not '${shift}'`);
  return TrajectoryBuffer.load(dir);
}

async function prepareOut(dir: string): Promise<void> {
  const existing = await readdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return null;
    throw new ArgumentError('VLA_ARGUMENT', `--out '${dir}': ${e.message}`);
  });
  if (existing && existing.length > 0) throw new ArgumentError('VLA_ARGUMENT', `--out '${dir}' is not empty; choose a new folder`);
  await mkdir(dir, { recursive: true });
}

/**
 * Writes an offline LPO run into `dir` (see the module comment): result.json, before.json,
 * after.json, prompt.json, loss.svg, and with `saveBuffer` the buffer. `vla-ttt demo` writes
 * through this too, so both commands' folders read the same.
 */
export async function writeLpoOutputs(dir: string, r: OfflineLpoResult, o: { policy: string; saveBuffer: boolean }): Promise<void> {
  await writeFileAtomic(join(dir, 'result.json'), JSON.stringify(summarizeLpoResult(r), null, 1) + '\n');
  await writeFileAtomic(join(dir, 'before.json'), JSON.stringify(r.before) + '\n');
  await writeFileAtomic(join(dir, 'after.json'), JSON.stringify(r.after) + '\n');
  await writeFileAtomic(join(dir, 'prompt.json'), JSON.stringify({ checkpoint: o.policy, shift: r.shift, mode: r.mode, shape: r.promptShape, prompts: r.prompts }) + '\n');
  await writeFileAtomic(join(dir, 'loss.svg'), lpoLossSvg(r));
  if (o.saveBuffer) await r.bufferObject.save(join(dir, 'buffer'), { shift: r.shift, shiftSeed: r.shiftSeed, seed: r.settings.bufferSeed });
}

export function registerAdapt(program: Command, ctx: CliContext): Command {
  return program
    .command('adapt')
    .description('test-time training in a shifted world: evaluate, fill the buffer, optimize the latent prompt (lpo), evaluate the same episodes again')
    .requiredOption('--method <name>', 'lpo (latent prompt optimization, TTT-VLA)')
    .requiredOption('--policy <file>', 'the checkpoint to adapt (vla-ttt train)')
    .requiredOption('--shift <preset>', 'the target world, e.g. camera, lighting+latency:2')
    .requiredOption('--out <dir>', 'folder for the results (created; must be new or empty)')
    .option('--shift-seed <n>', 'seed of the shift realization', '0')
    .option('--tasks <list>', 'comma-separated task names or suites', 'base')
    .option('--episodes <n>', 'evaluation episodes per task (before and after)', '200')
    .option('--seed <n>', 'evaluation protocol seed', '0')
    .option('--buffer-trajectories <n>', 'trajectories the frozen policy collects in the target world', '800')
    .option('--buffer-seed <n>', 'seed of the buffer episodes (must differ from --seed)', '1')
    .option('--mode <mode>', 'joint (one prompt for all tasks) or per-task', 'joint')
    .option('--steps <n>', 'prompt optimization steps (fixed in advance)', '500')
    .option('--batch <n>', 'transitions per step', '128')
    .option('--lr <x>', 'AdamW learning rate of the prompt', '1e-3')
    .option('--weight-decay <x>', 'AdamW weight decay of the prompt', '0')
    .option('--optimization-seed <n>', 'seed of the batch and flow draws', '0')
    .option('--execute-steps <n>', 'actions of each chunk executed before replanning (default min(2, the chunk length))')
    .option('--workers <n>', 'worker threads', String(defaultWorkers()))
    .option('--envs-per-worker <n>', 'environments per worker', '8')
    .option('--before <sweep.json>', "reuse the frozen policy's evaluation under this shift from a vla-ttt sweep file (same policy and settings)")
    .option('--buffer <dir>', 'use a buffer saved by an earlier run (--save-buffer) in the same world instead of collecting one')
    .option('--save-buffer', 'also write the buffer as a dataset folder (OUT/buffer)')
    .option('--init-prompt-from <id|auto|none>', "start the adapted block from this embodiment's trained block; auto: when the checkpoint records that the target embodiment had no training data, from the embodiment with the most", 'auto')
    .option('--online', 'online protocol: consume the buffer once, in time order, in micro-batches (--steps and --batch are then unused)')
    .option('--micro-batch <n>', 'online: transitions per update', '1')
    .option('--passes <n>', 'online: passes over the stream', '1')
    .option('--anchor <x>', 'online: pull towards the trained prompt after each step, p -= lr * x * (p - p0)', '0')
    .option('--trust-radius <x>', 'online: keep ||p - p0|| <= x * ||p0|| (0: off)', '0')
    .option('--ema <x>', 'online: act with an EMA of the prompt with this decay (0: off)', '0')
    .option('--max-loss-ratio <x>', 'online: skip micro-batches whose loss exceeds x times the running mean (0: off)', '0')
    .option('--collapse-ratio <x>', 'online: reset to the trained prompt when the running loss exceeds x times the first window (0: off)', '0')
    .option('--collapse-window <n>', 'online: steps of the collapse reference and of the running mean', '50')
    .action(async (raw: unknown) => {
      const o = parseOptions(AdaptOptions, raw);
      const given = o.before ? readSweepBaseline(o.before, o.policy, o.shift, o.executeSteps) : undefined;
      const buffer = o.buffer ? await loadBuffer(o.buffer, o.shift) : undefined;
      await prepareOut(o.out);
      const initPromptFrom = o.initPromptFrom === 'auto' ? 'auto' : o.initPromptFrom === 'none' ? undefined : Number(o.initPromptFrom);
      let lastLine = 0;
      const r = await runOfflineLpo({
        checkpoint: o.policy,
        shift: o.shift,
        shiftSeed: o.shiftSeed,
        tasks: parseTaskList(o.tasks),
        episodesPerTask: o.episodes,
        seed: o.seed,
        bufferTrajectories: o.bufferTrajectories,
        bufferSeed: o.bufferSeed,
        mode: o.mode,
        steps: o.steps,
        batch: o.batch,
        lr: o.lr,
        weightDecay: o.weightDecay,
        optimizationSeed: o.optimizationSeed,
        ...(o.executeSteps !== undefined ? { executeSteps: o.executeSteps } : {}),
        workers: o.workers,
        envsPerWorker: o.envsPerWorker,
        render: ctx.renderer ?? 'native',
        ...(given ? { before: given } : {}),
        ...(buffer ? { buffer } : {}),
        ...(initPromptFrom !== undefined ? { initPromptFrom } : {}),
        ...(o.online
          ? {
              online: {
                lr: o.lr,
                weightDecay: o.weightDecay,
                seed: o.optimizationSeed,
                microBatch: o.microBatch,
                passes: o.passes,
                anchor: o.anchor,
                trustRadius: o.trustRadius,
                emaDecay: o.ema,
                maxLossRatio: o.maxLossRatio,
                collapseRatio: o.collapseRatio,
                collapseWindow: o.collapseWindow,
              },
            }
          : {}),
        onStage: (_stage, detail) => ctx.io.stderr(`adapt: ${detail}\n`),
        onProgress: (p) => {
          if (p.step === p.steps || performance.now() - lastLine > 10_000) {
            lastLine = performance.now();
            ctx.io.stderr(`adapt: ${p.task ?? 'all tasks'} step ${p.step}/${p.steps} state loss ${p.loss.toFixed(4)} (${p.seconds.toFixed(0)} s)\n`);
          }
        },
      });
      await writeLpoOutputs(o.out, r, { policy: o.policy, saveBuffer: o.saveBuffer === true });
      const { before, after } = r;
      ctx.io.stdout(
        formatComparison({
          ...r.comparison,
          a: { file: join(o.out, 'before.json'), policy: o.policy, shift: r.shift, shiftSeed: r.shiftSeed, seed: r.settings.seed, episodesPerTask: r.settings.episodesPerTask },
          b: { file: join(o.out, 'after.json'), policy: `${o.policy} + adapted prompt`, shift: r.shift, shiftSeed: r.shiftSeed, seed: r.settings.seed, episodesPerTask: r.settings.episodesPerTask },
        }),
      );
      ctx.io.stdout(
        `mean ${(100 * before.mean).toFixed(1)}% -> ${(100 * after.mean).toFixed(1)}%; buffer ${r.buffer.trajectories} trajectories (${r.buffer.successes} successes, ${r.buffer.transitions} transitions); ` +
          `optimization ${r.seconds.optimize.toFixed(0)} s, total ${r.seconds.total.toFixed(0)} s; wrote ${o.out}\n`,
      );
    });
}
