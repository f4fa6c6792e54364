// Tasks, configurations and the success / partial metrics on hand-made world states.
import { describe, expect, it } from 'vitest';

import { ArgumentError } from '../lib/errors.js';
import { WORKSPACE } from '../lib/tabletop/env.js';
import { DEFAULT_JITTER, episodeLayout } from '../lib/tabletop/layout.js';
import { MetricsTracker, stageHolds, type WorldSnapshot } from '../lib/tabletop/metrics.js';
import { OBJECTS, type ObjectKind } from '../lib/tabletop/objects.js';
import { CONFIGURATIONS_PER_TASK, getTask, parseTaskList, tasksInSuite, TASK_NAMES, type Stage } from '../lib/tabletop/tasks.js';
import { contactKey, Owner } from '../lib/tabletop/world.js';
import { quatFromYaw, quatToMat, type Vec3 } from '../lib/util/math3d.js';

describe('tasks', () => {
  it('has the four base tasks, four two-stage tasks and four held-out recombinations', () => {
    expect(tasksInSuite('base').map((t) => t.name)).toEqual(['carrot-on-plate', 'eggplant-in-basket', 'spoon-on-towel', 'stack-cube']);
    expect(tasksInSuite('long')).toHaveLength(4);
    expect(tasksInSuite('heldout')).toHaveLength(4);
    expect(getTask('carrot-on-plate').instruction).toBe('put the carrot on the plate');
    expect(getTask('stack-cube').instruction).toBe('stack the green cube on the yellow cube');
    for (const t of tasksInSuite('long')) {
      expect(t.stages).toHaveLength(2);
      expect(t.instruction).toContain(', then ');
    }
    // Held-out tasks pair a source and a target that no training task (base or long) pairs.
    const trained = new Set([...tasksInSuite('base'), ...tasksInSuite('long')].flatMap((t) => t.stages.map((s) => `${s.source}>${s.target}`)));
    for (const t of tasksInSuite('heldout')) expect(trained.has(`${t.stages[0]!.source}>${t.stages[0]!.target}`), t.name).toBe(false);
  });

  it('gives every task 24 distinct configurations, inside the workspace, with objects apart', () => {
    for (const name of TASK_NAMES) {
      const task = getTask(name);
      expect(task.configurations).toHaveLength(CONFIGURATIONS_PER_TASK);
      const keys = new Set(task.configurations.map((c) => JSON.stringify(c.placements)));
      expect(keys.size, name).toBe(CONFIGURATIONS_PER_TASK);
      for (const c of task.configurations) {
        expect(c.placements.map((p) => p.kind)).toEqual(task.objects);
        for (const p of c.placements) {
          expect(p.x).toBeGreaterThanOrEqual(WORKSPACE.x[0]);
          expect(p.x).toBeLessThanOrEqual(WORKSPACE.x[1]);
          expect(Math.abs(p.y)).toBeLessThanOrEqual(WORKSPACE.y[1]);
        }
        // Footprints stay apart even when the jitter pushes two objects toward each other.
        for (let i = 0; i < c.placements.length; i++) {
          for (let j = i + 1; j < c.placements.length; j++) {
            const a = c.placements[i]!;
            const b = c.placements[j]!;
            const gap = Math.hypot(a.x - b.x, a.y - b.y) - OBJECTS[a.kind].footprint - OBJECTS[b.kind].footprint;
            expect(gap - 2 * Math.SQRT2 * DEFAULT_JITTER.position, `${name}#${c.index} ${a.kind}/${b.kind}`).toBeGreaterThan(0.005);
          }
        }
      }
    }
  });

  it('lays out episodes deterministically from the seed, with distractors kept apart', () => {
    const task = getTask('carrot-on-plate');
    const a = episodeLayout(task, 3, 3, 11);
    const b = episodeLayout(task, 3, 3, 11);
    const c = episodeLayout(task, 3, 3, 12);
    expect(a).toEqual(b);
    expect(a.poses[0]).not.toEqual(c.poses[0]);
    expect(a.distractors).toBe(3);
    expect(a.objects.slice(2).every((o) => !task.objects.includes(o.kind))).toBe(true);
    for (let i = 0; i < a.objects.length; i++) {
      for (let j = i + 1; j < a.objects.length; j++) {
        const d = Math.hypot(a.poses[i]!.pos[0] - a.poses[j]!.pos[0], a.poses[i]!.pos[1] - a.poses[j]!.pos[1]);
        expect(d).toBeGreaterThan(OBJECTS[a.objects[i]!.kind].footprint + OBJECTS[a.objects[j]!.kind].footprint);
      }
    }
  });

  it('parses task lists with suites, and names the bad entry', () => {
    expect(parseTaskList('base')).toEqual(tasksInSuite('base').map((t) => t.name));
    expect(parseTaskList('stack-cube, carrot-on-plate,stack-cube')).toEqual(['stack-cube', 'carrot-on-plate']);
    expect(parseTaskList('all')).toHaveLength(12);
    expect(() => parseTaskList('carrot')).toThrow(ArgumentError);
    expect(() => parseTaskList('carrot')).toThrow(/unknown task 'carrot'; valid tasks: carrot-on-plate/);
    expect(() => parseTaskList('base,,long')).toThrow(/empty entry/);
  });
});

