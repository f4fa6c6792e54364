/**
 * `vla-ttt evolve`: EVOLVE-VLA test-time RL (evolve/evolve-loop.ts) on a checkpoint, with a
 * before/after evaluation on the same held-out episodes.
 *
 *   vla-ttt evolve --policy models/tabletop-small.safetensors --critic runs/critic.safetensors \
 *                  --tasks base --iterations 10 --group-size 8 --params action --out runs/evolve-base
 *   vla-ttt evolve ... --critic oracle          # ground-truth progress (ablation, upper bound)
 *   vla-ttt evolve ... --mode vanilla --horizon none --prompt-state-steps 1   # ablations, combined mode
 *
 * OUT/ holds result.json (settings, every iteration's groups, rewards, critic calls and reward
 * hacking, the paired before/after comparison), before.json and after.json (evaluation reports),
 * evolved.safetensors (the updated checkpoint), iterations.svg (success, reward and hacking per
 * iteration) and value.svg (v over one episode of each iteration).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Command } from 'commander';
import { z } from 'zod';

import { ArgumentError } from '../../errors.js';
import { carriedMetadata } from '../../model/model-io.js';
import { runEvolve, type EvolveIteration, type EvolveParams, type EvolveResult } from '../../evolve/evolve-loop.js';
import type { HorizonStage } from '../../evolve/horizon-schedule.js';
import { ProgressCritic } from '../../evolve/progress-critic.js';
import type { ProgressMode } from '../../evolve/progress-estimator.js';
import { lineChartSvg } from '../../report/svg-chart.js';
import { DemoSet } from '../../train/demo-set.js';
import { writeFileAtomic } from '../../tabletop/dataset.js';
import { comparePaired, evaluate, type EvalReport, type PairedComparison } from '../../tabletop/eval.js';
import { loadController, PolicyController } from '../../tabletop/policy-controller.js';
import { defaultWorkers } from '../../tabletop/rollout.js';
import { parseShift } from '../../tabletop/shifts.js';
import { parseTaskList } from '../../tabletop/tasks.js';
import { intOption, numberOption, parseOptions, policyOrCheckpoint, type CliContext } from '../context.js';
import { addDeviceOption, deviceField, resolveCpuDevice } from '../device.js';
import { addEstimatorOptions, estimatorOptionFields } from './estimator-options.js';

/**
 * Defaults of the settings `vla-ttt adapt --method evolve` names differently or shares with LPO
 * (the update method, the progress mode, lr, batch, anchor, the evaluation episodes).
 */
/** Why EVOLVE runs on the CPU only (`evolve` and `adapt --method evolve` refuse --device cuda with it). */
export const EVOLVE_CPU_ONLY = 'its update needs per-sample flow losses (flowLoss), flowStep and the progress critic, which the device path lacks';

export const EVOLVE_DEFAULTS = { method: 'awr', mode: 'accumulative', lr: '1e-4', batch: '64', anchor: '0', evalEpisodes: '50' } as const;

/** Zod fields of the EVOLVE knobs both commands name the same (addEvolveOptions registers them). */
export const evolveOptionFields = {
  iterations: intOption(1),
  groupSize: intOption(2),
  groupsPerTask: intOption(1),
  params: z.enum(['prompt', 'action', 'all']),
  weighting: z.enum(['exp', 'positive']),
  fpoClip: numberOption(0, 1),
  fpoDraws: intOption(1),
  beta: numberOption(0, 1000),
  maxWeight: numberOption(0, 1e6),
  epochs: intOption(1),
  horizon: z.string(),
  ...estimatorOptionFields,
  promptStateSteps: intOption(0),
  promptLr: numberOption(0, 1),
  replay: z.string().min(1).optional(),
  replayWeight: numberOption(0, 100),
  replayEpisodesPerTask: intOption(1).optional(),
};
const evolveKnobs = z.object(evolveOptionFields);
export type EvolveKnobs = z.infer<typeof evolveKnobs>;

