// Domain shifts: parsing, composition and errors; each visual shift changes the Scene handed to
// the renderer (and nothing physical); each dynamics shift changes what the same actions do.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ArgumentError, RangeValueError } from '../lib/errors.js';
import { GeomType, TextureKind, type Scene } from '../lib/render/scene.js';
import { EMBODIMENT_IDS } from '../lib/tabletop/embodiments.js';
import { TabletopEnv, type EpisodeSpec } from '../lib/tabletop/env.js';
import { ScriptedExpert } from '../lib/tabletop/expert.js';
import { OBJECTS } from '../lib/tabletop/objects.js';
import { embodimentIdOf, parseShift, resolveDomain, SHIFT_PRESETS } from '../lib/tabletop/shifts.js';
import type { Vec3 } from '../lib/util/math3d.js';

describe('shift expressions', () => {
  it('parses presets, strengths and compositions into a canonical form', () => {
    expect(parseShift('source').text).toBe('source');
    expect(parseShift('camera').components).toEqual([{ preset: 'camera', strength: 1 }]);
    expect(parseShift(' camera:0.5 + friction ').text).toBe('camera:0.5+friction:1');
    expect(parseShift('latency:2+gain:1.5+table:.25').components.map((c) => c.strength)).toEqual([2, 1.5, 0.25]);
    expect(SHIFT_PRESETS).toContain('wrist-offset');
  });

  it('names the bad token and lists the valid presets', () => {
    expect(() => parseShift('camera+lightning')).toThrow(ArgumentError);
    expect(() => parseShift('camera+lightning')).toThrow(/unknown shift preset 'lightning'; valid presets: source, camera, lighting, table, distractors, gain, latency, friction/);
    expect(() => parseShift('camera:-1')).toThrow(RangeValueError);
    expect(() => parseShift('camera:abc')).toThrow(/shift term 'camera:abc': strength must be a finite number in \[0, 5\], got 'abc'/);
    expect(() => parseShift('camera:1:2')).toThrow(/more than one ':'/);
    expect(() => parseShift('camera++gain')).toThrow(/empty term/);
    expect(() => parseShift('')).toThrow(/shift is empty; valid presets/);
    expect(() => parseShift('camera+camera:2')).toThrow(/names 'camera' twice/);
    expect(() => parseShift('source+camera')).toThrow(/cannot be combined/);
    expect(() => parseShift('finger-length+wrist-offset')).toThrow(/two embodiments/);
  });

  it('composes: each preset draws from its own stream, so order and company do not change it', () => {
    const a = resolveDomain(parseShift('camera:0.7'), 3);
    const b = resolveDomain(parseShift('friction+camera:0.7+lighting'), 3);
    expect(b.camera).toEqual(a.camera);
    expect(b.frictionScale).toBeCloseTo(0.45);
    expect(resolveDomain(parseShift('camera:0.7'), 4).camera).not.toEqual(a.camera);
    // Strength 0 is the source domain.
    expect(resolveDomain(parseShift('camera:0+lighting:0+gain:0+friction:0'), 9)).toMatchObject({
      camera: resolveDomain(parseShift('source'), 9).camera,
      lighting: resolveDomain(parseShift('source'), 9).lighting,
      gain: 1,
      frictionScale: 1,
    });
  });

  it('gives each embodiment its documented id', () => {
    expect(embodimentIdOf(parseShift('source'))).toBe(0);
    expect(embodimentIdOf(parseShift('camera+finger-length:0.5'))).toBe(EMBODIMENT_IDS['finger-length']);
    expect(embodimentIdOf(parseShift('wrist-offset'))).toBe(2);
    expect(embodimentIdOf(parseShift('action-scale'))).toBe(3);
  });

  it("'unannounced' keeps an embodiment's geometry but reports the source robot's id", () => {
    const hidden = parseShift('unannounced+finger-length:0.5');
    expect(hidden.text).toBe('unannounced+finger-length:0.5');
    expect(embodimentIdOf(hidden)).toBe(0);
    const told = resolveDomain(parseShift('finger-length:0.5'), 0).embodiment;
    const notTold = resolveDomain(hidden, 0).embodiment;
    expect(told.id).toBe(EMBODIMENT_IDS['finger-length']);
    expect(notTold).toEqual({ ...told, id: 0 });
    expect(resolveDomain(parseShift('wrist-offset+unannounced'), 0).embodiment.handOffset).toEqual([0.03, 0, 0]);
    expect(parseShift('action-scale+unannounced:1').text).toBe('action-scale:1+unannounced');
    expect(() => parseShift('unannounced')).toThrow(/'unannounced' hides an embodiment change from the policy and needs one of finger-length, wrist-offset, action-scale/);
    expect(() => parseShift('camera+unannounced')).toThrow(ArgumentError);
    expect(() => parseShift('finger-length+unannounced:0.5')).toThrow(/'unannounced' takes no strength/);
  });
});

