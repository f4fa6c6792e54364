// Observation images from the native renderer: they show a plausible tabletop (the table in the
// lower part, every task object where the camera model says it is and unlike the table), the
// same episode renders to the same bytes, every visual shift changes the picture by more than
// the episode-to-episode placement jitter does while dynamics shifts leave it alone, and the
// images rollouts deliver (drawn in batches inside the workers) are the images one environment
// draws for itself.
import { afterAll, describe, expect, it } from 'vitest';

import { renderScenes } from '../lib/render/renderer.js';
import { TextureKind, type Camera, type Scene } from '../lib/render/scene.js';
import { TabletopEnv, type EpisodeSpec } from '../lib/tabletop/env.js';
import { ScriptedExpert } from '../lib/tabletop/expert.js';
import { DEFAULT_IMAGE_SIZE, type RgbImage } from '../lib/tabletop/observation-images.js';
import { OBJECTS } from '../lib/tabletop/objects.js';
import { planEpisodes, runRollouts, type Transition } from '../lib/tabletop/rollout.js';
import { SceneTemplate } from '../lib/tabletop/scene-extract.js';
import { SOURCE_CAMERA } from '../lib/tabletop/shifts.js';
import { TASK_NAMES, getTask, tasksInSuite } from '../lib/tabletop/tasks.js';
import type { Vec3 } from '../lib/util/math3d.js';

const W = DEFAULT_IMAGE_SIZE.width;
const H = DEFAULT_IMAGE_SIZE.height;
const BASE_TASKS = tasksInSuite('base').map((t) => t.name);

const envs: TabletopEnv[] = [];
async function envFor(shift: string): Promise<TabletopEnv> {
  const env = await TabletopEnv.create({ shift });
  envs.push(env);
  return env;
}
afterAll(() => envs.forEach((e) => e.dispose()));

/** The first observation's image of an episode under a shift. */
async function firstImage(shift: string, episode: EpisodeSpec): Promise<Uint8Array> {
  return (await envFor(shift)).reset(episode).image!.data;
}

/** Mean absolute difference per byte, and the pixels whose largest channel change exceeds 12 levels. */
function difference(a: Uint8Array, b: Uint8Array): { mean: number; changedPixels: number } {
  let sum = 0;
  let changedPixels = 0;
  for (let p = 0; p < a.length; p += 3) {
    let most = 0;
    for (let c = 0; c < 3; c++) {
      const d = Math.abs(a[p + c]! - b[p + c]!);
      sum += d;
      most = Math.max(most, d);
    }
    if (most > 12) changedPixels++;
  }
  return { mean: sum / a.length, changedPixels };
}

/**
 * Where a world point lands in the image, from the camera model the renderer documents
 * (docs/renderer.md): pinhole, vertical field of view fovy, x to the camera's right, rows down
 * from the top, pixel (i, j) covering [i, i+1) x [j, j+1). Written here, not taken from the
 * renderer, so a camera convention broken on either side shows up.
 */
function project(camera: Camera, p: Vec3, width = W, height = H): [number, number] {
  const sub = (a: readonly number[], b: readonly number[]): Vec3 => [a[0]! - b[0]!, a[1]! - b[1]!, a[2]! - b[2]!];
  const dot = (a: Vec3, b: Vec3): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
  const unit = (a: Vec3): Vec3 => {
    const n = Math.hypot(...a);
    return [a[0] / n, a[1] / n, a[2] / n];
  };
  const cross = (a: Vec3, b: Vec3): Vec3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
  const forward = unit(sub(camera.lookAt, camera.pos));
  const right = unit(cross(forward, camera.up));
  const up = cross(right, forward);
  const d = sub(p, camera.pos);
  const depth = dot(d, forward);
  const t = Math.tan((camera.fovyDeg * Math.PI) / 360);
  return [width / 2 + (dot(d, right) / depth / t) * (height / 2), height / 2 - (dot(d, up) / depth / t) * (height / 2)];
}

/** Renders a copy of `scene` with the geoms `which` flat-colored `rgb`. */
function renderRecolored(scene: Scene, which: (geom: number) => boolean, rgb: [number, number, number]): Uint8Array {
  const geoms = { ...scene.geoms, rgba: scene.geoms.rgba.slice(), texture: scene.geoms.texture.slice() };
  for (let g = 0; g < geoms.count; g++) {
    if (!which(g)) continue;
    geoms.rgba.set([...rgb, 1], g * 4);
    geoms.texture[g] = TextureKind.none;
  }
  return renderScenes([{ ...scene, geoms }], { width: W, height: H }).image(0).slice();
}

/**
 * The pixels where the geoms `which` are what the camera sees: recoloring them changes exactly
 * those pixels (shadows do not depend on color, so they are not counted).
 */
