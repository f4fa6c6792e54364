/**
 * `vla-ttt collect-demos`: records scripted-expert demonstrations (or a checkpoint's rollouts,
 * --policy FILE) into a dataset folder (format: docs/dataset.md).
 *
 *   vla-ttt collect-demos --tasks base --episodes 50 --shift source --seed 0 --out demos/
 *   vla-ttt collect-demos --progress --expert-noise 4 --out critic-data/noisy   # critic data
 *
 * --progress records each step's ground-truth task progress (evolve/task-progress.ts), the
 * labels the progress critic trains on; noisy experts and policy rollouts supply the failures.
 *
 * Every step records its observation's RGB frame, 64x64 by default (--width/--height), drawn by
 * the native renderer inside the rollout workers. With --no-images the dataset records states
 * and actions only (manifest `image: null`) and the command says so.
 */
import type { Command } from 'commander';
import { z } from 'zod';

import { ArgumentError } from '../../errors.js';
import { DatasetWriter } from '../../tabletop/dataset.js';
import { EpisodeRecorder } from '../../tabletop/episode-recorder.js';
import { DEFAULT_IMAGE_SIZE, MAX_IMAGE_SIDE } from '../../tabletop/observation-images.js';
import { defaultWorkers, planEpisodes, runRollouts } from '../../tabletop/rollout.js';
import { embodimentIdOf, parseShift } from '../../tabletop/shifts.js';
import { parseTaskList } from '../../tabletop/tasks.js';
import { describeImages, intOption, parseOptions, policyOrCheckpoint, type CliContext } from '../context.js';
import { addDeviceOption, deviceField, resolveDevice } from '../device.js';
import { resolvePolicy } from './eval.js';

const CollectOptions = z.object({
  tasks: z.string(),
  episodes: intOption(1),
  shift: z.string(),
  shiftSeed: intOption(0),
  seed: intOption(0),
  out: z.string().min(1),
  workers: intOption(1),
  envsPerWorker: intOption(1),
  width: intOption(1, MAX_IMAGE_SIDE),
  height: intOption(1, MAX_IMAGE_SIDE),
  images: z.boolean(),
  successesOnly: z.boolean().optional(),
  progress: z.boolean().optional(),
  expertNoise: z.coerce.number().finite().min(0).max(20),
  policy: z.string().min(1).optional(),
  checkpoint: z.string().min(1).optional(),
  executeSteps: intOption(1).optional(),
  device: deviceField,
});


export function registerCollectDemos(program: Command, ctx: CliContext): Command {
  const cmd = program
    .command('collect-demos')
    .description('record scripted-expert demonstrations (state, action and a 64x64 RGB frame per step) into a dataset folder')
    .requiredOption('--out <dir>', 'dataset folder to create (must not exist or be empty)')
    .option('--tasks <list>', 'comma-separated task names or suites (base, long, heldout, all)', 'base')
    .option('--episodes <n>', 'episodes per task', '50')
    .option('--shift <preset>', 'domain shift, e.g. source, camera, camera:0.5+friction', 'source')
    .option('--shift-seed <n>', 'seed of the shift realization', '0')
    .option('--seed <n>', 'initial seed', '0')
    .option('--workers <n>', 'worker threads', String(defaultWorkers()))
    .option('--envs-per-worker <n>', 'environments per worker', '4')
    .option('--width <n>', 'frame width', String(DEFAULT_IMAGE_SIZE.width))
    .option('--height <n>', 'frame height', String(DEFAULT_IMAGE_SIZE.height))
    .option('--no-images', 'record states and actions only (no frames)')
    .option('--successes-only', 'keep only successful episodes')
    .option('--progress', 'record the ground-truth task progress of every step (progress-critic labels)')
    .option('--expert-noise <x>', 'scale of the scripted expert\'s noise (0 = deterministic; larger values fail more often)', '1')
    .option('--policy <checkpoint>', 'record this checkpoint\'s rollouts instead of the scripted expert\'s')
    .option('--checkpoint <file>', 'the same as --policy FILE')
    .option('--execute-steps <n>', 'with --policy: actions of each chunk executed before replanning');
  return addDeviceOption(cmd)
    .addHelpText('after', '\nExamples:\n  vla-ttt collect-demos --tasks base --episodes 100 --out demos/base\n  vla-ttt collect-demos --policy models/tabletop-small.safetensors --progress --out critic-data/policy')
    .action(async (raw: unknown) => {
      const o = parseOptions(CollectOptions, raw);
      const policy = o.policy || o.checkpoint ? policyOrCheckpoint(o) : null;
      // The scripted expert runs no model: the device matters (and is checked) with a policy only.
      const device = policy ? resolveDevice(o.device) : 'cpu';
      const tasks = parseTaskList(o.tasks);
      const shift = parseShift(o.shift);
      const image = o.images ? { width: o.width, height: o.height } : null;
      const resolved = resolvePolicy(policy ?? 'expert', o.executeSteps, device);
      if ('imageSize' in resolved && (!image || o.width !== resolved.imageSize.width || o.height !== resolved.imageSize.height)) {
        throw new ArgumentError('VLA_ARGUMENT', `--policy: the checkpoint takes ${resolved.imageSize.width}x${resolved.imageSize.height} images; drop --no-images/--width/--height`);
      }
      const writer = await DatasetWriter.create(o.out, {
        tasks,
        shift: shift.text,
        shiftSeed: o.shiftSeed,
        seed: o.seed,
        embodimentId: embodimentIdOf(shift),
        controlHz: 5,
        image,
      });
      const recorder = new EpisodeRecorder(image);
      let kept = 0;
      let total = 0;
      const result = await runRollouts({
        policy: resolved.policy,
        expertNoise: o.expertNoise,
        progress: o.progress === true,
        episodes: planEpisodes(tasks, o.episodes, o.seed),
        env: { shift: shift.text, shiftSeed: o.shiftSeed },
        workers: o.workers,
        envsPerWorker: o.envsPerWorker,
        render: image ? (ctx.renderer ?? 'native') : false,
        imageSize: { width: o.width, height: o.height },
        onTransition: recorder.onTransition,
        onEpisode: async (r) => {
          total++;
          const ep = recorder.finish(r);
          if (o.successesOnly && !r.outcome.success) return;
          await writer.append(ep);
          kept++;
        },
      });
      await writer.close();
      const successes = result.episodes.filter((e) => e.outcome.success).length;
      ctx.io.stdout(
        `wrote ${kept} episode(s) to ${o.out} (${successes}/${total} successful${o.successesOnly ? ', failures dropped' : ''}; ${describeImages(image)}); ` +
          `${result.envSteps} env steps at ${result.envStepsPerSecond.toFixed(0)} steps/s; recorded from ${policy ? resolved.name : `the scripted expert (noise ${o.expertNoise})`}${o.progress ? ', with task progress' : ''}\n`,
      );
    });
}
