/**
 * Tasks: what to do (a natural-language instruction, one or two pick-and-place stages) and
 * where things start (exactly 24 enumerable configurations per task, like SimplerEnv's episode
 * ids: 6 placements of the objects x 4 orientations of the objects to grasp).
 *
 * Suites:
 * - `base`: the four SimplerEnv-WidowX-style tasks (60-step cap);
 * - `long`: two-stage tasks chaining two pick-and-place steps (120-step cap), LIBERO-Long style;
 * - `heldout`: single-stage tasks pairing objects and targets that no training task pairs.
 *
 * Placements are in the world frame (meters; yaw in radians about +z; see world.ts).
 *
 * @example
 * ```ts
 * const task = getTask('carrot-on-plate');
 * task.instruction;            // 'put the carrot on the plate'
 * task.configurations.length;  // 24
 * task.configurations[5].placements; // [{ kind: 'carrot', x, y, yaw }, { kind: 'plate', ... }]
 * ```
 */
import { ArgumentError } from '../errors.js';
import { OBJECTS, type ObjectKind } from './objects.js';

/** 'on': rests on the target's top; 'in': rests inside it (basket). */
export type Relation = 'on' | 'in';

export interface Stage {
  source: ObjectKind;
  target: ObjectKind;
  relation: Relation;
  /** The stage's instruction, e.g. 'put the carrot on the plate'. */
  instruction: string;
}

export interface Placement {
  kind: ObjectKind;
  x: number;
  y: number;
  yaw: number;
}

export interface Configuration {
  /** 0..23 */
  index: number;
  placements: Placement[];
}

export type Suite = 'base' | 'long' | 'heldout';

export interface TaskSpec {
  name: string;
  suite: Suite;
  instruction: string;
  stages: Stage[];
  /** The task's objects, in placement order (sources and targets). */
  objects: ObjectKind[];
  configurations: Configuration[];
}

export const CONFIGURATIONS_PER_TASK = 24;

/** Orientations (yaw) of the objects to grasp, one per configuration index mod 4. */
const SOURCE_YAWS = [0, Math.PI / 4, Math.PI / 2, (3 * Math.PI) / 4];

/** Single-stage placements: [source x, y], [target x, y], target yaw. */
const SINGLE_LAYOUTS: ReadonlyArray<readonly [readonly [number, number], readonly [number, number], number]> = [
  [[-0.05, -0.13], [0.02, 0.12], 0],
  [[-0.05, 0.13], [0.02, -0.12], 0.3],
  [[0.08, -0.12], [-0.08, 0.1], -0.25],
  [[0.08, 0.12], [-0.08, -0.1], 0.5],
  [[-0.14, -0.02], [0.1, 0.03], 0.15],
  [[0.12, 0.02], [-0.12, -0.03], -0.4],
];

/** Two-stage placements: source 1, target 1, source 2, target 2 (x, y) and the targets' yaws. */
const TWO_STAGE_LAYOUTS: ReadonlyArray<{ points: ReadonlyArray<readonly [number, number]>; targetYaws: readonly [number, number] }> = [
  { points: [[-0.12, -0.12], [0.1, -0.17], [-0.12, 0.12], [0.1, 0.17]], targetYaws: [0, 0.2] },
  { points: [[-0.12, 0.12], [0.1, 0.17], [-0.12, -0.12], [0.1, -0.17]], targetYaws: [-0.2, 0] },
  { points: [[0.12, -0.1], [-0.12, -0.16], [0.12, 0.1], [-0.12, 0.16]], targetYaws: [0.3, -0.1] },
  { points: [[0.12, 0.1], [-0.12, 0.16], [0.12, -0.1], [-0.12, -0.16]], targetYaws: [0.1, 0.35] },
  { points: [[0.17, 0], [0, -0.2], [-0.17, 0], [0, 0.2]], targetYaws: [0, -0.3] },
  { points: [[-0.17, 0], [0, 0.2], [0.17, 0], [0, -0.2]], targetYaws: [0.25, 0] },
];

/** Yaws of the two sources in two-stage tasks, one pair per configuration index mod 4. */
const TWO_STAGE_SOURCE_YAWS: ReadonlyArray<readonly [number, number]> = [
  [0, Math.PI / 2],
  [Math.PI / 4, (3 * Math.PI) / 4],
  [Math.PI / 2, 0],
  [(3 * Math.PI) / 4, Math.PI / 4],
];

function stage(source: ObjectKind, target: ObjectKind, relation: Relation = 'on'): Stage {
  const s = OBJECTS[source].noun;
  const t = OBJECTS[target].noun;
  const instruction = source === 'green-cube' && target === 'yellow-cube' ? `stack the ${s} on the ${t}` : `put the ${s} ${relation === 'in' ? 'in' : 'on'} the ${t}`;
  return { source, target, relation, instruction };
}

function singleStageTask(name: string, suite: Suite, st: Stage): TaskSpec {
  const configurations: Configuration[] = [];
  for (let index = 0; index < CONFIGURATIONS_PER_TASK; index++) {
    const [src, tgt, targetYaw] = SINGLE_LAYOUTS[Math.floor(index / 4)]!;
    configurations.push({
      index,
      placements: [
        { kind: st.source, x: src[0], y: src[1], yaw: SOURCE_YAWS[index % 4]! },
        { kind: st.target, x: tgt[0], y: tgt[1], yaw: targetYaw },
      ],
    });
  }
  return { name, suite, instruction: st.instruction, stages: [st], objects: [st.source, st.target], configurations };
}

