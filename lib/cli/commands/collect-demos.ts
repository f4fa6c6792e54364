/**
 * `vla-ttt collect-demos`: records scripted-expert demonstrations into a dataset folder
 * (format: docs/dataset.md).
 *
 *   vla-ttt collect-demos --tasks base --episodes 50 --shift source --seed 0 --out demos/
 *
 * Every step records its observation's RGB frame, 64x64 by default (--width/--height), drawn by
 * the native renderer inside the rollout workers. With --no-images the dataset records states
 * and actions only (manifest `image: null`) and the command says so.
 */
import type { Command } from 'commander';
import { z } from 'zod';

import { ArgumentError } from '../../errors.js';
import { DatasetWriter, STATE_DIM, type DemoEpisode } from '../../tabletop/dataset.js';
import { ACTION_DIM } from '../../tabletop/actions.js';
import { DEFAULT_IMAGE_SIZE, MAX_IMAGE_SIDE } from '../../tabletop/observation-images.js';
import { defaultWorkers, planEpisodes, runRollouts, type EpisodePlan, type Transition } from '../../tabletop/rollout.js';
import { embodimentIdOf, parseShift } from '../../tabletop/shifts.js';
import { DEFAULT_EPISODE_CAPS, episodeCap, getTask, parseTaskList } from '../../tabletop/tasks.js';
import { describeImages, intOption, parseOptions, type CliContext } from '../context.js';

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
});

function episodeKey(e: EpisodePlan): string {
  return `${e.task}#${e.episodeIndex}`;
}

export function registerCollectDemos(program: Command, ctx: CliContext): Command {
  return program
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
    .action(async (raw: unknown) => {
      const o = parseOptions(CollectOptions, raw);
      const tasks = parseTaskList(o.tasks);
      const shift = parseShift(o.shift);
      const image = o.images ? { width: o.width, height: o.height } : null;
      const frameBytes = o.width * o.height * 3;
      const writer = await DatasetWriter.create(o.out, {
        tasks,
        shift: shift.text,
        shiftSeed: o.shiftSeed,
        seed: o.seed,
        embodimentId: embodimentIdOf(shift),
        controlHz: 5,
        image,
      });
      // Only the episodes in progress are buffered; each is written when it ends. Frames are
      // copied at once into the episode's own array (sized for its step cap), so the rollout's
      // per-round image buffers are not kept alive.
      const buffers = new Map<string, { state: number[]; action: number[]; frames: Uint8Array | null; instruction: string; embodimentId: number }>();
      const onTransition = (t: Transition): void => {
        let b = buffers.get(episodeKey(t.episode));
        if (!b) {
          const cap = episodeCap(getTask(t.episode.task), DEFAULT_EPISODE_CAPS);
          b = { state: [], action: [], frames: image ? new Uint8Array(cap * frameBytes) : null, instruction: t.observation.instruction, embodimentId: t.observation.embodimentId };
          buffers.set(episodeKey(t.episode), b);
        }
        b.state.push(...t.observation.state);
        b.action.push(...t.action);
        if (b.frames) {
          const frame = t.observation.image;
          if (!frame || frame.data.length !== frameBytes) throw new ArgumentError('VLA_ARGUMENT', `collect-demos: step ${t.step} of ${episodeKey(t.episode)} came without its ${o.width}x${o.height} frame`);
          b.frames.set(frame.data, t.step * frameBytes);
        }
      };
      let kept = 0;
      let total = 0;
      const result = await runRollouts({
        policy: 'expert',
        episodes: planEpisodes(tasks, o.episodes, o.seed),
        env: { shift: shift.text, shiftSeed: o.shiftSeed },
        workers: o.workers,
        envsPerWorker: o.envsPerWorker,
        render: image ? (ctx.renderer ?? 'native') : false,
        imageSize: { width: o.width, height: o.height },
        onTransition,
        onEpisode: async (r) => {
          total++;
          const b = buffers.get(episodeKey(r))!;
          buffers.delete(episodeKey(r));
          if (o.successesOnly && !r.outcome.success) return;
          const steps = b.state.length / STATE_DIM;
          const frames = b.frames ? b.frames.subarray(0, steps * frameBytes) : null;
          const ep: DemoEpisode = {
            task: r.task,
            instruction: b.instruction || getTask(r.task).instruction,
            episodeIndex: r.episodeIndex,
            configuration: r.configuration,
            seed: r.seed,
            embodimentId: b.embodimentId,
            success: r.outcome.success,
            stageSuccess: r.outcome.stages.map((s) => s.success),
            state: Float32Array.from(b.state),
            action: Float32Array.from(b.action),
            image: frames,
          };
          if (ep.action.length !== steps * ACTION_DIM) throw new ArgumentError('VLA_ARGUMENT', `collect-demos: episode ${r.task}#${r.episodeIndex} recorded ${steps} states but ${ep.action.length / ACTION_DIM} actions`);
          await writer.append(ep);
          kept++;
        },
      });
      await writer.close();
      const successes = result.episodes.filter((e) => e.outcome.success).length;
      ctx.io.stdout(
        `wrote ${kept} episode(s) to ${o.out} (${successes}/${total} successful${o.successesOnly ? ', failures dropped' : ''}; ${describeImages(image)}); ` +
          `${result.envSteps} env steps at ${result.envStepsPerSecond.toFixed(0)} steps/s\n`,
      );
    });
}
