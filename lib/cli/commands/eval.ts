/**
 * `vla-ttt eval`: runs the evaluation protocol (lib/tabletop/eval.ts) and writes the report.
 *
 *   vla-ttt eval --policy expert --shift camera:0.5+friction --episodes 200 \
 *                --tasks base --seed 0 --workers 2 --json report.json
 *
 * Observations carry 64x64 images drawn by the native renderer (inside the rollout workers)
 * unless --width/--height ask for another size; --no-images skips them (a faster evaluation of
 * the scripted expert, which does not look at images), and the summary says so.
 *
 * The JSON report: { mean, tasks: { NAME: { episodes, successes, rate, ci95: [lo, hi],
 * partial: { grasped, graspedFor5, movedCorrectObject, stageSuccess? } } }, shift, shiftSeed,
 * embodimentId, seed, episodesPerTask, policy, workers, envSteps, envStepsPerSecond, seconds,
 * startupSeconds, images: { width, height } | null, device (the resolved --device: 'cpu'),
 * episodes: [{ task, episodeIndex, configuration, seed, success, stages, grasped, clippedSteps }] }.
 * `--json -` prints it to stdout instead of the summary table.
 */
import { existsSync } from 'node:fs';
import { basename } from 'node:path';

import type { Command } from 'commander';
import { z } from 'zod';

import { ArgumentError } from '../../errors.js';
import { evaluate, type EvalReport } from '../../tabletop/eval.js';
import { DEFAULT_IMAGE_SIZE, MAX_IMAGE_SIDE } from '../../tabletop/observation-images.js';
import { loadController } from '../../tabletop/policy-controller.js';
import { defaultWorkers, type BatchPolicy } from '../../tabletop/rollout.js';
import { parseShift } from '../../tabletop/shifts.js';
import { parseTaskList } from '../../tabletop/tasks.js';
import { describeImages, emitReport, intOption, parseOptions, policyOrCheckpoint, type CliContext } from '../context.js';
import { addDeviceOption, deviceField, resolveDevice, type Device } from '../device.js';

const EvalOptions = z.object({
  policy: z.string().min(1).optional(),
  checkpoint: z.string().min(1).optional(),
  executeSteps: intOption(1).optional(),
  shift: z.string(),
  shiftSeed: intOption(0),
  episodes: intOption(1),
  tasks: z.string(),
  seed: intOption(0),
  workers: intOption(1),
  envsPerWorker: intOption(1),
  json: z.string().min(1).optional(),
  images: z.boolean(),
  width: intOption(1, MAX_IMAGE_SIDE),
  height: intOption(1, MAX_IMAGE_SIDE),
  device: deviceField,
});

/**
 * The policy argument: 'expert' (the scripted expert), or a checkpoint file written by
 * `vla-ttt train` (loaded with its normalization and placed on `device`; chunks replanned every
 * `executeSteps`).
 */
export function resolvePolicy(policy: string, executeSteps?: number, device: Device = 'cpu'): { policy: 'expert'; name: string; executeSteps: null } | { policy: BatchPolicy; name: string; imageSize: { width: number; height: number }; executeSteps: number } {
  if (policy === 'expert') return { policy: 'expert', name: 'expert', executeSteps: null };
  if (!existsSync(policy)) {
    throw new ArgumentError('VLA_ARGUMENT', `--policy '${policy}': neither 'expert' nor an existing checkpoint file`);
  }
  const controller = loadController(policy, { ...(executeSteps !== undefined ? { executeSteps } : {}), device });
  const side = controller.policy.config.image_size;
  return { policy: controller.batchPolicy, name: basename(policy), imageSize: { width: side, height: side }, executeSteps: controller.executeSteps };
}