const episode: EpisodeSpec = { task: 'carrot-on-plate', configuration: 2, seed: 21 };

async function sceneUnder(shift: string): Promise<{ scene: Scene; env: TabletopEnv }> {
  const env = await TabletopEnv.create({ shift });
  env.reset(episode);
  return { scene: env.scene(), env };
}

describe('scene extraction', () => {
  let source: { scene: Scene; env: TabletopEnv };
  beforeAll(async () => {
    source = await sceneUnder('source');
  });
  afterAll(() => source.env.dispose());

  it('lists every drawable geom with its type, size and pose from MuJoCo', () => {
    const { scene, env } = source;
    const w = env.currentWorld;
    // Floor, table top, 4 legs, robot base and column, the hand (palm, wrist, forearm, 2 finger
    // links, 2 pads), the carrot (body + 2 leaves) and the plate (body + visual center).
    expect(scene.geoms.count).toBe(1 + 1 + 4 + 2 + 7 + 3 + 2);
    expect(scene.geoms.count).toBe(w.model.ngeom);
    for (const arr of [scene.geoms.size, scene.geoms.pos]) expect(arr.length).toBe(scene.geoms.count * 3);
    expect(scene.geoms.mat.length).toBe(scene.geoms.count * 9);
    // The carrot's capsule is where its free joint's qpos says (plus its local offset up).
    const carrot = w.spec.objects.findIndex((o) => o.kind === 'carrot');
    const capsule = Array.from(scene.geoms.type).findIndex((t, i) => t === GeomType.capsule && Math.abs(scene.geoms.size[i * 3]! - 0.016) < 1e-6);
    const q = w.objectPos(carrot);
    const p: Vec3 = [scene.geoms.pos[capsule * 3]!, scene.geoms.pos[capsule * 3 + 1]!, scene.geoms.pos[capsule * 3 + 2]!];
    expect(p[0]).toBeCloseTo(q[0], 4);
    expect(p[1]).toBeCloseTo(q[1], 4);
    expect(p[2]).toBeCloseTo(q[2] + OBJECTS.carrot.geoms[0]!.pos[2], 4);
    // Its long axis (local z) lies flat, along the carrot's heading.
    expect(Math.abs(scene.geoms.mat[capsule * 9 + 8]!)).toBeLessThan(0.01);
    // Geoms move with the world: a step later the hand's geoms are elsewhere.
    env.step([0.05, 0, 0, 0, 0, 0.2, 1]);
    const later = env.scene();
    expect(later.geoms.pos).not.toEqual(scene.geoms.pos);
    expect(later.geoms.type).toEqual(scene.geoms.type);
  });

  it('gives the table its procedural texture and every color in linear [0, 1]', () => {
    const { scene, env } = source;
    const table = env.currentWorld.tableGeomId;
    expect(scene.geoms.texture[table]).toBe(TextureKind.noise);
    expect(scene.geoms.texParams[table * 4]).toBeGreaterThan(0);
    for (const v of scene.geoms.rgba) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1);
    }
  });

  it('camera moves the camera; lighting changes the light; table recolors and retextures the table', async () => {
    const cam = await sceneUnder('camera');
    expect(cam.scene.camera.pos).not.toEqual(source.scene.camera.pos);
    expect(Math.hypot(...cam.scene.camera.pos.map((v, i) => v - source.scene.camera.pos[i]!))).toBeGreaterThan(0.1);
    expect(cam.scene.lighting).toEqual(source.scene.lighting);
    const light = await sceneUnder('lighting');
    expect(light.scene.lighting.direction).not.toEqual(source.scene.lighting.direction);
    expect(light.scene.lighting.color).not.toEqual(source.scene.lighting.color);
    expect(light.scene.camera).toEqual(source.scene.camera);
    const tab = await sceneUnder('table');
    const t = source.env.currentWorld.tableGeomId;
    expect(tab.scene.geoms.texture[t]).not.toBe(source.scene.geoms.texture[t]);
    expect(Array.from(tab.scene.geoms.rgba.subarray(t * 4, t * 4 + 3))).not.toEqual(Array.from(source.scene.geoms.rgba.subarray(t * 4, t * 4 + 3)));
    // Nothing but the table changed color.
    const others = (s: Scene): number[] => Array.from(s.geoms.rgba).filter((_, i) => Math.floor(i / 4) !== t);
    expect(others(tab.scene)).toEqual(others(source.scene));
    for (const x of [cam, light, tab]) {
      // Visual shifts leave the physics alone.
      expect(x.env.currentWorld.objectPos(0)).toEqual(source.env.currentWorld.objectPos(0));
      x.env.dispose();
    }
  });

  it('distractors add objects, hence geoms, to the scene', async () => {
    const d = await sceneUnder('distractors');
    expect(d.env.distractorsPlaced).toBe(3);
    expect(d.scene.geoms.count).toBeGreaterThan(source.scene.geoms.count);
    expect(d.env.currentWorld.spec.objects.length).toBe(5);
    d.env.dispose();
  });
});

