/**
 * `vla-ttt sweep`: one policy evaluated in `source` and under each shift preset, on the same
 * episodes (same tasks, seeds and configurations), into one JSON file: how much a shift costs
 * the policy, which is what test-time training has to win back.
 *
 *   vla-ttt sweep --policy models/tabletop-small.safetensors --episodes 200 --out sweep.json
 *
 * The file is rewritten (atomically) after every shift, and a rerun with the same settings skips
 * the shifts it already holds, so an interrupted sweep loses at most the shift in progress.
 * Settings that differ from the file's are refused, not mixed.
 *
 * JSON: { policy, tasks, episodesPerTask, seed, shiftSeed, executeSteps, strength,
 *         results: { SHIFT: EvalReport }, device } (EvalReport as written by `vla-ttt eval --json`).
 */
import { existsSync, readFileSync } from 'node:fs';

import type { Command } from 'commander';
import { z } from 'zod';

import { ArgumentError } from '../../errors.js';
import { evaluate, type EvalReport } from '../../tabletop/eval.js';
import { DEFAULT_IMAGE_SIZE } from '../../tabletop/observation-images.js';
import { defaultWorkers } from '../../tabletop/rollout.js';
import { parseShift, STANDALONE_PRESETS } from '../../tabletop/shifts.js';
import { parseTaskList } from '../../tabletop/tasks.js';
import { intOption, parseOptions, policyOrCheckpoint, writeOutput, type CliContext } from '../context.js';
import { addDeviceOption, deviceField, resolveDevice, type Device } from '../device.js';
import { resolvePolicy } from './eval.js';

const SweepOptions = z.object({
  policy: z.string().min(1).optional(),
  checkpoint: z.string().min(1).optional(),
  out: z.string().min(1),
  shifts: z.string(),
  strength: z.string(),
  executeSteps: intOption(1).optional(),
  shiftSeed: intOption(0),
  episodes: intOption(1),
  tasks: z.string(),
  seed: intOption(0),
  workers: intOption(1),
  envsPerWorker: intOption(1),
  device: deviceField,
});

/** The settings a sweep file is bound to: a rerun must match them to add to the file. */
export interface SweepSettings {
  policy: string;
  tasks: string[];
  episodesPerTask: number;
  seed: number;
  shiftSeed: number;
  executeSteps: number | null;
  strength: string;
}

export interface SweepFile extends SweepSettings {
  results: Record<string, EvalReport>;
  /** The device of the latest run's model (not a setting: a rerun on another device may add to the file). */
  device?: Device;
}

/** Shift expressions of a sweep: 'all' (source and every preset) or a comma-separated list, each at `strength` unless it names its own. */
export function sweepShifts(list: string, strength: string): string[] {
  const names = list.trim() === 'all' ? [...STANDALONE_PRESETS] : list.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new ArgumentError('VLA_ARGUMENT', `--shifts '${list}': no shift given`);
  const out = names.map((n) => (n === 'source' || n.includes(':') || n.includes('+') || strength === '1' ? n : `${n}:${strength}`));
  for (const s of out) parseShift(s); // refuses unknown presets with the list of known ones
  return out;
}

function readExisting(file: string, settings: SweepSettings): SweepFile | null {
  if (!existsSync(file)) return null;
  let data: SweepFile;
  try {
    data = JSON.parse(readFileSync(file, 'utf8')) as SweepFile;
  } catch (e) {
    throw new ArgumentError('VLA_ARGUMENT', `--out '${file}' exists but is not a sweep file (${(e as Error).message}); move it away or pick another --out`);
  }
  for (const key of Object.keys(settings) as Array<keyof SweepSettings>) {
    if (JSON.stringify(data[key]) !== JSON.stringify(settings[key])) {
      throw new ArgumentError('VLA_ARGUMENT', `--out '${file}' holds a sweep with ${key} = ${JSON.stringify(data[key])}, not ${JSON.stringify(settings[key])}; pick another --out to start a new sweep`);
    }
  }
  if (typeof data.results !== 'object' || data.results === null) throw new ArgumentError('VLA_ARGUMENT', `--out '${file}' has no results object`);
  return data;
}

