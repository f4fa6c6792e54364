// Physics sanity of the tabletop world: objects rest on the table, the gripper holds the carrot
// by friction alone (nothing welds objects to the hand), and letting go drops it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ArgumentError, RangeValueError } from '../lib/errors.js';
import { TabletopEnv } from '../lib/tabletop/env.js';
import { isGrasped } from '../lib/tabletop/metrics.js';
import { OBJECTS } from '../lib/tabletop/objects.js';
import { TASK_NAMES } from '../lib/tabletop/tasks.js';
import type { Vec3 } from '../lib/util/math3d.js';

let env: TabletopEnv;
beforeAll(async () => {
  // Physics only: no observation images (tabletop-images.test.ts covers those).
  env = await TabletopEnv.create({ jitter: { position: 0, yaw: 0 }, images: false });
});
afterAll(() => env.dispose());

/** Steers the pads toward `goal` with the given gripper command, at most `maxSteps` steps. */
function moveTo(goal: Vec3, gripper: number, maxSteps = 20): void {
  for (let i = 0; i < maxSteps; i++) {
    const p = env.privileged();
    const err = [goal[0] - p.padCenter[0], goal[1] - p.padCenter[1], goal[2] - p.padCenter[2]];
    if (Math.hypot(...err) < 0.003) return;
    env.step([...err.map((e) => Math.max(-0.04, Math.min(0.04, e))), 0, 0, 0, gripper]);
  }
}

describe('tabletop physics', () => {
  it('every object of every task comes to rest on the table after reset', () => {
    for (const task of TASK_NAMES) {
      env.reset({ task, configuration: 5, seed: 3 });
      const w = env.currentWorld;
      w.spec.objects.forEach((o, i) => {
        expect(Math.abs(w.objectPos(i)[2] - OBJECTS[o.kind].restZ), `${task}: ${o.name} height`).toBeLessThan(0.002);
        expect(w.objectSpeed(i), `${task}: ${o.name} speed`).toBeLessThan(0.01);
      });
    }
  });

  it('grasps the carrot by contact and friction, lifts it, and drops it when released', () => {
    env.reset({ task: 'carrot-on-plate', configuration: 0, seed: 1 });
    const w = env.currentWorld;
    // Objects are free bodies; the only equality constraint is the hand's weld to its mocap.
    expect(w.xml.match(/<weld /g)?.length).toBe(1);
    expect(w.xml).not.toMatch(/<connect |<joint [^>]*type="fixed"/);
    const carrot = w.spec.objects.findIndex((o) => o.kind === 'carrot');
    const c = w.objectPos(carrot);
    const yawAligned = env.privileged().quats[carrot]!; // configuration 0: carrot yaw 0
    expect(Math.abs(yawAligned[3])).toBeLessThan(1e-6);

    moveTo([c[0], c[1], 0.08], 1);
    moveTo([c[0], c[1], 0.019], 1);
    expect(w.objectPos(carrot)[2]).toBeLessThan(0.002);
    for (let i = 0; i < 3; i++) env.step([0, 0, 0, 0, 0, 0, -1]);
    const held = env.privileged();
    expect(isGrasped(held.snapshot, carrot)).toBe(true);
    // The fingers stop on the carrot (diameter 32 mm), not closed.
    expect(held.opening).toBeGreaterThan(0.029);
    expect(held.opening).toBeLessThan(0.035);

    moveTo([c[0], c[1], 0.15], -1);
    for (let i = 0; i < 3; i++) env.step([0, 0, 0, 0, 0, 0, -1]);
    const lifted = env.privileged();
    expect(w.objectPos(carrot)[2]).toBeGreaterThan(0.1);
    expect(Math.abs(w.objectPos(carrot)[2] + 0.016 - lifted.padCenter[2])).toBeLessThan(0.01);
    expect(isGrasped(lifted.snapshot, carrot)).toBe(true);

    for (let i = 0; i < 4; i++) env.step([0, 0, 0, 0, 0, 0, 1]);
    const dropped = env.privileged();
    expect(isGrasped(dropped.snapshot, carrot)).toBe(false);
    expect(w.objectPos(carrot)[2]).toBeLessThan(0.005);
    expect(dropped.padCenter[2]).toBeGreaterThan(0.13);
  });

  it('names bad input: configuration, seed, action length and values; clips and reports', () => {
    expect(() => env.reset({ task: 'carrot-on-plate', configuration: 24, seed: 1 })).toThrow(RangeValueError);
    expect(() => env.reset({ task: 'carrot-on-plate', configuration: 24, seed: 1 })).toThrow(/configuration must be an integer in \[0, 23\], got 24/);
    expect(() => env.reset({ task: 'carrot-on-plate', configuration: 0, seed: -1 })).toThrow(/seed must be a non-negative safe integer, got -1/);
    expect(() => env.reset({ task: 'carrot', configuration: 0, seed: 1 })).toThrow(/unknown task 'carrot'/);
    env.reset({ task: 'carrot-on-plate', configuration: 0, seed: 1 });
    expect(() => env.step([0, 0, 0])).toThrow(/action must have 7 numbers \(dx, dy, dz, droll, dpitch, dyaw, gripper\), got 3/);
    expect(() => env.step([0, 0, Infinity, 0, 0, 0, 1])).toThrow(/action\[2\] must be a finite number, got Infinity/);
    expect(() => env.step('go' as unknown as number[])).toThrow(ArgumentError);
    const r = env.step([1, 0, 0, 0, 0, -0.1, 2]);
    expect(r.info.clipped).toEqual([0, 6]);
    expect(Array.from(r.info.action)).toEqual([0.05, 0, 0, 0, 0, -0.1, 1]);
    expect(r.observation.state).toHaveLength(4);
    expect(r.observation.embodimentId).toBe(0);
    expect(r.observation.image).toBeNull();
    for (let i = 1; i < 60; i++) expect(env.step([0, 0, 0, 0, 0, 0, 1]).done).toBe(i === 59);
    expect(() => env.step([0, 0, 0, 0, 0, 0, 1])).toThrow(/the episode is over \(60 steps\)/);
  });

  it('an open gripper lifts nothing: the carrot stays on the table', () => {
    env.reset({ task: 'carrot-on-plate', configuration: 0, seed: 1 });
    const w = env.currentWorld;
    const c = w.objectPos(0);
    moveTo([c[0], c[1], 0.019], 1);
    moveTo([c[0], c[1], 0.15], 1);
    expect(w.objectPos(0)[2]).toBeLessThan(0.002);
  });
});