describe('dynamics and embodiment shifts change what the same actions do', () => {
  // The scripted expert's actions in the source domain, replayed open-loop under each shift.
  let actions: Float64Array[] = [];
  let sourceEe: Vec3[] = [];
  beforeAll(async () => {
    const env = await TabletopEnv.create();
    env.reset(episode);
    const expert = new ScriptedExpert(episode.seed);
    for (let i = 0; i < 30; i++) {
      const a = expert.act(env.privileged());
      actions.push(a);
      env.step(a);
      sourceEe.push(env.privileged().ee);
    }
    env.dispose();
  });

  async function replay(shift: string): Promise<{ ee: Vec3[]; pads: Vec3[]; env: TabletopEnv }> {
    const env = await TabletopEnv.create({ shift });
    env.reset(episode);
    const ee: Vec3[] = [];
    const pads: Vec3[] = [];
    for (const a of actions) {
      env.step(a);
      ee.push(env.privileged().ee);
      pads.push(env.privileged().padCenter);
    }
    return { ee, pads, env };
  }
  const maxGap = (a: Vec3[], b: Vec3[]): number => Math.max(...a.map((p, i) => Math.hypot(p[0] - b[i]![0], p[1] - b[i]![1], p[2] - b[i]![2])));

  it('visual shifts replay the source trajectory exactly', async () => {
    const r = await replay('camera+lighting+table');
    expect(maxGap(r.ee, sourceEe)).toBe(0);
    r.env.dispose();
  });

  for (const shift of ['gain', 'latency', 'action-scale']) {
    it(`${shift} moves the end effector elsewhere`, async () => {
      const r = await replay(shift);
      expect(maxGap(r.ee, sourceEe)).toBeGreaterThan(0.02);
      r.env.dispose();
    });
  }

  it('finger-length and wrist-offset move the pads relative to the controlled point', async () => {
    for (const shift of ['finger-length', 'wrist-offset']) {
      const r = await replay(shift);
      const offset = r.pads.map((p, i) => Math.hypot(p[0] - r.ee[i]![0], p[1] - r.ee[i]![1], p[2] - r.ee[i]![2]));
      expect(Math.min(...offset), shift).toBeGreaterThan(0.025);
      r.env.dispose();
    }
  });

  it('friction changes where a tossed carrot lands under the same actions', async () => {
    // A toss scripted against the source world (grasp, lift, swing, let go while swinging),
    // recorded, then replayed action for action under the friction shift.
    const episodeSpec = { task: 'carrot-on-plate', configuration: 0, seed: 1 };
    const env = await TabletopEnv.create({ jitter: { position: 0, yaw: 0 }, images: false });
    env.reset(episodeSpec);
    const toss: number[][] = [];
    const act = (a: number[]): void => {
      toss.push(a);
      env.step(a);
    };
    const c = env.currentWorld.objectPos(0);
    for (const [goal, grip] of [[[c[0], c[1], 0.08], 1], [[c[0], c[1], 0.019], 1]] as const) {
      for (let i = 0; i < 10; i++) {
        const p = env.privileged().padCenter;
        act([...goal.map((g, k) => Math.max(-0.04, Math.min(0.04, g - p[k]!))), 0, 0, 0, grip]);
      }
    }
    for (let i = 0; i < 3; i++) act([0, 0, 0, 0, 0, 0, -1]);
    for (let i = 0; i < 2; i++) act([0, 0, 0.03, 0, 0, 0, -1]);
    act([0, 0.05, 0, 0, 0, 0, -1]);
    act([0, 0.05, 0, 0, 0, 0, 1]); // let go while swinging
    for (let i = 0; i < 8; i++) act([0, 0, 0, 0, 0, 0, 1]);
    const sourceLanding = env.currentWorld.objectPos(0);
    // The carrot was carried: it left its start.
    expect(Math.hypot(sourceLanding[0] - c[0], sourceLanding[1] - c[1])).toBeGreaterThan(0.03);
    env.dispose();

    const replay = async (shift: string): Promise<Vec3> => {
      const e = await TabletopEnv.create({ shift, jitter: { position: 0, yaw: 0 }, images: false });
      e.reset(episodeSpec);
      for (const a of toss) e.step(a);
      const end = e.currentWorld.objectPos(0);
      e.dispose();
      return end;
    };
    // Replaying in the source world reproduces the toss exactly; under friction it lands elsewhere.
    expect(await replay('source')).toEqual(sourceLanding);
    const b = await replay('friction');
    const a = sourceLanding;
    expect(Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2])).toBeGreaterThan(0.002);
  });
});
