// The tabletop commands (`vla-ttt eval`, `compare`, `collect-demos`, `render`): exit codes,
// one-line errors, and the files they write, with native images by default.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runCli } from '../lib/cli/main.js';
import { DatasetReader } from '../lib/tabletop/dataset.js';
import { TabletopEnv } from '../lib/tabletop/env.js';
import { flipRow, type EpisodeRecord } from '../lib/tabletop/eval.js';
import { episodePlan } from '../lib/tabletop/pictures.js';
import type { BatchRenderer } from '../lib/tabletop/rollout.js';
import { decodeGif } from './helpers/gif-decoder.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'vla-ttt-cli-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return cliWith(undefined, ...argv);
}

async function cliWith(renderer: BatchRenderer | undefined, ...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { io: { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) }, ...(renderer ? { renderer } : {}) });
  return { code, stdout, stderr };
}

describe('vla-ttt CLI', () => {
  const bad: Array<[string, string[], RegExp]> = [
    ['unknown shift preset', ['eval', '--policy', 'expert', '--shift', 'camera+fog'], /^vla-ttt eval: unknown shift preset 'fog'; valid presets: source, camera, lighting/],
    ['bad strength', ['eval', '--policy', 'expert', '--shift', 'camera:x'], /^vla-ttt eval: shift term 'camera:x': strength must be a finite number in \[0, 5\]/],
    ['unknown task', ['eval', '--policy', 'expert', '--tasks', 'carrot-on-plate,fly'], /^vla-ttt eval: unknown task 'fly'; valid tasks: carrot-on-plate, /],
    ['missing checkpoint', ['eval', '--policy', 'ckpt/policy.bin'], /^vla-ttt eval: --policy 'ckpt\/policy.bin': neither 'expert' nor an existing checkpoint file/],
    ['two policies', ['eval', '--policy', 'expert', '--checkpoint', 'a.safetensors'], /^vla-ttt eval: --policy and --checkpoint name different policies/],
    ['bad episode count', ['eval', '--policy', 'expert', '--episodes', '0'], /^vla-ttt eval: --episodes must be an integer >= 1, got '0'/],
    ['bad seed', ['eval', '--policy', 'expert', '--seed', '-3'], /^vla-ttt eval: --seed must be an integer >= 0, got '-3'/],
    ['missing policy', ['eval'], /^vla-ttt eval: one of --policy \('expert' or a checkpoint file\) or --checkpoint FILE is required/],
    ['unknown option', ['eval', '--policy', 'expert', '--frobnicate'], /^vla-ttt eval: unknown option '--frobnicate'/],
    ['unknown command', ['train-everything'], /^vla-ttt: unknown command 'train-everything'/],
    ['collect: missing out', ['collect-demos'], /^vla-ttt collect-demos: required option '--out <dir>' not specified/],
    ['collect: bad shift', ['collect-demos', '--out', '/tmp/x', '--shift', 'wind'], /^vla-ttt collect-demos: unknown shift preset 'wind'/],
    ['eval: bad image width', ['eval', '--policy', 'expert', '--width', '0'], /^vla-ttt eval: --width must be an integer in \[1, 4096\], got '0'/],
    ['compare: missing report', ['compare', '--a', 'a.json'], /^vla-ttt compare: required option '--b <file>' not specified/],
    ['compare: unreadable report', ['compare', '--a', '/nonexistent/a.json', '--b', '/nonexistent/b.json'], /^vla-ttt compare: --a: cannot read '\/nonexistent\/a.json': ENOENT/],
    ['render: nothing to draw', ['render'], /^vla-ttt render: nothing to draw: give --contact-sheet FILE, --filmstrip FILE or --gif FILE/],
    ['render: no task', ['render', '--gif', '/tmp/x.gif'], /^vla-ttt render: --task is required with --gif/],
    ['render: bad shift', ['render', '--contact-sheet', '/tmp/x.png', '--shifts', 'source,fog'], /^vla-ttt render: unknown shift preset 'fog'/],
    ['render: unknown task', ['render', '--filmstrip', '/tmp/x.png', '--task', 'fly'], /^vla-ttt render: unknown task 'fly'/],
  ];
  for (const [what, argv, message] of bad) {
    it(`exits 1 with one line on ${what}`, async () => {
      const r = await cli(...argv);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });
  }

  it('eval writes the JSON report with 64x64 images by default, and says when images are off', async () => {
    const out = join(root, 'report.json');
    const r = await cli('eval', '--policy', 'expert', '--tasks', 'spoon-on-towel', '--episodes', '2', '--seed', '3', '--workers', '1', '--shift', 'lighting:0.5', '--json', out);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^task\s+success/);
    expect(r.stdout).toMatch(/spoon-on-towel\s+\d\/2/);
    expect(r.stdout).toMatch(/steps\/s on 1 worker\(s\); 64x64 images\n/);
    expect(r.stdout).toContain(`wrote ${out}`);
    const report = JSON.parse(await readFile(out, 'utf8'));
    expect(report).toMatchObject({ shift: 'lighting:0.5', seed: 3, episodesPerTask: 2, policy: 'expert', workers: 1, images: { width: 64, height: 64 } });
    expect(report.tasks['spoon-on-towel']).toMatchObject({ episodes: 2 });
    expect(report.tasks['spoon-on-towel'].ci95).toHaveLength(2);
    expect(typeof report.mean).toBe('number');
    const off = join(root, 'report-no-images.json');
    const r2 = await cli('eval', '--policy', 'expert', '--tasks', 'spoon-on-towel', '--episodes', '2', '--seed', '3', '--workers', '1', '--no-images', '--json', off);
    expect(r2.code).toBe(0);
    expect(r2.stdout).toMatch(/; images off \(--no-images\)\n/);
    expect(JSON.parse(await readFile(off, 'utf8'))).toMatchObject({ shift: 'source', images: null });
    // The two runs cover the same episodes: compare pairs them.
    const c = await cli('compare', '--a', off, '--b', out);
    expect(c.stderr).toBe('');
    expect(c.code).toBe(0);
    expect(c.stdout).toMatch(/^task\s+Base\s+Post\s+Succ->Fail\s+Fail->Succ\s+Always Succ\s+Always Fail\s+McNemar p\n/);
    expect(c.stdout).toMatch(/\nspoon-on-towel\s+\d\/2\s+\d\/2 /);
    expect(c.stdout).toMatch(/\noverall\s+/);
    // Different episodes (one instead of two per task) are refused in one line.
    const fewer = join(root, 'report-fewer.json');
    expect((await cli('eval', '--policy', 'expert', '--tasks', 'spoon-on-towel', '--episodes', '1', '--seed', '3', '--workers', '1', '--no-images', '--json', fewer)).code).toBe(0);
    const bad = await cli('compare', '--a', off, '--b', fewer);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/^vla-ttt compare: the two evaluations do not cover the same episodes \(2 vs 1; spoon-on-towel#1 \(configuration 1, seed \d+\) is missing from the second\)/);
    expect(bad.stderr.trimEnd().split('\n')).toHaveLength(1);
  });

  it('compare writes the flip table and exact McNemar p-values of two reports', async () => {
    // Hand-made reports: task a flips 3 episodes to success and 1 to failure; task b is unchanged.
    const rec = (task: string, i: number, success: boolean): EpisodeRecord => ({ task, episodeIndex: i, configuration: i % 24, seed: 500 + i, success, stages: [success], grasped: success, clippedSteps: 0 });
    const before = [true, true, false, false, false, true];
    const after = [true, false, true, true, true, true];
    const a = { policy: 'base', shift: 'camera:1', episodes: [...before.map((s, i) => rec('a', i, s)), rec('b', 0, false), rec('b', 1, true)] };
    // The same episodes in another order.
    const b = { policy: 'post', shift: 'camera:1', episodes: [rec('b', 1, true), rec('b', 0, false), ...after.map((s, i) => rec('a', i, s)).reverse()] };
    const fa = join(root, 'cmp-a.json');
    const fb = join(root, 'cmp-b.json');
    await writeFile(fa, JSON.stringify(a));
    await writeFile(fb, JSON.stringify(b));
    const out = join(root, 'flips.json');
    const r = await cli('compare', '--a', fa, '--b', fb, '--json', out);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\na\s+3\/6\s+5\/6\s+1\s+3\s+2\s+0\s+0\.625\n/);
    expect(r.stdout).toMatch(/\nb\s+1\/2\s+1\/2\s+0\s+0\s+1\s+1\s+1\.000\n/);
    expect(r.stdout).toContain(`Base = ${fa} (policy base, shift camera:1); Post = ${fb} (policy post, shift camera:1)`);
    const flips = JSON.parse(await readFile(out, 'utf8'));
    expect(flips.tasks.a).toEqual(flipRow(before, after));
    expect(flips.tasks.a).toMatchObject({ base: 3, post: 5, succToFail: 1, failToSucc: 3, alwaysSucc: 2, alwaysFail: 0 });
    expect(flips.tasks.a.pValue).toBeCloseTo(0.625, 12);
    expect(flips.overall).toMatchObject({ total: 8, base: 4, post: 6 });
    expect(flips.a).toMatchObject({ file: fa, policy: 'base', shift: 'camera:1' });
    // A file that is not an eval report, and a duplicated episode, are refused in one line.
    const notReport = join(root, 'not-report.json');
    await writeFile(notReport, JSON.stringify({ mean: 1, episodes: [{ task: 'a', episodeIndex: 0, configuration: 0, seed: 1 }] }));
    const r2 = await cli('compare', '--a', fa, '--b', notReport);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/^vla-ttt compare: --b: '.*not-report.json' is not an eval report with its episodes \(vla-ttt eval --json\): episodes\.0\.success: /);
    const dup = join(root, 'dup.json');
    await writeFile(dup, JSON.stringify({ ...b, episodes: [...b.episodes.slice(1), b.episodes[1]] }));
    const r3 = await cli('compare', '--a', fa, '--b', dup);
    expect(r3.code).toBe(1);
    expect(r3.stderr).toMatch(/^vla-ttt compare: the second evaluation lists episode b#0 \(configuration 0, seed 500\) twice\n$/);
  });

  it('collect-demos records 64x64 frames by default, the frames the environment observes', async () => {
    const dir = join(root, 'demos-native');
    const r = await cli('collect-demos', '--tasks', 'carrot-on-plate', '--episodes', '2', '--seed', '4', '--workers', '2', '--envs-per-worker', '1', '--out', dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^wrote 2 episode\(s\) to .*demos-native \(\d\/2 successful; 64x64 images\)/);
    const data = await DatasetReader.open(dir);
    expect(data.manifest.image).toEqual({ width: 64, height: 64 });
    const ep = await data.readEpisode(data.manifest.episodes.findIndex((e) => e.episodeIndex === 1));
    expect(ep.header.arrays.find((a) => a.name === 'image')).toMatchObject({ dtype: 'uint8', shape: [60, 64, 64, 3] });
    expect(ep.image!.length).toBe(60 * 64 * 64 * 3);
    // Frame t is the observation the action at step t was chosen from: frame 0 is the first
    // observation of the episode, frame 59 differs from it (the robot moved).
    const env = await TabletopEnv.create();
    const first = env.reset(episodePlan('carrot-on-plate', 1, 4)).image!.data;
    env.dispose();
    const frame = (t: number): Uint8Array => ep.image!.subarray(t * 64 * 64 * 3, (t + 1) * 64 * 64 * 3);
    expect(frame(0)).toEqual(first);
    expect(frame(59)).not.toEqual(first);
  });

  it('collect-demos without images writes states and actions only, and says so', async () => {
    const dir = join(root, 'demos');
    const r = await cli('collect-demos', '--tasks', 'stack-cube', '--episodes', '2', '--seed', '1', '--workers', '1', '--no-images', '--out', dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^wrote 2 episode\(s\) to .*demos \(\d\/2 successful; images off \(--no-images\)\)/);
    const data = await DatasetReader.open(dir);
    expect(data.count).toBe(2);
    expect(data.manifest.image).toBeNull();
    const ep = await data.readEpisode(1);
    expect(ep.image).toBeNull();
    expect(ep.header).toMatchObject({ task: 'stack-cube', instruction: 'stack the green cube on the yellow cube', episodeIndex: 1, steps: 60, embodimentId: 0 });
    expect(ep.action.length).toBe(60 * 7);
    // The recorded state is the observation the action was chosen from: it starts at home.
    expect(Array.from(ep.state.subarray(0, 3)).map((v) => Math.round(v * 1000) / 1000)).toEqual([-0.12, 0, 0.2]);
    // An injected renderer (a test double writing each scene's geom count and the camera
    // height in centimeters into its pixels) is used at the size asked for.
    const withImages = join(root, 'demos-images');
    const render: BatchRenderer = async (scenes, { width, height }) => {
      const out = new Uint8Array(scenes.length * width * height * 3);
      scenes.forEach((sc, i) => {
        out.fill(sc.geoms.count, i * width * height * 3, (i + 1) * width * height * 3);
        out[i * width * height * 3 + 1] = Math.round(sc.camera.pos[2] * 100);
      });
      return out;
    };
    const ri = await cliWith(render, 'collect-demos', '--tasks', 'carrot-on-plate', '--episodes', '1', '--workers', '1', '--width', '16', '--height', '12', '--out', withImages);
    expect(ri.code).toBe(0);
    expect(ri.stderr).toBe('');
    expect(ri.stdout).toMatch(/16x12 images/);
    const imgData = await DatasetReader.open(withImages);
    expect(imgData.manifest.image).toEqual({ width: 16, height: 12 });
    const frames = (await imgData.readEpisode(0)).image!;
    expect(frames.length).toBe(60 * 12 * 16 * 3);
    expect(frames[0]).toBe(20); // the carrot-on-plate scene has 20 geoms
    expect(frames[1]).toBe(58); // the source camera is 0.58 m above the table
    // A second run into the same folder is refused.
    const again = await cli('collect-demos', '--tasks', 'stack-cube', '--episodes', '1', '--workers', '1', '--out', dir);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/is not empty; choose a new folder/);
  });

  it('render draws a contact sheet, a filmstrip and an animated GIF', async () => {
    const sheet = join(root, 'sheet.png');
    const r = await cli('render', '--contact-sheet', sheet, '--tasks', 'stack-cube,spoon-on-towel', '--shifts', 'source,camera,latency', '--scale', '2');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const m = /^wrote .*sheet\.png \((\d+)x(\d+): 2 task\(s\) x 3 shift\(s\), 64x64 frames shown 2x\)\n$/.exec(r.stdout);
    expect(m).not.toBeNull();
    const png = await readFile(sheet);
    expect([...png.subarray(1, 4)].map((c) => String.fromCharCode(c)).join('')).toBe('PNG');
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([Number(m![1]), Number(m![2])]);
    // 3 columns of 128-pixel tiles, 2 rows: larger than the tiles, smaller than twice them.
    expect(Number(m![1])).toBeGreaterThan(3 * 128);
    expect(Number(m![2])).toBeGreaterThan(2 * 128);

    const strip = join(root, 'strip.png');
    const gif = join(root, 'rollout.gif');
    const f = await cli('render', '--filmstrip', strip, '--gif', gif, '--task', 'stack-cube', '--shift', 'table', '--episode', '2', '--every', '25', '--scale', '1', '--delay', '100');
    expect(f.stderr).toBe('');
    expect(f.code).toBe(0);
    expect(f.stdout).toMatch(/wrote .*strip\.png \(4 frames, every 25 steps of stack-cube#2 \(configuration 2, seed \d+\) under table:1, scripted expert: (success|failure)\)/);
    expect(f.stdout).toMatch(/wrote .*rollout\.gif \(61 frames at 64x64, 100 ms each/);
    const animation = decodeGif(await readFile(gif));
    expect(animation).toMatchObject({ width: 64, height: 64, loops: 0 });
    expect(animation.frames).toHaveLength(61);
    expect(animation.frames.every((x) => x.delayCs === 10)).toBe(true);
    // The episode moves: the last frame is not the first.
    expect(animation.frames[60]!.rgb).not.toEqual(animation.frames[0]!.rgb);
  });
});
