/**
 * `vla-ttt adapt`: test-time training of a checkpoint in a shifted world, by latent prompt
 * optimization (--method lpo, lib/adapt/offline-lpo.ts) or by EVOLVE-VLA test-time RL from a
 * progress critic (--method evolve, lib/evolve/evolve-loop.ts, as `vla-ttt evolve` runs it),
 * with the frozen and the adapted policy evaluated on the same episodes.
 *
 *   vla-ttt adapt --method lpo --policy models/tabletop-small.safetensors --shift camera --out runs/lpo-camera
 *   vla-ttt adapt --method evolve --checkpoint models/tabletop-small.safetensors --shift camera \
 *                 --episodes 50 --iterations 8 --json runs/evolve-camera.json
 *
 * --json OUT writes the contract (AdaptContract): { method, checkpoint, shift, shiftSeed, tasks,
 * episodesPerTask, seed, device, before: EVAL, after: EVAL, flips: { tasks: { NAME: FlipRow },
 * overall: FlipRow }, lossCurve: [{ step, loss, task? }], wallSeconds, ... } with EVAL = { mean,
 * tasks: { NAME: { episodes, successes, rate, ci95: [lo, hi] } } } and the method's details
 * after it (lpo: settings, buffer, optimizations, seconds; evolve: settings, seconds, iterations).
 *
 * --out DIR (created; must be new or empty) holds result.json (the same object), before.json and
 * after.json (full eval reports, episodes included, for `vla-ttt compare`); with lpo also
 * prompt.json (the adapted prompt blocks), loss.svg and with --save-buffer the buffer (buffer/);
 * with evolve evolved.safetensors, iterations.svg and value.svg. One of --out and --json is needed.
 */
import { readFileSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';

import type { Command } from 'commander';
import { z } from 'zod';

import { runOfflineLpo, summarizeEval, summarizeLpoResult, type EvalSummary, type OfflineLpoResult } from '../../adapt/offline-lpo.js';
import { TrajectoryBuffer } from '../../adapt/trajectory-buffer.js';
import { ArgumentError } from '../../errors.js';
import { lpoLossSvg } from '../../report/lpo-charts.js';
import { packageRoot } from '../../native/loader.js';
import { DatasetReader, writeFileAtomic } from '../../tabletop/dataset.js';
import type { EvalReport, PairedComparison } from '../../tabletop/eval.js';
import { DEFAULT_EXECUTE_STEPS } from '../../tabletop/policy-controller.js';
import { parseShift } from '../../tabletop/shifts.js';
import { defaultWorkers } from '../../tabletop/rollout.js';
import { parseTaskList } from '../../tabletop/tasks.js';
import { intOption, numberOption, parseOptions, policyOrCheckpoint, writeOutput, type CliContext } from '../context.js';
import { addDeviceOption, deviceField, resolveCpuDevice, resolveDevice, type Device } from '../device.js';
import { formatComparison } from './compare.js';
import { addEvolveOptions, EVOLVE_CPU_ONLY, EVOLVE_DEFAULTS, evolveOptionFields, parseHorizon, runEvolveCommand, type EvolveRunOutcome } from './evolve.js';
import type { SweepFile } from './sweep.js';


/** The critic the package ships: the default of --method evolve. */
export const SHIPPED_CRITIC = join(packageRoot, 'models', 'tabletop-critic.safetensors');

/** Defaults of the options both methods take, where they differ. */
const METHOD_DEFAULTS = {
  lpo: { episodes: 200, lr: 1e-3, batch: 128, anchor: 0 },
  evolve: { episodes: Number(EVOLVE_DEFAULTS.evalEpisodes), lr: Number(EVOLVE_DEFAULTS.lr), batch: Number(EVOLVE_DEFAULTS.batch), anchor: Number(EVOLVE_DEFAULTS.anchor) },
} as const;

/** Options that only one method reads (refused with the other when given on the command line). */
const LPO_ONLY = ['bufferTrajectories', 'bufferSeed', 'mode', 'steps', 'weightDecay', 'envsPerWorker', 'saveBuffer', 'buffer', 'initPromptFrom', 'online', 'microBatch', 'passes', 'trustRadius', 'ema', 'maxLossRatio', 'collapseRatio', 'collapseWindow'] as const;
const EVOLVE_ONLY = ['critic', 'update', 'progressMode', ...(Object.keys(evolveOptionFields) as Array<keyof typeof evolveOptionFields>)] as const;

const AdaptOptions = z.object({
  method: z.enum(['lpo', 'evolve']),
  policy: z.string().min(1).optional(),
  checkpoint: z.string().min(1).optional(),
  shift: z.string().min(1),
  shiftSeed: intOption(0),
  out: z.string().min(1).optional(),
  json: z.string().min(1).optional(),
  tasks: z.string(),
  episodes: intOption(1).optional(),
  seed: intOption(0),
  optimizationSeed: intOption(0),
  lr: numberOption(1e-8, 0.999).optional(),
  batch: intOption(1).optional(),
  anchor: numberOption(0, 1e6).optional(),
  executeSteps: intOption(1).optional(),
  workers: intOption(1),
  before: z.string().min(1).optional(),
  device: deviceField,
  // lpo
  bufferTrajectories: intOption(1),
  bufferSeed: intOption(0),
  mode: z.enum(['joint', 'per-task']),
  steps: intOption(0),
  weightDecay: numberOption(0, 10),
  envsPerWorker: intOption(1),
  saveBuffer: z.boolean().optional(),
  buffer: z.string().min(1).optional(),
  online: z.boolean().optional(),
  microBatch: intOption(1),
  passes: intOption(1),
  trustRadius: numberOption(0, 1e3),
  ema: numberOption(0, 0.999999),
  maxLossRatio: numberOption(0, 1e6),
  collapseRatio: numberOption(0, 1e6),
  collapseWindow: intOption(1),
  initPromptFrom: z.string().regex(/^(auto|none|\d+)$/, "must be 'auto', 'none' or an embodiment id"),
  // evolve
  critic: z.string().min(1).optional(),
  update: z.enum(['awr', 'fpo']),
  progressMode: z.enum(['accumulative', 'vanilla', 'binary']),
  ...evolveOptionFields,
});
type AdaptOptions = z.infer<typeof AdaptOptions>;

/**
 * What `vla-ttt adapt --json` writes and OUT/result.json holds, for either method (the CLI
 * contract); the method's details follow these fields in the file.
 */
export interface AdaptContract {
  method: 'lpo' | 'evolve';
  checkpoint: string;
  /** The shift's normalized text ('camera:1'). */
  shift: string;
  shiftSeed: number;
  tasks: string[];
  episodesPerTask: number;
  /** Protocol seed of the evaluation episodes (the same before and after). */
  seed: number;
  device: Device;
  before: EvalSummary;
  after: EvalSummary;
  /** The paired flip table per task and overall, with exact McNemar p-values. */
  flips: PairedComparison;
  /**
   * lpo: the state-grounding loss at each prompt step (`task` set in per-task mode); evolve: the
   * mean weighted flow-matching loss of each iteration's update (step = iteration, from 1; null
   * where no update ran).
   */
  lossCurve: Array<{ step: number; loss: number | null; task?: string }>;
  /** Wall time of the whole adaptation, evaluations included, seconds. */
  wallSeconds: number;
}

/** Refuses options, given on the command line, that `method` does not read. */
function refuseOtherMethodOptions(cmd: Command, method: 'lpo' | 'evolve'): void {
  const foreign = method === 'lpo' ? EVOLVE_ONLY : LPO_ONLY;
  const given = foreign.filter((k) => cmd.getOptionValueSource(k) === 'cli');
  if (given.length > 0) {
    const flags = given.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
    throw new ArgumentError('VLA_ARGUMENT', `${flags.join(', ')}: only with --method ${method === 'lpo' ? 'evolve' : 'lpo'}`);
  }
}

/**
 * The frozen policy's evaluation given with --before: from a `vla-ttt sweep` file (its evaluation
 * under `shift`) or a `vla-ttt eval --json` report, checked to be of `policy` with the same
 * execute steps. The run checks the shift, seeds, episodes and tasks against its own.
 */
function readBaseline(file: string, policy: string, shiftText: string, executeSteps: number | undefined): EvalReport {
  let data: (Partial<SweepFile> & Partial<EvalReport>) | null;
  try {
    data = JSON.parse(readFileSync(file, 'utf8')) as (Partial<SweepFile> & Partial<EvalReport>) | null;
  } catch (e) {
    throw new ArgumentError('VLA_ARGUMENT', `--before '${file}': not a readable sweep file or eval report (${(e as Error).message})`);
  }
  if (typeof data !== 'object' || data === null) throw new ArgumentError('VLA_ARGUMENT', `--before '${file}': not a sweep file or an eval report`);
  if (data.results === undefined && typeof data.tasks === 'object' && Array.isArray(data.episodes)) {
    const report = data as EvalReport;
    if (basename(report.policy) !== basename(policy)) throw new ArgumentError('VLA_ARGUMENT', `--before '${file}' evaluated ${report.policy}, not ${basename(policy)}`);
    return report;
  }
  const sweep = data as SweepFile;
  if (typeof sweep.results !== 'object' || sweep.results === null) throw new ArgumentError('VLA_ARGUMENT', `--before '${file}': no results (write it with vla-ttt sweep) and no episodes (vla-ttt eval --json)`);
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
 * Writes an offline LPO run into `dir` (see the module comment): result.json (`result`, by
 * default the run's summary), before.json, after.json, prompt.json, loss.svg, and with
 * `saveBuffer` the buffer. `vla-ttt demo` writes
 * through this too, so both commands' folders read the same.
 */
export async function writeLpoOutputs(dir: string, r: OfflineLpoResult, o: { policy: string; saveBuffer: boolean; result?: object }): Promise<void> {
  await writeFileAtomic(join(dir, 'result.json'), JSON.stringify(o.result ?? summarizeLpoResult(r), null, 1) + '\n');
  await writeFileAtomic(join(dir, 'before.json'), JSON.stringify(r.before) + '\n');
  await writeFileAtomic(join(dir, 'after.json'), JSON.stringify(r.after) + '\n');
  await writeFileAtomic(join(dir, 'prompt.json'), JSON.stringify({ checkpoint: o.policy, shift: r.shift, mode: r.mode, shape: r.promptShape, prompts: r.prompts }) + '\n');
  await writeFileAtomic(join(dir, 'loss.svg'), lpoLossSvg(r));
  if (o.saveBuffer) await r.bufferObject.save(join(dir, 'buffer'), { shift: r.shift, shiftSeed: r.shiftSeed, seed: r.settings.bufferSeed });
}

/** One adaptation's contract, the JSON it writes (the contract, then the method's details), and a line about the run. */
interface AdaptRun {
  contract: AdaptContract;
  json: AdaptContract & Record<string, unknown>;
  summary: string;
}

/** The lpo path: runOfflineLpo with the options, the contract and the files. */
async function adaptLpo(o: AdaptOptions, checkpoint: string, device: Device, ctx: CliContext): Promise<AdaptRun> {
  const d = METHOD_DEFAULTS.lpo;
  const episodes = o.episodes ?? d.episodes;
  const lr = o.lr ?? d.lr;
  const given = o.before ? readBaseline(o.before, checkpoint, o.shift, o.executeSteps) : undefined;
  const buffer = o.buffer ? await loadBuffer(o.buffer, o.shift) : undefined;
  const initPromptFrom = o.initPromptFrom === 'auto' ? 'auto' : o.initPromptFrom === 'none' ? undefined : Number(o.initPromptFrom);
  const tasks = parseTaskList(o.tasks);
  if (o.out) await prepareOut(o.out);
  let lastLine = 0;
  const r = await runOfflineLpo({
    checkpoint,
    device,
    shift: o.shift,
    shiftSeed: o.shiftSeed,
    tasks,
    episodesPerTask: episodes,
    seed: o.seed,
    bufferTrajectories: o.bufferTrajectories,
    bufferSeed: o.bufferSeed,
    mode: o.mode,
    steps: o.steps,
    batch: o.batch ?? d.batch,
    lr,
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
            lr,
            weightDecay: o.weightDecay,
            seed: o.optimizationSeed,
            microBatch: o.microBatch,
            passes: o.passes,
            anchor: o.anchor ?? d.anchor,
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
  const contract: AdaptContract = {
    method: 'lpo',
    checkpoint,
    shift: r.shift,
    shiftSeed: r.shiftSeed,
    tasks,
    episodesPerTask: r.settings.episodesPerTask,
    seed: r.settings.seed,
    device,
    before: summarizeEval(r.before),
    after: summarizeEval(r.after),
    flips: r.comparison,
    lossCurve: r.optimizations.flatMap((opt) => opt.lossCurve.map((p) => ({ step: p.step, loss: p.loss, ...(opt.task !== null ? { task: opt.task } : {}) }))),
    wallSeconds: r.seconds.total,
  };
  const { before: _b, after: _a, checkpoint: _c, shift: _s, shiftSeed: _ss, ...details } = summarizeLpoResult(r);
  const json = { ...contract, ...details };
  if (o.out) await writeLpoOutputs(o.out, r, { policy: checkpoint, saveBuffer: o.saveBuffer === true, result: json });
  const summary =
    `buffer ${r.buffer.trajectories} trajectories (${r.buffer.successes} successes, ${r.buffer.transitions} transitions); ` +
    `optimization ${r.seconds.optimize.toFixed(0)} s, total ${r.seconds.total.toFixed(0)} s`;
  return { contract, json, summary };
}

/** The evolve path: the evolve command's run (runEvolveCommand), the contract and the files. */
async function adaptEvolve(o: AdaptOptions, checkpoint: string, device: Device, ctx: CliContext): Promise<AdaptRun> {
  const d = METHOD_DEFAULTS.evolve;
  const critic = o.critic ?? SHIPPED_CRITIC;
  const anchor = o.anchor ?? d.anchor;
  if (anchor > 1) throw new ArgumentError('VLA_ARGUMENT', `--anchor ${anchor}: with --method evolve a fraction in [0, 1]`);
  const episodes = o.episodes ?? d.episodes;
  const tasks = parseTaskList(o.tasks);
  const shift = parseShift(o.shift).text;
  parseHorizon(o.horizon);
  const before = o.before ? { report: readBaseline(o.before, checkpoint, o.shift, o.executeSteps), file: o.before } : null;
  const lr = o.lr ?? d.lr;
  const batch = o.batch ?? d.batch;
  if (o.out) await prepareOut(o.out);
  const run: EvolveRunOutcome = await runEvolveCommand(
    {
      policy: checkpoint,
      critic,
      tasks,
      shift,
      shiftSeed: o.shiftSeed,
      knobs: o,
      method: o.update,
      mode: o.progressMode,
      lr,
      batch,
      anchor,
      evaluation: { episodes, seed: o.seed, before },
      executeSteps: o.executeSteps,
      seed: o.optimizationSeed,
      workers: o.workers,
      out: o.out ?? null,
    },
    (m) => ctx.io.stderr(`adapt: ${m}\n`),
  );
  const { before: b, after: a, comparison: flips, result } = run;
  if (!b || !a || !flips) throw new Error('adapt --method evolve: the run ended without its evaluations');
  const contract: AdaptContract = {
    method: 'evolve',
    checkpoint,
    shift,
    shiftSeed: o.shiftSeed,
    tasks,
    episodesPerTask: episodes,
    seed: o.seed,
    device,
    before: summarizeEval(b),
    after: summarizeEval(a),
    flips,
    lossCurve: result.iterations.map((it) => ({ step: it.iteration + 1, loss: it.loss })),
    wallSeconds: run.wallSeconds,
  };
  // Every evolve knob as run (the shared fields, so a knob added there is recorded here too).
  const knobs = Object.fromEntries((Object.keys(evolveOptionFields) as Array<keyof typeof evolveOptionFields>).map((k) => [k, o[k] ?? null]));
  const settings = {
    critic, update: o.update, progressMode: o.progressMode, lr, batch, anchor, optimizationSeed: o.optimizationSeed, executeSteps: o.executeSteps ?? null, workers: o.workers,
    ...knobs,
  };
  const json = { ...contract, settings, seconds: { evolve: result.seconds, total: run.wallSeconds }, iterations: result.iterations };
  if (o.out) await writeFileAtomic(join(o.out, 'result.json'), JSON.stringify(json, null, 1) + '\n');
  const updates = result.iterations.reduce((n, it) => n + it.updateSteps, 0);
  const summary = `${result.iterations.length} iterations (${updates} update steps) in ${result.seconds.toFixed(0)} s, total ${run.wallSeconds.toFixed(0)} s`;
  return { contract, json, summary };
}

export function registerAdapt(program: Command, ctx: CliContext): Command {
  const cmd = program
    .command('adapt')
    .description('test-time training in a shifted world: evaluate, adapt by latent prompt optimization (lpo) or EVOLVE test-time RL (evolve), evaluate the same episodes again')
    .requiredOption('--method <name>', 'lpo (latent prompt optimization, TTT-VLA) or evolve (progress-critic RL, EVOLVE-VLA)')
    .option('--policy <file>', 'the checkpoint to adapt (vla-ttt train)')
    .option('--checkpoint <file>', 'the same as --policy FILE')
    .requiredOption('--shift <preset>', 'the target world, e.g. camera, lighting+latency:2')
    .option('--out <dir>', 'folder for the results (created; must be new or empty)')
    .option('--json <file>', 'write the result (before, after, flips, lossCurve, wallSeconds, ...) as JSON')
    .option('--shift-seed <n>', 'seed of the shift realization', '0')
    .option('--tasks <list>', 'comma-separated task names or suites', 'base')
    .option('--episodes <n>', `evaluation episodes per task, before and after (default ${METHOD_DEFAULTS.lpo.episodes} with lpo, ${METHOD_DEFAULTS.evolve.episodes} with evolve)`)
    .option('--seed <n>', 'evaluation protocol seed', '0')
    .option('--optimization-seed <n>', 'lpo: seed of the batch and flow draws; evolve: seed of the training rollouts, noise and updates', '0')
    .option('--lr <x>', `AdamW learning rate (default ${METHOD_DEFAULTS.lpo.lr} of the prompt with lpo, ${METHOD_DEFAULTS.evolve.lr} with evolve)`)
    .option('--batch <n>', `transitions per step (default ${METHOD_DEFAULTS.lpo.batch} with lpo, ${METHOD_DEFAULTS.evolve.batch} with evolve)`)
    .option('--anchor <x>', 'lpo online: pull towards the trained prompt after each step, p -= lr * x * (p - p0); evolve: pull the trained weights toward the pretrained ones by this fraction (<= 1) after each step (default 0: off)')
    .option('--execute-steps <n>', 'actions of each chunk executed before replanning (default min(2, the chunk length))')
    .option('--workers <n>', 'worker threads', String(defaultWorkers()))
    .option('--before <file>', "reuse the frozen policy's evaluation: a vla-ttt sweep file (its evaluation under --shift) or a vla-ttt eval --json report (same policy and settings)")
    // lpo
    .option('--buffer-trajectories <n>', 'lpo: trajectories the frozen policy collects in the target world', '800')
    .option('--buffer-seed <n>', 'lpo: seed of the buffer episodes (must differ from --seed)', '1')
    .option('--mode <mode>', 'lpo: joint (one prompt for all tasks) or per-task', 'joint')
    .option('--steps <n>', 'lpo: prompt optimization steps (fixed in advance)', '500')
    .option('--weight-decay <x>', 'lpo: AdamW weight decay of the prompt', '0')
    .option('--envs-per-worker <n>', 'lpo: environments per worker', '8')
    .option('--buffer <dir>', 'lpo: use a buffer saved by an earlier run (--save-buffer) in the same world instead of collecting one')
    .option('--save-buffer', 'lpo: also write the buffer as a dataset folder (OUT/buffer)')
    .option('--init-prompt-from <id|auto|none>', "lpo: start the adapted block from this embodiment's trained block; auto: when the checkpoint records that the target embodiment had no training data, from the embodiment with the most", 'auto')
    .option('--online', 'lpo: online protocol: consume the buffer once, in time order, in micro-batches (--steps and --batch are then unused)')
    .option('--micro-batch <n>', 'lpo online: transitions per update', '1')
    .option('--passes <n>', 'lpo online: passes over the stream', '1')
    .option('--trust-radius <x>', 'lpo online: keep ||p - p0|| <= x * ||p0|| (0: off)', '0')
    .option('--ema <x>', 'lpo online: act with an EMA of the prompt with this decay (0: off)', '0')
    .option('--max-loss-ratio <x>', 'lpo online: skip micro-batches whose loss exceeds x times the running mean (0: off)', '0')
    .option('--collapse-ratio <x>', 'lpo online: reset to the trained prompt when the running loss exceeds x times the first window (0: off)', '0')
    .option('--collapse-window <n>', 'lpo online: steps of the collapse reference and of the running mean', '50')
    // evolve
    .option('--critic <file>', "evolve: progress critic checkpoint (vla-ttt train-critic), or 'oracle' for the ground-truth progress (default: the shipped models/tabletop-critic.safetensors)")
    .option('--update <m>', 'evolve: awr (advantage-weighted CFM) or fpo (clipped CFM-loss ratio)', EVOLVE_DEFAULTS.method)
    .option('--progress-mode <m>', 'evolve: progress estimation: accumulative, vanilla (first vs current frame), binary (0/1 reward)', EVOLVE_DEFAULTS.mode);
  addEvolveOptions(cmd);
  return addDeviceOption(cmd)
    .addHelpText(
      'after',
      [
        '',
        "Options marked lpo: or evolve: are refused with the other method. The evolve options are vla-ttt evolve's",
        '(--update and --progress-mode are its --method and --mode; --optimization-seed its --seed).',
        '',
        'Examples:',
        '  vla-ttt adapt --method lpo --policy models/tabletop-small.safetensors --shift camera --out runs/lpo-camera',
        '  vla-ttt adapt --method evolve --checkpoint models/tabletop-small.safetensors --shift camera --episodes 50 \\',
        '                --iterations 8 --json runs/evolve-camera.json',
      ].join('\n'),
    )
    .action(async (raw: unknown, command: Command) => {
      const o = parseOptions(AdaptOptions, raw);
      refuseOtherMethodOptions(command, o.method);
      const checkpoint = policyOrCheckpoint(o);
      if (!o.out && !o.json) throw new ArgumentError('VLA_ARGUMENT', 'one of --out DIR or --json FILE is required (where the result goes)');
      // Offline LPO acts and takes prompt steps only: the device runs it. Online LPO and EVOLVE stay on the CPU.
      const device =
        o.method === 'evolve' ? resolveCpuDevice(o.device, 'adapt --method evolve', EVOLVE_CPU_ONLY)
        : o.online ? resolveCpuDevice(o.device, 'adapt --online', 'the online learner is not wired to the device path yet')
        : resolveDevice(o.device);
      const r = o.method === 'lpo' ? await adaptLpo(o, checkpoint, device, ctx) : await adaptEvolve(o, checkpoint, device, ctx);
      if (o.json) {
        await writeOutput('--json', o.json, JSON.stringify(r.json, null, 1) + '\n');
      }
      const c = r.contract;
      const side = (which: 'before' | 'after', policy: string) => ({ file: o.out ? join(o.out, `${which}.json`) : which, policy, shift: c.shift, shiftSeed: c.shiftSeed, seed: c.seed, episodesPerTask: c.episodesPerTask });
      ctx.io.stdout(formatComparison({ ...c.flips, a: side('before', checkpoint), b: side('after', `${checkpoint} + ${o.method === 'lpo' ? 'adapted prompt' : 'evolved weights'}`) }));
      const wrote = [o.out, o.json].filter(Boolean).join(' and ');
      ctx.io.stdout(`${o.method}: mean ${(100 * c.before.mean).toFixed(1)}% -> ${(100 * c.after.mean).toFixed(1)}%; ${r.summary}; device ${device}; wrote ${wrote}\n`);
    });
}