function visibleMask(scene: Scene, which: (geom: number) => boolean): Uint8Array {
  const a = renderRecolored(scene, which, [1, 0, 0]);
  const b = renderRecolored(scene, which, [0, 0, 1]);
  const mask = new Uint8Array(W * H);
  for (let p = 0; p < W * H; p++) if (a[p * 3] !== b[p * 3] || a[p * 3 + 2] !== b[p * 3 + 2]) mask[p] = 1;
  return mask;
}

function meanColor(image: Uint8Array, mask: Uint8Array): [number, number, number] {
  const sum = [0, 0, 0];
  let n = 0;
  mask.forEach((m, p) => {
    if (!m) return;
    n++;
    for (let c = 0; c < 3; c++) sum[c]! += image[p * 3 + c]!;
  });
  return [sum[0]! / n, sum[1]! / n, sum[2]! / n];
}

describe('observation images', () => {
  it('are 64x64 RGB by default, and off or another size on request', async () => {
    const episode = { task: 'stack-cube', configuration: 3, seed: 8 };
    const env = await envFor('source');
    const image = env.reset(episode).image!;
    expect(image).toMatchObject({ width: 64, height: 64 });
    expect(image.data.length).toBe(64 * 64 * 3);
    expect(env.step([0, 0, 0, 0, 0, 0, 1]).observation.image!.data.length).toBe(64 * 64 * 3);
    const off = await TabletopEnv.create({ images: false });
    expect(off.reset(episode).image).toBeNull();
    off.dispose();
    const wide = await TabletopEnv.create({ images: { width: 96, height: 48 } });
    expect(wide.reset(episode).image).toMatchObject({ width: 96, height: 48 });
    wide.dispose();
    await expect(TabletopEnv.create({ images: { width: 0, height: 64 } })).rejects.toThrow(/images\.width must be an integer in \[1, 4096\], got 0/);
  });

  for (const task of BASE_TASKS) {
    it(`show a plausible tabletop for ${task}: table below, each object where the camera puts it, unlike the table`, async () => {
      const env = await envFor('source');
      const image = env.reset({ task, configuration: 5, seed: 31 }).image!.data;
      const world = env.currentWorld;
      const scene = env.scene();
      const geomIds = new SceneTemplate(world, env.domain).geomIds;
      expect(scene.camera).toEqual(SOURCE_CAMERA);

      // The table fills the lower part of the image and little of the top rows (background,
      // the robot's base).
      const table = visibleMask(scene, (g) => geomIds[g] === world.tableGeomId);
      const fraction = (y0: number, y1: number): number => {
        let n = 0;
        for (let p = y0 * W; p < y1 * W; p++) n += table[p]!;
        return n / ((y1 - y0) * W);
      };
      expect(fraction(H / 2, H)).toBeGreaterThan(0.85);
      expect(fraction(0, 4)).toBeLessThan(0.2);
      expect(fraction(0, H)).toBeGreaterThan(0.55);
      const tableColor = meanColor(image, table);

      world.spec.objects.forEach((object, i) => {
        const mask = visibleMask(scene, (g) => world.geomOwner[geomIds[g]!] === i);
        const pixels = mask.reduce((a, b) => a + b, 0);
        // The smallest object (the spoon: a 1 cm wide handle) still covers several pixels.
        expect(pixels, `${object.kind}: ${pixels} visible pixels`).toBeGreaterThanOrEqual(6);
        // Its center of mass projects onto (or right next to) its visible pixels.
        const [u, v] = project(scene.camera, world.objectCom(i));
        let nearest = Infinity;
        mask.forEach((m, p) => {
          if (m) nearest = Math.min(nearest, Math.hypot((p % W) + 0.5 - u, Math.floor(p / W) + 0.5 - v));
        });
        expect(nearest, `${object.kind} at pixel (${u.toFixed(1)}, ${v.toFixed(1)})`).toBeLessThan(1.5);
        // And in the observation it does not look like the table around it.
        const color = meanColor(image, mask);
        const contrast = Math.abs(color[0] - tableColor[0]) + Math.abs(color[1] - tableColor[1]) + Math.abs(color[2] - tableColor[2]);
        expect(contrast, `${object.kind}: mean color ${color.map(Math.round).join(',')} vs table ${tableColor.map(Math.round).join(',')}`).toBeGreaterThan(40);
      });
    });
  }

  it('keep every task object of every configuration inside the source frame, footprint included', () => {
    for (const name of TASK_NAMES) {
      for (const c of getTask(name).configurations) {
        for (const p of c.placements) {
          const r = OBJECTS[p.kind].footprint;
          for (const [dx, dy] of [[0, 0], [r, 0], [-r, 0], [0, r], [0, -r]] as const) {
            const [u, v] = project(SOURCE_CAMERA, [p.x + dx, p.y + dy, 0]);
            const where = `${name} configuration ${c.index}: ${p.kind} edge (${dx}, ${dy}) at (${u.toFixed(1)}, ${v.toFixed(1)})`;
            expect(u >= 0 && u <= W && v >= 0 && v <= H, where).toBe(true);
          }
        }
      }
    }
  });
});

