/**
 * `vla-ttt render`: pictures of the benchmark as the policy sees it (lib/tabletop/pictures.ts),
 * at the observation size (64x64 by default), upscaled so people can read them.
 *
 *   vla-ttt render --contact-sheet sheet.png [--tasks base] \
 *                  [--shifts source,camera,lighting,table,distractors,friction]
 *   vla-ttt render --filmstrip strip.png --gif rollout.gif --task carrot-on-plate \
 *                  [--shift source] [--episode 0] [--every 6]
 *
 * - `--contact-sheet FILE`: a PNG grid, one row per task and one column per shift, each tile
 *   the first observation of episode N (--episode) of that task under that shift; rows,
 *   columns and a title labeled in the bitmap font.
 * - `--filmstrip FILE`: a PNG of one scripted-expert episode (--task, --shift, --episode),
 *   every k-th step (--every) plus the last, each frame labeled with its step.
 * - `--gif FILE`: the same episode as an animated GIF, every step, one control period (200 ms)
 *   per frame unless --delay says otherwise, the step written in a corner.
 * Episode N of a task is the episode `vla-ttt eval` runs as episode N under the same --seed.
 */

import type { Command } from 'commander';
import { z } from 'zod';

import { ArgumentError } from '../../errors.js';
import { drawText, glyphHeight, textWidth } from '../../render/bitmap-font.js';
import { encodeGif } from '../../render/gif.js';
import { contactSheet, tileImages, upscale, type RgbImage } from '../../render/image-grid.js';
import { encodePng } from '../../render/png.js';
import { DEFAULT_IMAGE_SIZE, MAX_IMAGE_SIDE } from '../../tabletop/observation-images.js';
import { expertRollout, startFrames } from '../../tabletop/pictures.js';
import { DYNAMICS_PRESETS, parseShift } from '../../tabletop/shifts.js';
import { getTask, parseTaskList } from '../../tabletop/tasks.js';
import { intOption, parseOptions, writeOutput, type CliContext } from '../context.js';

const RenderOptions = z.object({
  contactSheet: z.string().min(1).optional(),
  filmstrip: z.string().min(1).optional(),
  gif: z.string().min(1).optional(),
  tasks: z.string(),
  shifts: z.string(),
  task: z.string().optional(),
  shift: z.string(),
  episode: intOption(0),
  seed: intOption(0),
  shiftSeed: intOption(0),
  every: intOption(1),
  columns: intOption(1),
  scale: intOption(1, 16),
  delay: intOption(0, 655350),
  width: intOption(1, MAX_IMAGE_SIDE),
  height: intOption(1, MAX_IMAGE_SIDE),
});

/** The contact sheet's default columns: the source, each visual shift, and one dynamics shift. */
export const DEFAULT_SHEET_SHIFTS = 'source,camera,lighting,table,distractors,friction';

/** A column label: the shift, marked when it only changes dynamics (it looks like the source). */
function shiftLabel(text: string): string {
  const shift = parseShift(text);
  const dynamicsOnly = shift.components.every((c) => (DYNAMICS_PRESETS as readonly string[]).includes(c.preset));
  return dynamicsOnly ? `${text} (dyn.)` : text;
}

/** The frame upscaled, with `label` in white on a dark band in its top-left corner. */
function labeledFrame(frame: RgbImage, scale: number, label: string): RgbImage {
  const big = upscale(frame, scale);
  const fontScale = Math.max(1, Math.floor(scale / 2));
  const w = Math.min(big.width, textWidth(label, fontScale) + 4);
  const h = Math.min(big.height, glyphHeight * fontScale + 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) big.data.set([0, 0, 0], (y * big.width + x) * 3);
  drawText(big, label, 2, 2, [255, 255, 255], fontScale, big.width - 2);
  return big;
}