function twoStageTask(name: string, first: Stage, second: Stage): TaskSpec {
  const configurations: Configuration[] = [];
  for (let index = 0; index < CONFIGURATIONS_PER_TASK; index++) {
    const layout = TWO_STAGE_LAYOUTS[Math.floor(index / 4)]!;
    const yaws = TWO_STAGE_SOURCE_YAWS[index % 4]!;
    const p = layout.points;
    configurations.push({
      index,
      placements: [
        { kind: first.source, x: p[0]![0], y: p[0]![1], yaw: yaws[0] },
        { kind: first.target, x: p[1]![0], y: p[1]![1], yaw: layout.targetYaws[0] },
        { kind: second.source, x: p[2]![0], y: p[2]![1], yaw: yaws[1] },
        { kind: second.target, x: p[3]![0], y: p[3]![1], yaw: layout.targetYaws[1] },
      ],
    });
  }
  return {
    name,
    suite: 'long',
    instruction: `${first.instruction}, then ${second.instruction}`,
    stages: [first, second],
    objects: [first.source, first.target, second.source, second.target],
    configurations,
  };
}

const ALL_TASKS: TaskSpec[] = [
  // SimplerEnv WidowX analogues.
  singleStageTask('carrot-on-plate', 'base', stage('carrot', 'plate')),
  singleStageTask('eggplant-in-basket', 'base', stage('eggplant', 'basket', 'in')),
  singleStageTask('spoon-on-towel', 'base', stage('spoon', 'towel')),
  singleStageTask('stack-cube', 'base', stage('green-cube', 'yellow-cube')),
  // Two-stage (long-horizon) tasks.
  twoStageTask('carrot-plate-then-cube-towel', stage('carrot', 'plate'), stage('green-cube', 'towel')),
  twoStageTask('spoon-towel-then-eggplant-basket', stage('spoon', 'towel'), stage('eggplant', 'basket', 'in')),
  twoStageTask('stack-cube-then-carrot-plate', stage('green-cube', 'yellow-cube'), stage('carrot', 'plate')),
  twoStageTask('eggplant-basket-then-carrot-plate', stage('eggplant', 'basket', 'in'), stage('carrot', 'plate')),
  // Held-out recombinations: no base or long task pairs these objects and targets.
  singleStageTask('carrot-on-towel', 'heldout', stage('carrot', 'towel')),
  singleStageTask('spoon-on-plate', 'heldout', stage('spoon', 'plate')),
  singleStageTask('green-cube-in-basket', 'heldout', stage('green-cube', 'basket', 'in')),
  singleStageTask('eggplant-on-plate', 'heldout', stage('eggplant', 'plate')),
];

const BY_NAME = new Map(ALL_TASKS.map((t) => [t.name, t]));

/** Every task name, in suite order. */
export const TASK_NAMES: readonly string[] = ALL_TASKS.map((t) => t.name);
export const SUITES: readonly Suite[] = ['base', 'long', 'heldout'];

/** The task called `name`; an ArgumentError lists the valid names otherwise. */
export function getTask(name: string): TaskSpec {
  const t = BY_NAME.get(name);
  if (!t) throw new ArgumentError('VLA_ARGUMENT', `unknown task '${name}'; valid tasks: ${TASK_NAMES.join(', ')}; suites: ${SUITES.join(', ')}, all`);
  return t;
}

export function tasksInSuite(suite: Suite): TaskSpec[] {
  return ALL_TASKS.filter((t) => t.suite === suite);
}

/**
 * Task names from a comma-separated list of task names and suite names ('base', 'long',
 * 'heldout', 'all'), in order, without duplicates.
 */
export function parseTaskList(list: string): string[] {
  const out: string[] = [];
  const tokens = list.split(',').map((s) => s.trim());
  if (tokens.length === 0 || tokens.every((t) => t === '')) throw new ArgumentError('VLA_ARGUMENT', `the task list is empty; valid tasks: ${TASK_NAMES.join(', ')}; suites: ${SUITES.join(', ')}, all`);
  for (const token of tokens) {
    if (token === '') throw new ArgumentError('VLA_ARGUMENT', `the task list '${list}' has an empty entry`);
    const names = token === 'all' ? [...TASK_NAMES] : (SUITES as readonly string[]).includes(token) ? tasksInSuite(token as Suite).map((t) => t.name) : [getTask(token).name];
    for (const n of names) if (!out.includes(n)) out.push(n);
  }
  return out;
}

/** Episode cap of a task: single-stage and two-stage caps are parameters (60 and 120 by default). */
export function episodeCap(task: TaskSpec, caps: EpisodeCaps = DEFAULT_EPISODE_CAPS): number {
  return task.stages.length > 1 ? caps.twoStage : caps.singleStage;
}

export interface EpisodeCaps {
  singleStage: number;
  twoStage: number;
}

export const DEFAULT_EPISODE_CAPS: EpisodeCaps = { singleStage: 60, twoStage: 120 };
