/**
 * `vla-ttt divergence`: the critical-decision analysis (lib/adapt/critical-decisions.ts) of an
 * adapted prompt: every episode run with the trained and with the adapted prompt under the same
 * random draws, and the step and phase at which the two runs first part.
 *
 *   vla-ttt divergence --policy models/tabletop-small.safetensors --prompt runs/lpo-camera/prompt.json \
 *                      --shift camera --episodes 24 --out runs/lpo-camera/divergence
 *
 * Writes divergence.json (per episode: outcomes A and B, first divergence step, phase; summary by
 * phase, and by phase for the flipped episodes) and divergence.svg (one example: the end
 * effector's height and the gripper opening in both runs, with the divergence step marked).
 */
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

import type { Command } from 'commander';
import { z } from 'zod';

import { analyzeDivergence, summarizeDivergence, type DivergenceReport } from '../../adapt/critical-decisions.js';
import { ArgumentError } from '../../errors.js';
import { lineChartSvg, type Series } from '../../report/svg-chart.js';
import { writeFileAtomic } from '../../tabletop/dataset.js';
import { defaultWorkers } from '../../tabletop/rollout.js';
import { parseTaskList } from '../../tabletop/tasks.js';
import { intOption, numberOption, parseOptions, policyOrCheckpoint, type CliContext } from '../context.js';
import { addDeviceOption, deviceField, resolveCpuDevice } from '../device.js';

const DivergenceOptions = z.object({
  policy: z.string().min(1).optional(),
  checkpoint: z.string().min(1).optional(),
  prompt: z.string().min(1),
  shift: z.string().min(1),
  shiftSeed: intOption(0),
  out: z.string().min(1),
  tasks: z.string(),
  episodes: intOption(1),
  seed: intOption(0),
  threshold: numberOption(1e-6, 1),
  executeSteps: intOption(1).optional(),
  workers: intOption(1),
  device: deviceField,
});

const PromptFile = z.object({ prompts: z.record(z.string(), z.record(z.string(), z.array(z.number()))) });

/** The adapted prompt blocks for a task: the joint ones ('all'), else that task's own. */
function promptsFor(file: string, prompts: Record<string, Record<string, number[]>>, task: string): Record<number, number[]> {
  const block = prompts['all'] ?? prompts[task];
  if (!block) throw new ArgumentError('VLA_ARGUMENT', `--prompt '${file}' has no prompt for all tasks nor for '${task}' (it has ${Object.keys(prompts).join(', ')})`);
  return Object.fromEntries(Object.entries(block).map(([e, v]) => [Number(e), v]));
}

export function divergenceSvg(r: DivergenceReport): string | null {
  const ex = r.example;
  if (!ex) return null;
  const at = r.episodes.find((e) => e.task === ex.task && e.episodeIndex === ex.episodeIndex)?.firstDivergence ?? null;
  const series: Series[] = [
    { name: 'height, trained prompt', points: ex.a.map((s, t) => [t, s[2]!] as const) },
    { name: 'height, adapted prompt', points: ex.b.map((s, t) => [t, s[2]!] as const) },
    { name: 'gripper, trained prompt', points: ex.a.map((s, t) => [t, s[3]!] as const) },
    { name: 'gripper, adapted prompt', points: ex.b.map((s, t) => [t, s[3]!] as const) },
  ];
  if (at !== null) {
    const all = [...ex.a, ...ex.b].flatMap((s) => [s[2]!, s[3]!]);
    series.push({ name: `first divergence (step ${at})`, points: [[at, Math.min(...all)], [at, Math.max(...all)]] });
  }
  return lineChartSvg(series, { title: `${ex.task} #${ex.episodeIndex} under '${r.shift}': trained vs adapted prompt`, xLabel: 'control step', yLabel: 'meters' });
}

