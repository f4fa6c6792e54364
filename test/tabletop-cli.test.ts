// The `vla-ttt eval` and `vla-ttt collect-demos` commands: exit codes, one-line errors, and the
// files they write.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runCli } from '../lib/cli/main.js';
import { DatasetReader } from '../lib/tabletop/dataset.js';
import type { BatchRenderer } from '../lib/tabletop/rollout.js';

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
    ['bad strength', ['eval', '--policy', 'expert', '--shift', 'camera:x'], /^vla-ttt eval: shift term 'camera:x': strength must be a finite number >= 0/],
    ['unknown task', ['eval', '--policy', 'expert', '--tasks', 'carrot-on-plate,fly'], /^vla-ttt eval: unknown task 'fly'; valid tasks: carrot-on-plate, /],
    ['checkpoint policy', ['eval', '--policy', 'ckpt/policy.bin'], /^vla-ttt eval: --policy 'ckpt\/policy.bin': only 'expert' is available for now/],
    ['bad episode count', ['eval', '--policy', 'expert', '--episodes', '0'], /^vla-ttt eval: --episodes must be an integer >= 1, got '0'/],
    ['bad seed', ['eval', '--policy', 'expert', '--seed', '-3'], /^vla-ttt eval: --seed must be an integer >= 0, got '-3'/],
    ['missing policy', ['eval'], /^vla-ttt eval: required option '--policy <name>' not specified/],
    ['unknown option', ['eval', '--policy', 'expert', '--frobnicate'], /^vla-ttt eval: unknown option '--frobnicate'/],
    ['unknown command', ['train-everything'], /^vla-ttt: unknown command 'train-everything'/],
    ['collect: missing out', ['collect-demos'], /^vla-ttt collect-demos: required option '--out <dir>' not specified/],
    ['collect: bad shift', ['collect-demos', '--out', '/tmp/x', '--shift', 'wind'], /^vla-ttt collect-demos: unknown shift preset 'wind'/],
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

  it('eval writes the JSON report and prints a summary', async () => {
    const out = join(root, 'report.json');
    const r = await cli('eval', '--policy', 'expert', '--tasks', 'spoon-on-towel', '--episodes', '2', '--seed', '3', '--workers', '1', '--shift', 'lighting:0.5', '--json', out);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^task\s+success/);
    expect(r.stdout).toMatch(/spoon-on-towel\s+\d\/2/);
    expect(r.stdout).toContain(`wrote ${out}`);
    const report = JSON.parse(await readFile(out, 'utf8'));
    expect(report).toMatchObject({ shift: 'lighting:0.5', seed: 3, episodesPerTask: 2, policy: 'expert', workers: 1 });
    expect(report.tasks['spoon-on-towel']).toMatchObject({ episodes: 2 });
    expect(report.tasks['spoon-on-towel'].ci95).toHaveLength(2);
    expect(typeof report.mean).toBe('number');
  });

  it('collect-demos writes a readable dataset and says it has no images', async () => {
    const dir = join(root, 'demos');
    const r = await cli('collect-demos', '--tasks', 'stack-cube', '--episodes', '2', '--seed', '1', '--workers', '1', '--out', dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/no renderer is attached, so the dataset has no images/);
    expect(r.stdout).toMatch(/^wrote 2 episode\(s\) to .*demos \(\d\/2 successful; no images\)/);
    const data = await DatasetReader.open(dir);
    expect(data.count).toBe(2);
    expect(data.manifest.image).toBeNull();
    const ep = await data.readEpisode(1);
    expect(ep.header).toMatchObject({ task: 'stack-cube', instruction: 'stack the green cube on the yellow cube', episodeIndex: 1, steps: 60, embodimentId: 0 });
    expect(ep.action.length).toBe(60 * 7);
    // The recorded state is the observation the action was chosen from: it starts at home.
    expect(Array.from(ep.state.subarray(0, 3)).map((v) => Math.round(v * 1000) / 1000)).toEqual([-0.12, 0, 0.2]);
    // With a renderer attached, every step stores its frame (a test double writes each
    // scene's geom count and the camera height in centimeters into its pixels).
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
    expect(frames[1]).toBe(42); // the source camera is 0.42 m above the table
    // A second run into the same folder is refused.
    const again = await cli('collect-demos', '--tasks', 'stack-cube', '--episodes', '1', '--workers', '1', '--out', dir);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/is not empty; choose a new folder/);
  });
});
