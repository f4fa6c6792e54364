/**
 * `vla-ttt collect-demos`: records scripted-expert demonstrations into a dataset folder
 * (format: docs/dataset.md).
 *
 *   vla-ttt collect-demos --tasks base --episodes 50 --shift source --seed 0 --out demos/
 *
 * With a renderer attached (main.ts) every step has an RGB frame; without one the command says
 * so on stderr and the dataset records states and actions only (manifest `image: null`).
 */
import type { Command } from 'commander';
import { z } from 'zod';

import { ArgumentError } from '../../errors.js';
import { DatasetWriter, STATE_DIM, type DemoEpisode } from '../../tabletop/dataset.js';
import { ACTION_DIM } from '../../tabletop/actions.js';
import { defaultWorkers, planEpisodes, runRollouts, type EpisodePlan, type Transition } from '../../tabletop/rollout.js';
import { embodimentIdOf, parseShift } from '../../tabletop/shifts.js';
import { getTask, parseTaskList } from '../../tabletop/tasks.js';
import { intOption, parseOptions, type CliContext } from '../context.js';

const CollectOptions = z.object({
  tasks: z.string(),
  episodes: intOption(1),
  shift: z.string(),
  shiftSeed: intOption(0),
  seed: intOption(0),
  out: z.string().min(1),
  workers: intOption(1),
  envsPerWorker: intOption(1),
  width: intOption(8),
  height: intOption(8),
  successesOnly: z.boolean().optional(),
});

function episodeKey(e: EpisodePlan): string {
  return `${e.task}#${e.episodeIndex}`;
}

export function registerCollectDemos(program: Command, ctx: CliContext): Command {
  return program
    .command('collect-demos')
    .description('record scripted-expert demonstrations (state, action, image when a renderer is attached) into a dataset folder')
    .requiredOption('--out <dir>', 'dataset folder to create (must not exist or be empty)')
    .option('--tasks <list>', 'comma-separated task names or suites (base, long, heldout, all)', 'base')
    .option('--episodes <n>', 'episodes per task', '50')
    .option('--shift <preset>', 'domain shift, e.g. source, camera, camera:0.5+friction', 'source')
    .option('--shift-seed <n>', 'seed of the shift realization', '0')
    .option('--seed <n>', 'initial seed', '0')
    .option('--workers <n>', 'worker threads', String(defaultWorkers()))
    .option('--envs-per-worker <n>', 'environments per worker', '4')
    .option('--width <n>', 'image width (with a renderer)', '224')
    .option('--height <n>', 'image height (with a renderer)', '224')
    .option('--successes-only', 'keep only successful episodes')
    .action(async (raw: unknown) => {
      const o = parseOptions(CollectOptions, raw);
      const tasks = parseTaskList(o.tasks);
      const shift = parseShift(o.shift);
      const image = ctx.renderer ? { width: o.width, height: o.height } : null;
      if (!ctx.renderer) ctx.io.stderr('collect-demos: no renderer is attached, so the dataset has no images (states and actions only)\n');
      const writer = await DatasetWriter.create(o.out, {
        tasks,
        shift: shift.text,
        shiftSeed: o.shiftSeed,
        seed: o.seed,
        embodimentId: embodimentIdOf(shift),
        controlHz: 5,
        image,
      });
      // Only the episodes in progress are buffered; each is written when it ends.
      const buffers = new Map<string, { state: number[]; action: number[]; frames: Uint8Array[]; instruction: string; embodimentId: number }>();
      const onTransition = (t: Transition): void => {
        let b = buffers.get(episodeKey(t.episode));
        if (!b) {
          b = { state: [], action: [], frames: [], instruction: t.observation.instruction, embodimentId: t.observation.embodimentId };
          buffers.set(episodeKey(t.episode), b);
        }
        b.state.push(...t.observation.state);
        b.action.push(...t.action);
        if (image) {
          if (!t.observation.image) throw new ArgumentError('VLA_ARGUMENT', 'collect-demos: an observation came without its image');
          b.frames.push(t.observation.image.data);
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
        ...(ctx.renderer ? { render: ctx.renderer, imageSize: { width: o.width, height: o.height } } : {}),
        onTransition,
        onEpisode: async (r) => {
          total++;
          const b = buffers.get(episodeKey(r))!;
          buffers.delete(episodeKey(r));
          if (o.successesOnly && !r.outcome.success) return;
          const steps = b.state.length / STATE_DIM;
          let frames: Uint8Array | null = null;
          if (image) {
            frames = new Uint8Array(steps * image.width * image.height * 3);
            b.frames.forEach((f, i) => frames!.set(f, i * f.length));
          }
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
        `wrote ${kept} episode(s) to ${o.out} (${successes}/${total} successful${o.successesOnly ? ', failures dropped' : ''}; ${image ? `${image.width}x${image.height} images` : 'no images'}); ` +
          `${result.envSteps} env steps at ${result.envStepsPerSecond.toFixed(0)} steps/s\n`,
      );
    });
}