describe('each shift changes the picture or the dynamics, not both by accident', () => {
  for (const task of BASE_TASKS) {
    it(`${task}: the same episode renders identically; visual shifts change it beyond placement jitter; dynamics shifts do not`, async () => {
      const episode: EpisodeSpec = { task, configuration: 9, seed: 77 };
      const source = await firstImage('source', episode);
      // Rendered twice, by two environments: the same bytes.
      expect(await firstImage('source', episode)).toEqual(source);
      // The noise floor: another episode of the same configuration (its seeded +-8 mm,
      // +-0.1 rad placement jitter) changes this much.
      const jitter = difference(source, await firstImage('source', { ...episode, seed: 78 }));
      expect(jitter.mean).toBeGreaterThan(0);

      // Camera, lighting and table change the whole picture: a mean change of at least 4 of 255
      // levels, and 3x what the jitter does.
      for (const shift of ['camera', 'lighting', 'table']) {
        const d = difference(source, await firstImage(shift, episode));
        expect(d.mean, `${shift}: mean ${d.mean.toFixed(2)} vs jitter ${jitter.mean.toFixed(2)}`).toBeGreaterThan(Math.max(4, 3 * jitter.mean));
      }
      // Distractors change the picture locally: 3 extra objects of 13 to 40 visible pixels
      // each leave the rest alone (the task's own objects keep their places).
      const distractors = difference(source, await firstImage('distractors', episode));
      expect(distractors.changedPixels, `distractors changed ${distractors.changedPixels} pixels`).toBeGreaterThanOrEqual(60);
      expect(distractors.changedPixels).toBeLessThan(0.1 * W * H);
      // Dynamics shifts change what actions do (tested in tabletop-shifts.test.ts), not the picture.
      for (const shift of ['gain', 'latency', 'friction', 'action-scale']) expect(await firstImage(shift, episode), shift).toEqual(source);
    });
  }
});

describe('rollout images', () => {
  it('are the images an environment draws for itself, whatever the batching across workers, and change nothing else', async () => {
    const episodes = planEpisodes(['carrot-on-plate', 'spoon-on-towel'], 3, 12);
    const caps = { singleStage: 12, twoStage: 12 };
    const seen = new Map<string, RgbImage[]>();
    const traces = new Map<string, number[]>();
    const trace = (t: Transition): void => {
      const key = `${t.episode.task}#${t.episode.episodeIndex}`;
      if (!traces.has(key)) traces.set(key, []);
      traces.get(key)!.push(...t.observation.state, ...t.action);
    };
    const result = await runRollouts({
      policy: 'expert',
      episodes,
      workers: 2,
      envsPerWorker: 2,
      env: { shift: 'lighting', episodeCaps: caps },
      onTransition: (t) => {
        const key = `${t.episode.task}#${t.episode.episodeIndex}`;
        if (!seen.has(key)) seen.set(key, []);
        seen.get(key)!.push(t.observation.image!);
      },
    });
    expect(result.images).toEqual({ width: 64, height: 64 });
    expect(seen.size).toBe(6);
    // Drawing changes nothing that happens: the same states and actions with and without images.
    const withImages = await runRollouts({ policy: 'expert', episodes, workers: 1, env: { shift: 'lighting', episodeCaps: caps }, onTransition: trace });
    const imageTraces = new Map(traces);
    traces.clear();
    const without = await runRollouts({ policy: 'expert', episodes, workers: 1, env: { shift: 'lighting', episodeCaps: caps }, onTransition: trace, render: false });
    expect(without.episodes.map((e) => e.outcome)).toEqual(withImages.episodes.map((e) => e.outcome));
    expect(traces).toEqual(imageTraces);
    const env = await TabletopEnv.create({ shift: 'lighting', episodeCaps: caps });
    for (const plan of [episodes[1]!, episodes[5]!]) {
      const expert = new ScriptedExpert(plan.seed);
      const local: Uint8Array[] = [env.reset(plan).image!.data];
      for (let t = 1; t < 12; t++) local.push(env.step(expert.act(env.privileged())).observation.image!.data);
      const remote = seen.get(`${plan.task}#${plan.episodeIndex}`)!;
      expect(remote).toHaveLength(12);
      remote.forEach((image, t) => {
        expect(image.width).toBe(64);
        expect(image.data, `${plan.task}#${plan.episodeIndex} step ${t}`).toEqual(local[t]);
      });
    }
    env.dispose();
  });
});
