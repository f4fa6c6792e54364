/**
 * `vla-ttt compare`: the paired comparison of two evaluations of the same episodes (TTT-VLA's
 * flip table), from two reports written by `vla-ttt eval --json`.
 *
 *   vla-ttt eval --policy expert --tasks base --episodes 48 --seed 0 --no-images --json a.json
 *   vla-ttt eval --policy expert --tasks base --episodes 48 --seed 0 --no-images \
 *                --shift latency:3 --json b.json
 *   vla-ttt compare --a a.json --b b.json --json flips.json
 *
 * (A policy before and after test-time training is the intended use, once `eval` takes
 * checkpoints; until then, two shifts or two seeds of the shift realization.)
 *
 * Prints, per task and overall: Base and Post successes, Succ->Fail, Fail->Succ, Always Succ,
 * Always Fail and the exact two-sided McNemar p-value on the flips (`comparePaired` in
 * lib/tabletop/eval.ts). Reports that do not cover exactly the same episodes (task, episode
 * index, configuration, seed) are refused with exit code 1 and a one-line error.
 *
 * The JSON output: { a: SOURCE, b: SOURCE, tasks: { NAME: FlipRow }, overall: FlipRow }, where
 * SOURCE = { file, policy, shift, shiftSeed, seed, episodesPerTask } of each report and FlipRow
 * = { total, base, post, difference, succToFail, failToSucc, alwaysSucc, alwaysFail, pValue }.
 */
import { readFile } from 'node:fs/promises';

import type { Command } from 'commander';
import { z } from 'zod';

import { ArgumentError } from '../../errors.js';
import { formatP } from '../../report/demo-report.js';
import { comparePaired, type EpisodeRecord, type FlipRow, type PairedComparison } from '../../tabletop/eval.js';
import { emitReport, parseOptions, type CliContext } from '../context.js';

const CompareOptions = z.object({
  a: z.string().min(1),
  b: z.string().min(1),
  json: z.string().min(1).optional(),
});

const count = z.number().int().nonnegative();

/** What compare reads from an eval report: its episodes, and a few fields to label it. */
const ReportForComparison = z.object({
  policy: z.string().optional(),
  shift: z.string().optional(),
  shiftSeed: count.optional(),
  seed: count.optional(),
  episodesPerTask: count.optional(),
  episodes: z
    .array(
      z.object({
        task: z.string(),
        episodeIndex: count,
        configuration: count,
        seed: count,
        success: z.boolean(),
        stages: z.array(z.boolean()).optional(),
        grasped: z.boolean().optional(),
        clippedSteps: count.optional(),
      }),
    )
    .min(1),
});

/** Where each side of the comparison came from. */
export interface ComparisonSource {
  file: string;
  policy: string | null;
  shift: string | null;
  shiftSeed: number | null;
  seed: number | null;
  episodesPerTask: number | null;
}

export interface ComparisonReport extends PairedComparison {
  a: ComparisonSource;
  b: ComparisonSource;
}

/** Reads and checks one eval report; errors name the option and the file. */
async function readReport(flag: string, file: string): Promise<{ source: ComparisonSource; episodes: EpisodeRecord[] }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new ArgumentError('VLA_ARGUMENT', `${flag}: cannot read '${file}': ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ArgumentError('VLA_ARGUMENT', `${flag}: '${file}' is not JSON (${(e as Error).message})`);
  }
  const parsed = ReportForComparison.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ArgumentError('VLA_ARGUMENT', `${flag}: '${file}' is not an eval report with its episodes (vla-ttt eval --json): ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const r = parsed.data;
  const episodes: EpisodeRecord[] = r.episodes.map((e) => ({ stages: [], grasped: false, clippedSteps: 0, ...e }));
  return {
    source: { file, policy: r.policy ?? null, shift: r.shift ?? null, shiftSeed: r.shiftSeed ?? null, seed: r.seed ?? null, episodesPerTask: r.episodesPerTask ?? null },
    episodes,
  };
}

/** The flip table as text, one line per task and one overall. */
export function formatComparison(c: ComparisonReport): string {
  const rows: Array<[string, FlipRow]> = [...Object.entries(c.tasks), ['overall', c.overall]];
  const w = Math.max(4, ...rows.map(([n]) => n.length));
  const head = ['Base', 'Post', 'Succ->Fail', 'Fail->Succ', 'Always Succ', 'Always Fail', 'McNemar p'];
  const lines = [`${'task'.padEnd(w)}  ${head.join('  ')}`];
  for (const [name, r] of rows) {
    const cells = [`${r.base}/${r.total}`, `${r.post}/${r.total}`, String(r.succToFail), String(r.failToSucc), String(r.alwaysSucc), String(r.alwaysFail), formatP(r.pValue)];
    lines.push(`${name.padEnd(w)}  ${cells.map((v, i) => v.padStart(head[i]!.length)).join('  ')}`);
  }
  const label = (s: ComparisonSource): string => `${s.file} (policy ${s.policy ?? '?'}, shift ${s.shift ?? '?'})`;
  lines.push(`Base = ${label(c.a)}; Post = ${label(c.b)}; exact two-sided McNemar test on the flips`);
  return lines.join('\n') + '\n';
}

export function registerCompare(program: Command, ctx: CliContext): Command {
  return program
    .command('compare')
    .description('paired comparison of two eval reports over the same episodes: flip table per task and exact McNemar p-values')
    .requiredOption('--a <file>', 'the base report (vla-ttt eval --json)')
    .requiredOption('--b <file>', 'the report to compare with it, over the same episodes')
    .option('--json <file>', "write the comparison as JSON to FILE ('-' for stdout)")
    .addHelpText('after', '\nExample:\n  vla-ttt compare --a runs/lpo-camera/before.json --b runs/lpo-camera/after.json --json flips.json')
    .action(async (raw: unknown) => {
      const o = parseOptions(CompareOptions, raw);
      const a = await readReport('--a', o.a);
      const b = await readReport('--b', o.b);
      const flips = comparePaired({ episodes: a.episodes }, { episodes: b.episodes });
      const report: ComparisonReport = { a: a.source, b: b.source, ...flips };
      await emitReport(ctx.io, o.json, report, () => formatComparison(report));
    });
}