/** The evolve command's own options, with the shared knobs. */
const EvolveCliOptions = z.object({
  policy: z.string().min(1).optional(),
  checkpoint: z.string().min(1).optional(),
  critic: z.string().min(1),
  tasks: z.string(),
  shift: z.string(),
  shiftSeed: intOption(0),
  method: z.enum(['awr', 'fpo']),
  mode: z.enum(['accumulative', 'vanilla', 'binary']),
  anchor: numberOption(0, 1),
  lr: numberOption(0, 1),
  batch: intOption(1),
  ...evolveOptionFields,
  evalEpisodes: intOption(1),
  evalSeed: intOption(0),
  before: z.string().min(1).optional(),
  eval: z.boolean(),
  executeSteps: intOption(1).optional(),
  seed: intOption(0),
  workers: intOption(1),
  out: z.string().min(1),
  device: deviceField,
});

/** '--horizon': 'default', 'none', or stages 'MAXSTEPS:UNTIL_ITERATION,...' (e.g. 40:4,80:8,120:12). */
export function parseHorizon(text: string): HorizonStage[] | 'none' | undefined {
  if (text === 'default') return undefined;
  if (text === 'none') return 'none';
  return text.split(',').map((part) => {
    const m = /^(\d+):(\d+)$/.exec(part.trim());
    if (!m) throw new ArgumentError('VLA_ARGUMENT', `--horizon: '${part}' is not MAXSTEPS:UNTIL_ITERATION (e.g. 40:4,80:8,120:12), 'default' or 'none'`);
    return { maxSteps: Number(m[1]), untilIteration: Number(m[2]) };
  });
}

function iterationsSvg(its: readonly EvolveIteration[]): string {
  return lineChartSvg(
    [
      { name: 'environment success (training rollouts)', points: its.map((i) => [i.iteration, i.envSuccess] as const) },
      { name: 'mean reward v / 100', points: its.map((i) => [i.iteration, i.meanReward] as const) },
      { name: 'reward hacking (done, failed) / rollouts', points: its.map((i) => [i.iteration, i.rewardHacking / Math.max(1, i.episodes.length)] as const) },
    ],
    { title: 'EVOLVE iterations', xLabel: 'iteration', yLabel: 'fraction' },
  );
}

function valueSvg(its: readonly EvolveIteration[]): string {
  const pick = its.filter((_, k) => k === 0 || k === its.length - 1 || k % Math.max(1, Math.floor(its.length / 4)) === 0);
  return lineChartSvg(
    pick.map((i) => ({ name: `iteration ${i.iteration} (first rollout)`, points: [[0, 0] as const, ...i.exampleHistory.map((p) => [p.step, p.value] as const)] })),
    { title: 'Accumulated progress v over an episode', xLabel: 'step', yLabel: 'v (0..100)' },
  );
}

/** Registers the EVOLVE knobs of evolveOptionFields, with the evolve command's defaults. */
export function addEvolveOptions(cmd: Command): Command {
  cmd
    .option('--iterations <n>', 'rollout-and-update iterations', '10')
    .option('--group-size <n>', 'G: rollouts per initial state', '8')
    .option('--groups-per-task <n>', 'initial states per task per iteration', '1')
    .option('--params <which>', 'parameters that move: prompt, action, all', 'action')
    .option('--weighting <w>', "AWR weights: exp (every rollout, better ones more) or positive (only rollouts above their group's mean)", 'exp')
    .option('--fpo-clip <x>', 'FPO ratio clip epsilon', '0.2')
    .option('--fpo-draws <n>', 'FPO (noise, time) draws per chunk', '4')
    .option('--beta <x>', 'temperature of the advantage weights exp(A / beta)', '1')
    .option('--max-weight <x>', 'clip of the advantage weights', '5')
    .option('--epochs <n>', "passes over an iteration's samples", '1')
    .option('--horizon <stages>', "progressive horizon: 'default' (3 stages), 'none', or MAXSTEPS:UNTIL_ITERATION,...", 'default')
    .option('--prompt-state-steps <n>', 'combined mode: state-grounding prompt steps after each update step', '0')
    .option('--prompt-lr <x>', 'learning rate of those prompt steps', '1e-3')
    .option('--replay <dirs>', 'demonstration folders (comma-separated) replayed beside the rollouts: one CFM step on them after every update step')
    .option('--replay-weight <x>', 'learning-rate multiplier of the replay steps', '1')
    .option('--replay-episodes-per-task <n>', "replay only the first N successful episodes of each task (e.g. 1: a one-demo policy's own demonstrations)");
  return addEstimatorOptions(cmd);
}