export function registerDivergence(program: Command, ctx: CliContext): Command {
  const cmd = program
    .command('divergence')
    .description('critical-decision analysis: run each episode with the trained and the adapted prompt under the same random draws; where do they part?')
    .option('--policy <file>', 'the checkpoint')
    .option('--checkpoint <file>', 'the same as --policy FILE')
    .requiredOption('--prompt <file>', 'prompt.json written by vla-ttt adapt')
    .requiredOption('--shift <preset>', 'the target world the prompt was adapted to')
    .requiredOption('--out <dir>', 'folder for divergence.json and divergence.svg')
    .option('--shift-seed <n>', 'seed of the shift realization', '0')
    .option('--tasks <list>', 'comma-separated task names or suites', 'base')
    .option('--episodes <n>', 'episodes per task', '24')
    .option('--seed <n>', 'evaluation protocol seed', '0')
    .option('--threshold <m>', 'end-effector distance (and gripper difference) that counts as parted, meters', '0.005')
    .option('--execute-steps <n>', 'actions of each chunk executed before replanning')
    .option('--workers <n>', 'worker threads', String(defaultWorkers()));
  return addDeviceOption(cmd)
    .addHelpText('after', '\nExample:\n  vla-ttt divergence --policy models/tabletop-small.safetensors --prompt runs/lpo-camera/prompt.json --shift camera --out runs/lpo-camera/divergence')
    .action(async (raw: unknown) => {
      const o = parseOptions(DivergenceOptions, raw);
      const checkpoint = policyOrCheckpoint(o);
      const device = resolveCpuDevice(o.device, 'vla-ttt divergence', 'the analysis is not wired to the device path yet');
      let parsed: z.infer<typeof PromptFile>;
      try {
        parsed = PromptFile.parse(JSON.parse(readFileSync(o.prompt, 'utf8')));
      } catch (e) {
        throw new ArgumentError('VLA_ARGUMENT', `--prompt '${o.prompt}': not a prompt.json from vla-ttt adapt (${(e as Error).message.split('\n')[0]})`);
      }
      const tasks = parseTaskList(o.tasks);
      // Joint prompts run all tasks at once; per-task prompts run each task with its own.
      const groups = parsed.prompts['all'] ? [tasks] : tasks.map((t) => [t]);
      const parts: DivergenceReport[] = [];
      for (const group of groups) {
        ctx.io.stderr(`divergence: ${group.join(', ')}: ${o.episodes} episode(s) per task, twice\n`);
        parts.push(
          await analyzeDivergence({
            checkpoint,
            prompts: promptsFor(o.prompt, parsed.prompts, group[0]!),
            shift: o.shift,
            shiftSeed: o.shiftSeed,
            tasks: group,
            episodesPerTask: o.episodes,
            seed: o.seed,
            positionThreshold: o.threshold,
            gripperThreshold: o.threshold,
            ...(o.executeSteps !== undefined ? { executeSteps: o.executeSteps } : {}),
            workers: o.workers,
            render: ctx.renderer ?? 'native',
          }),
        );
      }
      const r = mergeDivergence(parts);
      await mkdir(o.out, { recursive: true });
      await writeFileAtomic(join(o.out, 'divergence.json'), JSON.stringify({ ...r, device }, null, 1) + '\n');
      const svg = divergenceSvg(r);
      if (svg) await writeFileAtomic(join(o.out, 'divergence.svg'), svg);
      const s = r.summary;
      ctx.io.stdout(
        `${s.parted}/${s.episodes} episodes parted (median first divergence at step ${s.medianFirstDivergence ?? '-'}); ` +
          `by phase: ${Object.entries(s.byPhase).map(([k, v]) => `${k} ${v}`).join(', ')}; ` +
          `flipped outcomes by phase: ${Object.entries(s.flippedByPhase).map(([k, v]) => `${k} ${v}`).join(', ')}; wrote ${o.out}\n`,
      );
    });
}

function mergeDivergence(parts: DivergenceReport[]): DivergenceReport {
  if (parts.length === 1) return parts[0]!;
  const episodes = parts.flatMap((p) => p.episodes);
  return { ...parts[0]!, episodes, summary: summarizeDivergence(episodes), example: parts.find((p) => p.example)?.example ?? null };
}