/** The human-readable summary of a report, one line per task. */
export function formatReport(r: EvalReport): string {
  const names = Object.keys(r.tasks);
  const w = Math.max(4, ...names.map((n) => n.length));
  const lines = [`${'task'.padEnd(w)}  success    rate   95% CI          grasped  grasp5+  moved-right`];
  for (const n of names) {
    const t = r.tasks[n]!;
    lines.push(
      `${n.padEnd(w)}  ${`${t.successes}/${t.episodes}`.padEnd(9)}  ${t.rate.toFixed(3)}  [${t.ci95[0].toFixed(3)}, ${t.ci95[1].toFixed(3)}]  ${t.partial.grasped.toFixed(3)}    ${t.partial.graspedFor5.toFixed(3)}    ${t.partial.movedCorrectObject.toFixed(3)}` +
        (t.partial.stageSuccess ? `  stages ${t.partial.stageSuccess.map((s) => s.toFixed(3)).join(' ')}` : ''),
    );
  }
  lines.push(
    `mean ${r.mean.toFixed(3)} over ${names.length} task(s); policy ${r.policy}, shift ${r.shift} (shift seed ${r.shiftSeed}, embodiment ${r.embodimentId}), seed ${r.seed}; ` +
      `${r.envSteps} env steps in ${r.seconds.toFixed(1)} s = ${r.envStepsPerSecond.toFixed(0)} steps/s on ${r.workers} worker(s); ${describeImages(r.images)}`,
  );
  return lines.join('\n') + '\n';
}

export function registerEval(program: Command, ctx: CliContext): Command {
  const cmd = program
    .command('eval')
    .description('evaluate a policy on tabletop tasks: N episodes per task cycling the 24 configurations, success rates with Wilson 95% intervals')
    .option('--policy <name>', "the policy: 'expert' (the scripted expert) or a checkpoint file (vla-ttt train)")
    .option('--checkpoint <file>', 'a checkpoint file (same as --policy FILE)')
    .option('--execute-steps <n>', 'actions of each predicted chunk executed before replanning (checkpoints) (default min(2, the chunk length))')
    .option('--shift <preset>', 'domain shift, e.g. source, camera, camera:0.5+friction', 'source')
    .option('--shift-seed <n>', 'seed of the shift realization', '0')
    .option('--episodes <n>', 'episodes per task', '200')
    .option('--tasks <list>', 'comma-separated task names or suites (base, long, heldout, all)', 'base')
    .option('--seed <n>', 'initial seed of the protocol', '0')
    .option('--workers <n>', 'worker threads', String(defaultWorkers()))
    .option('--envs-per-worker <n>', 'environments per worker', '4')
    .option('--json <file>', "write the JSON report to FILE ('-' for stdout)")
    .option('--width <n>', 'observation image width', String(DEFAULT_IMAGE_SIZE.width))
    .option('--height <n>', 'observation image height', String(DEFAULT_IMAGE_SIZE.height))
    .option('--no-images', 'run without observation images (faster; the scripted expert does not use them)');
  return addDeviceOption(cmd)
    .addHelpText('after', '\nExample:\n  vla-ttt eval --policy models/tabletop-small.safetensors --shift camera --episodes 50 --json camera.json')
    .action(async (raw: unknown) => {
      const o = parseOptions(EvalOptions, raw);
      const device = resolveDevice(o.device);
      const which = policyOrCheckpoint(o, "('expert' or a checkpoint file)");
      const resolved = resolvePolicy(which, o.executeSteps, device);
      if ('imageSize' in resolved && o.images && (o.width !== resolved.imageSize.width || o.height !== resolved.imageSize.height)) {
        throw new ArgumentError('VLA_ARGUMENT', `--width/--height ${o.width}x${o.height}: the checkpoint takes ${resolved.imageSize.width}x${resolved.imageSize.height} images`);
      }
      if ('imageSize' in resolved && !o.images) throw new ArgumentError('VLA_ARGUMENT', '--no-images: a checkpoint policy needs its camera images');
      const tasks = parseTaskList(o.tasks);
      const shift = parseShift(o.shift);
      const report = await evaluate({
        policy: resolved.policy,
        policyName: resolved.name,
        tasks,
        episodesPerTask: o.episodes,
        seed: o.seed,
        shift: shift.text,
        shiftSeed: o.shiftSeed,
        workers: o.workers,
        envsPerWorker: o.envsPerWorker,
        render: o.images ? (ctx.renderer ?? 'native') : false,
        imageSize: { width: o.width, height: o.height },
      });
      await emitReport(ctx.io, o.json, { ...report, device }, () => formatReport(report));
    });
}