/** Everything one EVOLVE run with its before/after evaluation needs, options resolved. */
export interface EvolveRunSettings {
  /** The checkpoint (vla-ttt train). */
  policy: string;
  /** A critic checkpoint, or 'oracle'. */
  critic: string;
  tasks: string[];
  /** Normalized shift text. */
  shift: string;
  shiftSeed: number;
  knobs: EvolveKnobs;
  /** The update method, progress mode, lr, batch and anchor (named differently by the two commands). */
  method: 'awr' | 'fpo';
  mode: ProgressMode;
  lr: number;
  batch: number;
  anchor: number;
  /** The held-out evaluation before and after (null: none); `before` reuses an earlier one. */
  evaluation: { episodes: number; seed: number; before: { report: EvalReport; file: string } | null } | null;
  executeSteps: number | undefined;
  /** Seed of the initial states, noise and updates. */
  seed: number;
  workers: number;
  /** Folder for before.json, after.json, evolved.safetensors, iterations.svg, value.svg (null: none). */
  out: string | null;
}

export interface EvolveRunOutcome {
  before: EvalReport | null;
  after: EvalReport | null;
  comparison: PairedComparison | null;
  result: EvolveResult;
  /** Wall time of the whole run, evaluations included, seconds. */
  wallSeconds: number;
}

/**
 * Evaluates the frozen policy (or checks the given evaluation against the settings), runs
 * EVOLVE, evaluates the evolved policy on the same episodes, and with `out` writes the folder
 * (see the module comment; result.json is the caller's). `vla-ttt evolve` and
 * `vla-ttt adapt --method evolve` run through this.
 */
