// `vla-ttt demo` on the shipped checkpoint: bad options end with one line and exit code 1 before
// anything runs; a tiny run (1 task, 2 episodes, buffer 2, 2 steps) writes the whole report
// folder, with result.json shaped as `vla-ttt adapt` writes it.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { runCli } from '../lib/cli/main.js';
import { SHIPPED_CHECKPOINT } from '../lib/cli/commands/demo.js';
import { evaluate } from '../lib/tabletop/eval.js';
import { policyRollout } from '../lib/tabletop/pictures.js';
import { loadController } from '../lib/tabletop/policy-controller.js';
import { htmlProblems } from './helpers/html-check.js';
import { readPng } from './helpers/png-read.js';

const dir = mkdtempSync(join(tmpdir(), 'vla-ttt-demo-'));

async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { io: { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) }, renderer: 'native' });
  return { code, stdout, stderr };
}

describe('filmstrip replays', () => {
  it('policyRollout replays an evaluated episode frame for frame (so action for action)', async () => {
    const frames = new Map<number, Uint8Array>();
    const common = { task: 'carrot-on-plate', shift: 'camera', shiftSeed: 0, seed: 0 } as const;
    // Episode 1 shares its batch with episode 0 in the evaluation and runs alone in the replay.
    const report = await evaluate({
      policy: loadController(SHIPPED_CHECKPOINT).batchPolicy,
      tasks: [common.task],
      episodesPerTask: 2,
      seed: common.seed,
      shift: common.shift,
      workers: 1,
      envsPerWorker: 2,
      onTransition: (t) => {
        if (t.episode.episodeIndex !== 1) return;
        frames.set(t.step, t.observation.image!.data.slice());
      },
    });
    const replay = await policyRollout({ ...common, episode: 1, policy: loadController(SHIPPED_CHECKPOINT).batchPolicy });
    expect(replay.frames).toHaveLength(frames.size + 1);
    for (const [step, data] of frames) expect(Buffer.from(replay.frames[step]!.data).equals(Buffer.from(data)), `frame ${step}`).toBe(true);
    expect(replay.outcome.success).toBe(report.episodes[1]!.success);
  }, 120_000);
});

describe('vla-ttt demo', () => {
  it('refuses bad options with one line and exit code 1, before running anything', async () => {
    const out = join(dir, 'bad');
    const cases: Array<[string[], RegExp]> = [
      [['--shift', 'fog'], /^vla-ttt demo: unknown shift preset 'fog'; valid presets: source, camera, /],
      [['--shift', 'camera:-1'], /^vla-ttt demo: shift term 'camera:-1': strength must be a finite number in \[0, 5\]/],
      [['--episodes', '0'], /^vla-ttt demo: --episodes must be an integer >= 1, got '0'$/],
      [['--tasks', 'juggling'], /^vla-ttt demo: .*juggling/],
      [['--lr', 'fast'], /^vla-ttt demo: --lr must be a number in/],
      [['--quick', '--frobnicate'], /^vla-ttt demo: unknown option '--frobnicate'/],
    ];
    for (const [args, message] of cases) {
      const r = await cli('demo', ...args, '--out', out);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stdout).toBe('');
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(message);
    }
    expect(existsSync(out)).toBe(false);
  });

  it('does not write into a folder that holds something other than a demo report', async () => {
    const other = join(dir, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'notes.txt'), 'mine');
    const r = await cli('demo', '--quick', '--out', other);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`vla-ttt demo: --out '${other}' holds files that are not a demo report; choose a new folder\n`);
    expect(readdirSync(other)).toEqual(['notes.txt']);
  });

  it('runs end to end with tiny settings and writes the report folder', async () => {
    const out = join(dir, 'tiny');
    const json = join(dir, 'tiny.json');
    const started = performance.now();
    const r = await cli('demo', '--tasks', 'carrot-on-plate', '--episodes', '2', '--buffer-trajectories', '2', '--steps', '2', '--batch', '4', '--workers', '1', '--out', out, '--json', json);
    const seconds = (performance.now() - started) / 1000;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^vla-ttt demo: tabletop-small\.safetensors under 'camera:1' \(full settings with --tasks, --episodes, --buffer-trajectories, --steps, --batch given: 1 task \(carrot-on-plate\) x 2 episodes/);
    expect(r.stdout).toMatch(/\ncarrot-on-plate\s+\d+\.\d% \[\d+\.\d, \d+\.\d\]\s+\d+\.\d% \[/);
    expect(r.stdout).toMatch(/\nflips: \d fail->succ, \d succ->fail, \d always succ, \d always fail over 2 paired episodes\n/);
    expect(r.stdout).toMatch(/\nwall time: before \d+ s, buffer \d+ s, optimize \d+ s, after \d+ s, filmstrips \d+ s; total \d+ s\n/);
    expect(r.stdout).not.toMatch(/warning/);
    expect(readdirSync(out).sort()).toEqual(['after.json', 'before.json', 'filmstrip-after.png', 'filmstrip-before.png', 'loss.svg', 'prompt.json', 'report.html', 'result.json']);

    // result.json as vla-ttt adapt writes it.
    const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as Record<string, unknown> & { comparison: { overall: { total: number } }; optimizations: Array<{ lossCurve: unknown[] }>; before: { tasks: Record<string, { episodes: number }> }; settings: { bufferSeed: number; seed: number } };
    expect(Object.keys(result)).toEqual(['checkpoint', 'shift', 'shiftSeed', 'mode', 'settings', 'comparison', 'buffer', 'optimizations', 'online', 'initPromptFrom', 'promptShape', 'seconds', 'before', 'after']);
    expect(result.comparison.overall.total).toBe(2);
    expect(result.optimizations[0]!.lossCurve).toHaveLength(2);
    expect(result.before.tasks['carrot-on-plate']!.episodes).toBe(2);
    expect(result.settings.bufferSeed).toBe(result.settings.seed + 1);
    const file = JSON.parse(readFileSync(json, 'utf8')) as { demo: { filmstripEpisode: { replayMatchesEvaluation: boolean }; report: string } };
    expect(file.demo.report).toBe(join(out, 'report.html'));
    // The filmstrip replays are the evaluated episodes.
    expect(file.demo.filmstripEpisode.replayMatchesEvaluation).toBe(true);

    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(htmlProblems(html)).toEqual([]);
    expect(html).toContain(r.stdout.match(/\nverdict: (.*)\n/)![1]!.replace(/>/g, '&gt;'));
    expect(html).not.toMatch(/\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?\/\//i);
    const strip = readPng(readFileSync(join(out, 'filmstrip-before.png')));
    expect(strip.width).toBeGreaterThan(10 * 128);
    expect(html).toContain(`width="${strip.width}" height="${strip.height}"`);
    console.log(`demo-cli.test: the tiny demo took ${seconds.toFixed(1)} s`);
  }, 120_000);
});