export function registerRender(program: Command, ctx: CliContext): Command {
  return program
    .command('render')
    .description('draw the benchmark as the policy sees it: a contact sheet of tasks x shifts, or one expert episode as a filmstrip or an animated GIF')
    .option('--contact-sheet <file>', 'write a PNG: rows = tasks, columns = shifts, the first frame of an episode in each cell')
    .option('--filmstrip <file>', 'write a PNG of one expert episode (--task), every k-th step (--every)')
    .option('--gif <file>', 'write an animated GIF of one expert episode (--task), every step')
    .option('--tasks <list>', 'contact sheet rows: task names or suites (base, long, heldout, all)', 'base')
    .option('--shifts <list>', 'contact sheet columns: comma-separated shift expressions', DEFAULT_SHEET_SHIFTS)
    .option('--task <name>', 'filmstrip and GIF: the task')
    .option('--shift <preset>', 'filmstrip and GIF: the domain shift', 'source')
    .option('--episode <n>', 'which episode of each task (its configuration is n mod 24)', '0')
    .option('--seed <n>', 'initial seed of the protocol (as in vla-ttt eval)', '0')
    .option('--shift-seed <n>', 'seed of the shift realization', '0')
    .option('--every <k>', 'filmstrip: one frame every k control steps (and the last)', '6')
    .option('--columns <n>', 'filmstrip: frames per row', '11')
    .option('--scale <n>', 'integer upscaling of every frame', '3')
    .option('--delay <ms>', 'GIF: display time of each frame (default: one control period)', '200')
    .option('--width <n>', 'frame width (the observation size)', String(DEFAULT_IMAGE_SIZE.width))
    .option('--height <n>', 'frame height (the observation size)', String(DEFAULT_IMAGE_SIZE.height))
    .addHelpText('after', '\nExamples:\n  vla-ttt render --contact-sheet sheet.png\n  vla-ttt render --task carrot-on-plate --shift camera --filmstrip strip.png --gif episode.gif')
    .action(async (raw: unknown) => {
      const o = parseOptions(RenderOptions, raw);
      if (!o.contactSheet && !o.filmstrip && !o.gif) throw new ArgumentError('VLA_ARGUMENT', 'nothing to draw: give --contact-sheet FILE, --filmstrip FILE or --gif FILE');
      if ((o.filmstrip || o.gif) && !o.task) throw new ArgumentError('VLA_ARGUMENT', `--task is required with ${o.filmstrip ? '--filmstrip' : '--gif'}`);
      if (ctx.renderer !== undefined && ctx.renderer !== 'native') throw new ArgumentError('VLA_ARGUMENT', 'render draws with the native renderer only');
      const imageSize = { width: o.width, height: o.height };
      const common = { episode: o.episode, seed: o.seed, shiftSeed: o.shiftSeed, imageSize };

      if (o.contactSheet) {
        const tasks = parseTaskList(o.tasks);
        const shifts = o.shifts.split(',').map((s) => s.trim());
        shifts.forEach((s) => parseShift(s));
        const grid = await startFrames({ ...common, tasks, shifts });
        const sheet = contactSheet(grid, {
          scale: o.scale,
          fontScale: 2,
          padding: 6,
          rowLabels: tasks,
          columnLabels: shifts.map(shiftLabel),
          title: `first observation of episode ${o.episode} (seed ${o.seed}), ${o.width}x${o.height} shown ${o.scale}x; (dyn.) = dynamics only`,
        });
        await writeOutput('--contact-sheet', o.contactSheet, encodePng(sheet.data, sheet.width, sheet.height));
        ctx.io.stdout(`wrote ${o.contactSheet} (${sheet.width}x${sheet.height}: ${tasks.length} task(s) x ${shifts.length} shift(s), ${o.width}x${o.height} frames shown ${o.scale}x)\n`);
      }

      if (o.filmstrip || o.gif) {
        const task = getTask(o.task!).name;
        const rollout = await expertRollout({ ...common, task, shift: o.shift });
        const { plan, frames, outcome } = rollout;
        const last = frames.length - 1;
        const about = `${task}#${plan.episodeIndex} (configuration ${plan.configuration}, seed ${plan.seed}) under ${rollout.shift}, scripted expert: ${outcome.success ? 'success' : 'failure'}`;
        if (o.filmstrip) {
          const steps = frames.map((_, t) => t).filter((t) => t % o.every === 0 || t === last);
          const strip = tileImages(
            steps.map((t) => frames[t]!),
            { columns: Math.min(o.columns, steps.length), scale: o.scale, fontScale: 2, padding: 6, labels: steps.map((t) => `t=${t}`), title: about },
          );
          await writeOutput('--filmstrip', o.filmstrip, encodePng(strip.data, strip.width, strip.height));
          ctx.io.stdout(`wrote ${o.filmstrip} (${steps.length} frames, every ${o.every} steps of ${about})\n`);
        }
        if (o.gif) {
          const gif = encodeGif(
            frames.map((f, t) => labeledFrame(f, o.scale, `t=${t}`)),
            { delayMs: o.delay },
          );
          await writeOutput('--gif', o.gif, gif);
          ctx.io.stdout(`wrote ${o.gif} (${frames.length} frames at ${o.width * o.scale}x${o.height * o.scale}, ${o.delay} ms each, ${(gif.length / 1024).toFixed(0)} KiB: ${about})\n`);
        }
      }
    });
}