export async function runEvolveCommand(s: EvolveRunSettings, log: (line: string) => void): Promise<EvolveRunOutcome> {
  const started = performance.now();
  const horizon = parseHorizon(s.knobs.horizon);
  const controllerOptions = s.executeSteps !== undefined ? { executeSteps: s.executeSteps } : {};
  const controller = loadController(s.policy, controllerOptions);
  const critic = s.critic === 'oracle' ? 'oracle' : ProgressCritic.load(s.critic);
  const ev = s.evaluation;
  const common = ev && { policyName: s.policy, shift: s.shift, shiftSeed: s.shiftSeed, workers: s.workers, tasks: s.tasks, episodesPerTask: ev.episodes, seed: ev.seed, imageSize: { width: controller.policy.config.image_size, height: controller.policy.config.image_size } };
  const write = async (name: string, text: string) => {
    if (s.out) await writeFileAtomic(join(s.out, name), text);
  };

  let before: EvalReport | null = null;
  if (ev && common) {
    if (ev.before) {
      const b = ev.before.report;
      if (b.shift !== s.shift || b.seed !== ev.seed || b.episodesPerTask !== ev.episodes || Object.keys(b.tasks).join(',') !== s.tasks.join(',')) {
        throw new ArgumentError('VLA_ARGUMENT', `--before ${ev.before.file}: it evaluated shift '${b.shift}', seed ${b.seed}, ${b.episodesPerTask} episodes of ${Object.keys(b.tasks).join(',')}; this run needs '${s.shift}', seed ${ev.seed}, ${ev.episodes} of ${s.tasks.join(',')}`);
      }
      before = b;
      log(`reusing ${ev.before.file} (mean ${(100 * before.mean).toFixed(1)}%)`);
    } else {
      log(`evaluating the frozen policy: ${ev.episodes} episodes per task under '${s.shift}'`);
      before = await evaluate({ ...common, policy: controller.batchPolicy });
      log(`before: mean ${(100 * before.mean).toFixed(1)}%`);
    }
    await write('before.json', JSON.stringify(before) + '\n');
  }

  const policy = controller.policy;
  const k = s.knobs;
  const replay = k.replay
    ? await DemoSet.load(k.replay.split(',').map((x) => x.trim()).filter((x) => x.length > 0), k.replayEpisodesPerTask !== undefined ? { maxEpisodesPerTask: k.replayEpisodesPerTask } : {})
    : null;
  if (replay) log(`replaying ${replay.episodes.length} demonstration episode(s) (${replay.samples} samples) from ${k.replay}`);
  const partial: EvolveIteration[] = [];
  const result = await runEvolve({
    policy,
    normalization: controller.normalization,
    critic,
    tasks: s.tasks,
    env: { shift: s.shift, shiftSeed: s.shiftSeed },
    iterations: k.iterations,
    groupSize: k.groupSize,
    groupsPerTask: k.groupsPerTask,
    ...(horizon !== undefined ? { horizon } : {}),
    progress: { milestoneEvery: k.milestoneEvery, checkEvery: k.checkEvery, tau: k.tau, mode: s.mode },
    update: {
      method: s.method, weighting: k.weighting, anchor: s.anchor, fpoClip: k.fpoClip, fpoDraws: k.fpoDraws, params: k.params as EvolveParams, lr: s.lr, beta: k.beta, maxWeight: k.maxWeight, epochs: k.epochs, batch: s.batch, promptStateSteps: k.promptStateSteps, promptLr: k.promptLr,
      ...(replay ? { replay, replayWeight: k.replayWeight } : {}),
    },
    ...controllerOptions,
    seed: s.seed,
    workers: s.workers,
    onIteration: async (it) => {
      log(
        `iteration ${it.iteration + 1}/${k.iterations} (stage ${it.stage}, H_max ${it.maxSteps}): env success ${(100 * it.envSuccess).toFixed(1)}%, reward ${it.meanReward.toFixed(3)}, ` +
          `critic done ${it.criticDone} (hacked ${it.rewardHacking}), tied groups ${it.tiedGroups}, ${it.updateSteps} update steps on ${it.samples} chunks` +
          `${it.clippedFraction !== null ? ` (${(100 * it.clippedFraction).toFixed(0)}% clipped)` : ''}, ${it.seconds.toFixed(0)} s`,
      );
      await write('iterations.svg', iterationsSvg([...partial, it]));
      partial.push(it);
    },
  });
  const evolved = s.out ? join(s.out, 'evolved.safetensors') : null;
  if (evolved) policy.save(evolved, { ...carriedMetadata(policy.metadata), evolvedFrom: s.policy, evolve: JSON.stringify({ critic: s.critic, iterations: k.iterations, params: k.params, method: s.method, seed: s.seed }) });
  await write('value.svg', valueSvg(result.iterations));

  let after: EvalReport | null = null;
  if (common) {
    log('evaluating the evolved policy on the same episodes');
    // From the written checkpoint when there is one (what a user gets), else the weights in memory.
    const evaluated = evolved ? loadController(evolved, controllerOptions) : new PolicyController(policy, controller.normalization, controllerOptions);
    after = await evaluate({ ...common, policy: evaluated.batchPolicy });
    await write('after.json', JSON.stringify(after) + '\n');
  }
  const comparison = before && after ? comparePaired(before, after) : null;
  return { before, after, comparison, result, wallSeconds: (performance.now() - started) / 1000 };
}

