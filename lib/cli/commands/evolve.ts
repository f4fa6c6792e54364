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
import { runEvolve, type EvolveIteration, type EvolveParams } from '../../evolve/evolve-loop.js';
import type { HorizonStage } from '../../evolve/horizon-schedule.js';
import { ProgressCritic } from '../../evolve/progress-critic.js';
import type { ProgressMode } from '../../evolve/progress-estimator.js';
import { lineChartSvg } from '../../report/svg-chart.js';
import { writeFileAtomic } from '../../tabletop/dataset.js';
import { comparePaired, evaluate, type EvalReport } from '../../tabletop/eval.js';
import { loadController } from '../../tabletop/policy-controller.js';
import { defaultWorkers } from '../../tabletop/rollout.js';
import { parseShift } from '../../tabletop/shifts.js';
import { parseTaskList } from '../../tabletop/tasks.js';
import { intOption, numberOption, parseOptions, type CliContext } from '../context.js';
import { addEstimatorOptions, estimatorOptionFields } from './estimator-options.js';

const EvolveCliOptions = z.object({
  policy: z.string().min(1),
  critic: z.string().min(1),
  tasks: z.string(),
  shift: z.string(),
  shiftSeed: intOption(0),
  iterations: intOption(1),
  groupSize: intOption(2),
  groupsPerTask: intOption(1),
  params: z.enum(['prompt', 'action', 'all']),
  method: z.enum(['awr', 'fpo']),
  weighting: z.enum(['exp', 'positive']),
  anchor: numberOption(0, 1),
  fpoClip: numberOption(0, 1),
  fpoDraws: intOption(1),
  lr: numberOption(0, 1),
  beta: numberOption(0, 1000),
  maxWeight: numberOption(0, 1e6),
  epochs: intOption(1),
  batch: intOption(1),
  horizon: z.string(),
  mode: z.enum(['accumulative', 'vanilla', 'binary']),
  ...estimatorOptionFields,
  promptStateSteps: intOption(0),
  promptLr: numberOption(0, 1),
  evalEpisodes: intOption(1),
  evalSeed: intOption(0),
  before: z.string().min(1).optional(),
  eval: z.boolean(),
  executeSteps: intOption(1).optional(),
  seed: intOption(0),
  workers: intOption(1),
  out: z.string().min(1),
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

export function registerEvolve(program: Command, ctx: CliContext): Command {
  const cmd = program
    .command('evolve')
    .description('EVOLVE-VLA: improve a policy from environment feedback scored by a progress critic (group-relative, advantage-weighted flow updates)')
    .requiredOption('--policy <file>', 'checkpoint to improve (vla-ttt train)')
    .requiredOption('--critic <file>', "progress critic checkpoint (vla-ttt train-critic), or 'oracle' for the ground-truth progress")
    .requiredOption('--out <dir>', 'folder for the results and the evolved checkpoint')
    .option('--tasks <list>', 'comma-separated task names or suites (base, long, heldout, all)', 'base')
    .option('--shift <preset>', 'domain shift of the deployment world', 'source')
    .option('--shift-seed <n>', 'seed of the shift realization', '0')
    .option('--iterations <n>', 'rollout-and-update iterations', '10')
    .option('--group-size <n>', 'G: rollouts per initial state', '8')
    .option('--groups-per-task <n>', 'initial states per task per iteration', '1')
    .option('--params <which>', 'parameters that move: prompt, action, all', 'action')
    .option('--method <m>', 'update: awr (advantage-weighted CFM) or fpo (clipped CFM-loss ratio)', 'awr')
    .option('--weighting <w>', "AWR weights: exp (every rollout, better ones more) or positive (only rollouts above their group's mean)", 'exp')
    .option('--anchor <x>', 'pull the trained weights toward the pretrained ones by this fraction after every step (0 = off)', '0')
    .option('--fpo-clip <x>', 'FPO ratio clip epsilon', '0.2')
    .option('--fpo-draws <n>', 'FPO (noise, time) draws per chunk', '4')
    .option('--lr <x>', 'AdamW learning rate of the update', '1e-4')
    .option('--beta <x>', 'temperature of the advantage weights exp(A / beta)', '1')
    .option('--max-weight <x>', 'clip of the advantage weights', '5')
    .option('--epochs <n>', 'passes over an iteration\'s samples', '1')
    .option('--batch <n>', 'samples per update step', '64')
    .option('--horizon <stages>', "progressive horizon: 'default' (3 stages), 'none', or MAXSTEPS:UNTIL_ITERATION,...", 'default')
    .option('--mode <m>', 'progress estimation: accumulative, vanilla (first vs current frame), binary (0/1 reward)', 'accumulative')
    .option('--prompt-state-steps <n>', 'combined mode: state-grounding prompt steps after each update step', '0')
    .option('--prompt-lr <x>', 'learning rate of those prompt steps', '1e-3')
    .option('--eval-episodes <n>', 'held-out evaluation episodes per task, before and after', '50')
    .option('--eval-seed <n>', 'protocol seed of the evaluation episodes', '0')
    .option('--before <file>', 'reuse an earlier evaluation of the frozen policy (vla-ttt eval --json) on the same episodes')
    .option('--no-eval', 'skip the before/after evaluation')
    .option('--execute-steps <n>', 'actions of each chunk executed before replanning')
    .option('--seed <n>', 'seed of the initial states, noise and updates', '0')
    .option('--workers <n>', 'worker threads', String(defaultWorkers()));
  return addEstimatorOptions(cmd).action(async (raw: unknown) => {
      const o = parseOptions(EvolveCliOptions, raw);
      const tasks = parseTaskList(o.tasks);
      const shift = parseShift(o.shift);
      const horizon = parseHorizon(o.horizon);
      if (existsSync(join(o.out, 'result.json'))) throw new ArgumentError('VLA_ARGUMENT', `--out '${o.out}' already holds a result.json; choose a new folder`);
      mkdirSync(o.out, { recursive: true });
      const controllerOptions = o.executeSteps !== undefined ? { executeSteps: o.executeSteps } : {};
      const controller = loadController(o.policy, controllerOptions);
      const critic = o.critic === 'oracle' ? 'oracle' : ProgressCritic.load(o.critic);
      const common = { policyName: o.policy, shift: shift.text, shiftSeed: o.shiftSeed, workers: o.workers, tasks, episodesPerTask: o.evalEpisodes, seed: o.evalSeed, imageSize: { width: controller.policy.config.image_size, height: controller.policy.config.image_size } };
      const log = (m: string) => ctx.io.stderr(`evolve: ${m}\n`);

      let before: EvalReport | null = null;
      if (o.eval) {
        if (o.before) {
          before = JSON.parse(readFileSync(o.before, 'utf8')) as EvalReport;
          if (before.shift !== shift.text || before.seed !== o.evalSeed || before.episodesPerTask !== o.evalEpisodes || Object.keys(before.tasks).join(',') !== tasks.join(',')) {
            throw new ArgumentError('VLA_ARGUMENT', `--before ${o.before}: it evaluated shift '${before.shift}', seed ${before.seed}, ${before.episodesPerTask} episodes of ${Object.keys(before.tasks).join(',')}; this run needs '${shift.text}', seed ${o.evalSeed}, ${o.evalEpisodes} of ${tasks.join(',')}`);
          }
          log(`reusing ${o.before} (mean ${(100 * before.mean).toFixed(1)}%)`);
        } else {
          log(`evaluating the frozen policy: ${o.evalEpisodes} episodes per task under '${shift.text}'`);
          before = await evaluate({ ...common, policy: controller.batchPolicy });
          log(`before: mean ${(100 * before.mean).toFixed(1)}%`);
        }
        await writeFileAtomic(join(o.out, 'before.json'), JSON.stringify(before) + '\n');
      }

      const policy = controller.policy;
      const partial: EvolveIteration[] = [];
      const result = await runEvolve({
        policy,
        normalization: controller.normalization,
        critic,
        tasks,
        env: { shift: shift.text, shiftSeed: o.shiftSeed },
        iterations: o.iterations,
        groupSize: o.groupSize,
        groupsPerTask: o.groupsPerTask,
        ...(horizon !== undefined ? { horizon } : {}),
        progress: { milestoneEvery: o.milestoneEvery, checkEvery: o.checkEvery, tau: o.tau, mode: o.mode as ProgressMode },
        update: { method: o.method, weighting: o.weighting, anchor: o.anchor, fpoClip: o.fpoClip, fpoDraws: o.fpoDraws, params: o.params as EvolveParams, lr: o.lr, beta: o.beta, maxWeight: o.maxWeight, epochs: o.epochs, batch: o.batch, promptStateSteps: o.promptStateSteps, promptLr: o.promptLr },
        ...controllerOptions,
        seed: o.seed,
        workers: o.workers,
        onIteration: async (it) => {
          log(
            `iteration ${it.iteration + 1}/${o.iterations} (stage ${it.stage}, H_max ${it.maxSteps}): env success ${(100 * it.envSuccess).toFixed(1)}%, reward ${it.meanReward.toFixed(3)}, ` +
              `critic done ${it.criticDone} (hacked ${it.rewardHacking}), tied groups ${it.tiedGroups}, ${it.updateSteps} update steps on ${it.samples} chunks` +
              `${it.clippedFraction !== null ? ` (${(100 * it.clippedFraction).toFixed(0)}% clipped)` : ''}, ${it.seconds.toFixed(0)} s`,
          );
          await writeFileAtomic(join(o.out, 'iterations.svg'), iterationsSvg([...partial, it]));
          partial.push(it);
        },
      });
      policy.save(join(o.out, 'evolved.safetensors'), { ...carriedMetadata(policy.metadata), evolvedFrom: o.policy, evolve: JSON.stringify({ critic: o.critic, iterations: o.iterations, params: o.params, method: o.method, seed: o.seed }) });
      await writeFileAtomic(join(o.out, 'value.svg'), valueSvg(result.iterations));

      let after: EvalReport | null = null;
      if (o.eval) {
        log('evaluating the evolved policy on the same episodes');
        after = await evaluate({ ...common, policy: loadController(join(o.out, 'evolved.safetensors'), controllerOptions).batchPolicy });
        await writeFileAtomic(join(o.out, 'after.json'), JSON.stringify(after) + '\n');
      }
      const comparison = before && after ? comparePaired(before, after) : null;
      const { out: _out, ...settings } = o;
      await writeFileAtomic(join(o.out, 'result.json'), JSON.stringify({ settings, seconds: result.seconds, before: before && { mean: before.mean, tasks: before.tasks }, after: after && { mean: after.mean, tasks: after.tasks }, comparison, iterations: result.iterations }, null, 1) + '\n');
      if (comparison && before && after) {
        const c = comparison.overall;
        ctx.io.stdout(`evolve: ${(100 * before.mean).toFixed(1)}% -> ${(100 * after.mean).toFixed(1)}% on ${c.total} paired episodes (${c.failToSucc} fail->succ, ${c.succToFail} succ->fail, McNemar p = ${c.pValue.toPrecision(2)}); ${o.out}/result.json\n`);
      } else {
        ctx.io.stdout(`evolve: ${result.iterations.length} iterations in ${result.seconds.toFixed(0)} s; ${o.out}/result.json\n`);
      }
    });
}