export function registerSweep(program: Command, ctx: CliContext): Command {
  const cmd = program
    .command('sweep')
    .description('evaluate one policy in source and under each shift preset on the same episodes (resumable, one JSON)')
    .option('--policy <name>', "'expert' or a checkpoint file (vla-ttt train)")
    .option('--checkpoint <file>', 'a checkpoint file (the same as --policy FILE)')
    .requiredOption('--out <file>', 'the sweep file to write (rerun to resume)')
    .option('--shifts <list>', "'all' (source and every preset) or comma-separated shift expressions", 'all')
    .option('--strength <s>', 'strength of each preset named without one', '1')
    .option('--execute-steps <n>', 'actions of each predicted chunk executed before replanning (checkpoints) (default min(2, the chunk length))')
    .option('--shift-seed <n>', 'seed of each shift realization', '0')
    .option('--episodes <n>', 'episodes per task', '200')
    .option('--tasks <list>', 'comma-separated task names or suites (base, long, heldout, all)', 'base')
    .option('--seed <n>', 'initial seed of the protocol', '0')
    .option('--workers <n>', 'worker threads', String(defaultWorkers()))
    .option('--envs-per-worker <n>', 'environments per worker', '8');
  return addDeviceOption(cmd)
    .addHelpText('after', '\nExample:\n  vla-ttt sweep --policy models/tabletop-small.safetensors --episodes 50 --out sweep.json')
    .action(async (raw: unknown) => {
      const o = parseOptions(SweepOptions, raw);
      const device = resolveDevice(o.device);
      if (!/^[0-9]+(\.[0-9]+)?$/.test(o.strength)) throw new ArgumentError('VLA_ARGUMENT', `--strength '${o.strength}': expected a non-negative number`);
      const shifts = sweepShifts(o.shifts, o.strength);
      const tasks = parseTaskList(o.tasks);
      const resolved = resolvePolicy(policyOrCheckpoint(o, "('expert' or a checkpoint file)"), o.executeSteps, device);
      const settings: SweepSettings = { policy: resolved.name, tasks, episodesPerTask: o.episodes, seed: o.seed, shiftSeed: o.shiftSeed, executeSteps: resolved.executeSteps, strength: o.strength };
      const file: SweepFile = readExisting(o.out, settings) ?? { ...settings, results: {} };
      file.device = device;
      const imageSize = 'imageSize' in resolved ? resolved.imageSize : DEFAULT_IMAGE_SIZE;
      for (const shift of shifts) {
        if (file.results[shift]) {
          ctx.io.stdout(`${shift.padEnd(16)} mean ${file.results[shift]!.mean.toFixed(3)} (already in ${o.out})\n`);
          continue;
        }
        const report = await evaluate({
          policy: resolved.policy,
          policyName: resolved.name,
          tasks,
          episodesPerTask: o.episodes,
          seed: o.seed,
          shift,
          shiftSeed: o.shiftSeed,
          workers: o.workers,
          envsPerWorker: o.envsPerWorker,
          render: resolved.policy === 'expert' ? false : (ctx.renderer ?? 'native'),
          imageSize,
        });
        file.results[shift] = report;
        await writeOutput('--out', o.out, JSON.stringify(file) + '\n');
        const perTask = Object.entries(report.tasks).map(([n, t]) => `${n} ${t.successes}/${t.episodes}`).join(', ');
        ctx.io.stdout(`${shift.padEnd(16)} mean ${report.mean.toFixed(3)}  (${perTask}; ${report.seconds.toFixed(0)} s)\n`);
      }
      const source = file.results['source'];
      if (source) {
        for (const shift of shifts.filter((s) => s !== 'source' && file.results[s])) {
          const drop = (source.mean - file.results[shift]!.mean) * 100;
          ctx.io.stdout(`  ${shift.padEnd(16)} ${drop >= 0 ? '-' : '+'}${Math.abs(drop).toFixed(1)} points vs source\n`);
        }
      }
      ctx.io.stdout(`wrote ${o.out}\n`);
    });
}