export function registerEvolve(program: Command, ctx: CliContext): Command {
  const cmd = program
    .command('evolve')
    .description('EVOLVE-VLA: improve a policy from environment feedback scored by a progress critic (group-relative, advantage-weighted flow updates)')
    .option('--policy <file>', 'checkpoint to improve (vla-ttt train)')
    .option('--checkpoint <file>', 'the same as --policy FILE')
    .requiredOption('--critic <file>', "progress critic checkpoint (vla-ttt train-critic), or 'oracle' for the ground-truth progress")
    .requiredOption('--out <dir>', 'folder for the results and the evolved checkpoint')
    .option('--tasks <list>', 'comma-separated task names or suites (base, long, heldout, all)', 'base')
    .option('--shift <preset>', 'domain shift of the deployment world', 'source')
    .option('--shift-seed <n>', 'seed of the shift realization', '0')
    .option('--method <m>', 'update: awr (advantage-weighted CFM) or fpo (clipped CFM-loss ratio)', EVOLVE_DEFAULTS.method)
    .option('--mode <m>', 'progress estimation: accumulative, vanilla (first vs current frame), binary (0/1 reward)', EVOLVE_DEFAULTS.mode)
    .option('--anchor <x>', 'pull the trained weights toward the pretrained ones by this fraction after every step (0 = off)', EVOLVE_DEFAULTS.anchor)
    .option('--lr <x>', 'AdamW learning rate of the update', EVOLVE_DEFAULTS.lr)
    .option('--batch <n>', 'samples per update step', EVOLVE_DEFAULTS.batch);
  addEvolveOptions(cmd)
    .option('--eval-episodes <n>', 'held-out evaluation episodes per task, before and after', EVOLVE_DEFAULTS.evalEpisodes)
    .option('--eval-seed <n>', 'protocol seed of the evaluation episodes', '0')
    .option('--before <file>', 'reuse an earlier evaluation of the frozen policy (vla-ttt eval --json) on the same episodes')
    .option('--no-eval', 'skip the before/after evaluation')
    .option('--execute-steps <n>', 'actions of each chunk executed before replanning')
    .option('--seed <n>', 'seed of the initial states, noise and updates', '0')
    .option('--workers <n>', 'worker threads', String(defaultWorkers()));
  return addDeviceOption(cmd)
    .addHelpText('after', '\nExample:\n  vla-ttt evolve --policy models/tabletop-small.safetensors --critic models/tabletop-critic.safetensors --tasks base --iterations 8 --out runs/evolve')
    .action(async (raw: unknown) => {
      const o = parseOptions(EvolveCliOptions, raw);
      const checkpoint = policyOrCheckpoint(o);
      const device = resolveCpuDevice(o.device, 'vla-ttt evolve', EVOLVE_CPU_ONLY);
      const tasks = parseTaskList(o.tasks);
      const shift = parseShift(o.shift);
      parseHorizon(o.horizon);
      if (existsSync(join(o.out, 'result.json'))) throw new ArgumentError('VLA_ARGUMENT', `--out '${o.out}' already holds a result.json; choose a new folder`);
      mkdirSync(o.out, { recursive: true });
      const before = o.eval && o.before ? { report: JSON.parse(readFileSync(o.before, 'utf8')) as EvalReport, file: o.before } : null;
      const { before: b, after, comparison, result } = await runEvolveCommand(
        {
          policy: checkpoint,
          critic: o.critic,
          tasks,
          shift: shift.text,
          shiftSeed: o.shiftSeed,
          knobs: o,
          method: o.method,
          mode: o.mode,
          lr: o.lr,
          batch: o.batch,
          anchor: o.anchor,
          evaluation: o.eval ? { episodes: o.evalEpisodes, seed: o.evalSeed, before } : null,
          executeSteps: o.executeSteps,
          seed: o.seed,
          workers: o.workers,
          out: o.out,
        },
        (m) => ctx.io.stderr(`evolve: ${m}\n`),
      );
      const { out: _out, checkpoint: _checkpoint, ...settings } = o;
      await writeFileAtomic(join(o.out, 'result.json'), JSON.stringify({ settings: { ...settings, policy: checkpoint, device }, seconds: result.seconds, before: b && { mean: b.mean, tasks: b.tasks }, after: after && { mean: after.mean, tasks: after.tasks }, comparison, iterations: result.iterations }, null, 1) + '\n');
      if (comparison && b && after) {
        const c = comparison.overall;
        ctx.io.stdout(`evolve: ${(100 * b.mean).toFixed(1)}% -> ${(100 * after.mean).toFixed(1)}% on ${c.total} paired episodes (${c.failToSucc} fail->succ, ${c.succToFail} succ->fail, McNemar p = ${c.pValue.toPrecision(2)}); ${o.out}/result.json\n`);
      } else {
        ctx.io.stdout(`evolve: ${result.iterations.length} iterations in ${result.seconds.toFixed(0)} s; ${o.out}/result.json\n`);
      }
    });
}