/** A hand-made world: objects at poses (yaw only), and the contacts listed. */
function snapshot(objects: Array<{ kind: ObjectKind; pos: Vec3; yaw?: number }>, contacts: Array<[number, number]>): WorldSnapshot {
  return {
    objects: objects.map((o) => ({ name: o.kind, kind: o.kind })),
    pos: objects.map((o) => o.pos),
    // Centers of mass: at the frame origin plus half the object's height (good enough here).
    com: objects.map((o) => [o.pos[0], o.pos[1], o.pos[2] + OBJECTS[o.kind].height / 2] as Vec3),
    mat: objects.map((o) => quatToMat(quatFromYaw(o.yaw ?? 0))),
    contacts: new Set(contacts.map(([a, b]) => contactKey(a, b))),
  };
}

const carrotOnPlate: Stage = getTask('carrot-on-plate').stages[0]!;
const eggInBasket: Stage = getTask('eggplant-in-basket').stages[0]!;

describe('success metrics', () => {
  it('holds when the source rests on the target: pose, contact, released', () => {
    const on = snapshot([{ kind: 'carrot', pos: [0.1, 0.1, 0.01] }, { kind: 'plate', pos: [0.12, 0.1, 0] }], [[0, 1]]);
    expect(stageHolds(on, carrotOnPlate, 0, 1)).toBe(true);
    // Right place, but no contact (hovering in the hand's shadow): not on.
    expect(stageHolds(snapshot([{ kind: 'carrot', pos: [0.1, 0.1, 0.01] }, { kind: 'plate', pos: [0.12, 0.1, 0] }], []), carrotOnPlate, 0, 1)).toBe(false);
    // Touching the plate's rim from the table beside it: contact but not over the plate.
    expect(stageHolds(snapshot([{ kind: 'carrot', pos: [0.1, 0.2, 0] }, { kind: 'plate', pos: [0.1, 0.1, 0] }], [[0, 1]]), carrotOnPlate, 0, 1)).toBe(false);
    // Still held by one pad: not released.
    expect(stageHolds(snapshot([{ kind: 'carrot', pos: [0.1, 0.1, 0.01] }, { kind: 'plate', pos: [0.12, 0.1, 0] }], [[0, 1], [0, Owner.padLeft]]), carrotOnPlate, 0, 1)).toBe(false);
    // Too high above the plate (held up in the air).
    expect(stageHolds(snapshot([{ kind: 'carrot', pos: [0.1, 0.1, 0.09] }, { kind: 'plate', pos: [0.12, 0.1, 0] }], [[0, 1]]), carrotOnPlate, 0, 1)).toBe(false);
  });

  it("judges 'in' against the basket's interior, in the basket's frame", () => {
    const inside = snapshot([{ kind: 'eggplant', pos: [0.05, 0.0, 0.008] }, { kind: 'basket', pos: [0, 0, 0], yaw: Math.PI / 2 }], [[0, 1]]);
    // Rotated 90 degrees, the basket's long side runs along world y: x = 0.05 is within its short half-width 0.057.
    expect(stageHolds(inside, eggInBasket, 0, 1)).toBe(true);
    const outside = snapshot([{ kind: 'eggplant', pos: [0.07, 0.0, 0.008] }, { kind: 'basket', pos: [0, 0, 0], yaw: Math.PI / 2 }], [[0, 1]]);
    expect(stageHolds(outside, eggInBasket, 0, 1)).toBe(false);
    // A basket held between both pads does not count, even with the eggplant inside.
    const dangling = snapshot([{ kind: 'eggplant', pos: [0.05, 0.0, 0.008] }, { kind: 'basket', pos: [0, 0, 0], yaw: Math.PI / 2 }], [[0, 1], [1, Owner.padLeft], [1, Owner.padRight]]);
    expect(stageHolds(dangling, eggInBasket, 0, 1)).toBe(false);
  });

  it('tracks grasps, long grasps, moved objects and stage success over an episode', () => {
    const start = snapshot([{ kind: 'carrot', pos: [0, 0, 0] }, { kind: 'plate', pos: [0.2, 0, 0] }, { kind: 'spoon', pos: [0, 0.2, 0] }], []);
    const tracker = new MetricsTracker([carrotOnPlate], [{ source: 0, target: 1 }], start);
    const held: Array<[number, number]> = [[0, Owner.padLeft], [0, Owner.padRight]];
    // 4 grasped steps, a slip, then 5 grasped steps while carrying, then placed.
    for (let i = 0; i < 4; i++) tracker.update(snapshot([{ kind: 'carrot', pos: [0, 0, 0.01 * i] }, { kind: 'plate', pos: [0.2, 0, 0] }, { kind: 'spoon', pos: [0, 0.2, 0] }], held), false);
    tracker.update(snapshot([{ kind: 'carrot', pos: [0, 0, 0] }, { kind: 'plate', pos: [0.2, 0, 0] }, { kind: 'spoon', pos: [0, 0.2, 0] }], []), true);
    let o = tracker.outcome();
    expect(o.grasped).toBe(true);
    expect(o.graspedFor5).toBe(false);
    expect(o.movedCorrectObject).toBe(false); // lifted exactly 3 cm: not past the threshold
    for (let i = 0; i < 5; i++) tracker.update(snapshot([{ kind: 'carrot', pos: [0.04 * i, 0, 0.05] }, { kind: 'plate', pos: [0.2, 0, 0] }, { kind: 'spoon', pos: [0, 0.2, 0] }], held), false);
    tracker.update(snapshot([{ kind: 'carrot', pos: [0.2, 0, 0.01] }, { kind: 'plate', pos: [0.2, 0, 0] }, { kind: 'spoon', pos: [0, 0.2, 0] }], [[0, 1]]), false);
    o = tracker.outcome();
    expect(o).toMatchObject({ success: true, grasped: true, graspedFor5: true, movedCorrectObject: true, steps: 11, clippedSteps: 1 });
    expect(o.stages[0]!.firstStep).toBe(11);
    // The spoon gets knocked 5 cm: the wrong object moved.
    tracker.update(snapshot([{ kind: 'carrot', pos: [0.2, 0, 0.01] }, { kind: 'plate', pos: [0.2, 0, 0] }, { kind: 'spoon', pos: [0.05, 0.2, 0] }], [[0, 1]]), false);
    expect(tracker.outcome().movedCorrectObject).toBe(false);
    expect(tracker.outcome().success).toBe(true);
  });

  it('counts a moved object only past the 3 cm threshold', () => {
    const start = snapshot([{ kind: 'carrot', pos: [0, 0, 0] }, { kind: 'plate', pos: [0.2, 0, 0] }], []);
    const tracker = new MetricsTracker([carrotOnPlate], [{ source: 0, target: 1 }], start);
    tracker.update(snapshot([{ kind: 'carrot', pos: [0.029, 0, 0] }, { kind: 'plate', pos: [0.2, 0, 0] }], []), false);
    expect(tracker.outcome().movedCorrectObject).toBe(false);
    tracker.update(snapshot([{ kind: 'carrot', pos: [0.031, 0, 0] }, { kind: 'plate', pos: [0.2, 0, 0] }], []), false);
    expect(tracker.outcome().movedCorrectObject).toBe(true);
  });
});
