/**
 * Success and partial metrics, computed from the world's state (poses and contacts).
 *
 * A stage "holds" when its source object rests on (or in) its target:
 * - pose: the source's center of mass, in the target's frame, lies over the target's support
 *   region (a disc or a rectangle), above its top surface and not more than the source's height
 *   plus 3 cm above it; for 'in', also below the basket's wall tops (plus 1 cm);
 * - contact: some geom of the source touches some geom of the target;
 * - released: neither finger pad touches the source (it rests there on its own), and the
 *   target is not held between the pads (a basket dangling from the gripper does not count).
 * Episode success = every stage holds at the final step.
 *
 * Partial metrics (SimplerEnv's): grasped (both pads touched the source at some control step),
 * grasped for 5+ consecutive control steps, and moved the right object (every stage's source
 * moved more than 3 cm from its start at some step, and no other object ever moved more than
 * 3 cm). For two-stage tasks a partial metric holds when it holds for every stage, and the
 * per-stage results are reported too.
 */
import { matTVec, sub, type Vec3 } from '../util/math3d.js';
import { OBJECTS, type ObjectInstance } from './objects.js';
import type { Stage } from './tasks.js';
import { contactKey, Owner } from './world.js';

/** What the metrics need to know about the world at one control step. */
export interface WorldSnapshot {
  objects: readonly ObjectInstance[];
  /** Center of mass of each object. */
  com: readonly Vec3[];
  /** Frame origin of each object. */
  pos: readonly Vec3[];
  /** Row-major rotation of each object. */
  mat: readonly (readonly number[])[];
  /** Contact owner pairs (world.ts contactKey). */
  contacts: ReadonlySet<number>;
}

/** Moved-object threshold, meters. */
export const MOVED_THRESHOLD = 0.03;
/** Consecutive grasped control steps for the "grasped for 5+ steps" metric. */
export const LONG_GRASP_STEPS = 5;

export function isGrasped(snapshot: WorldSnapshot, objectIndex: number): boolean {
  return snapshot.contacts.has(contactKey(objectIndex, Owner.padLeft)) && snapshot.contacts.has(contactKey(objectIndex, Owner.padRight));
}

export function isTouchingGripper(snapshot: WorldSnapshot, objectIndex: number): boolean {
  return snapshot.contacts.has(contactKey(objectIndex, Owner.padLeft)) || snapshot.contacts.has(contactKey(objectIndex, Owner.padRight));
}

/** Whether `stage` holds, with the source and target at these object indices. */
export function stageHolds(snapshot: WorldSnapshot, stage: Stage, sourceIndex: number, targetIndex: number): boolean {
  const support = OBJECTS[stage.target].support;
  if (!support) return false;
  const local = matTVec(snapshot.mat[targetIndex]!, sub(snapshot.com[sourceIndex]!, snapshot.pos[targetIndex]!));
  const over = support.shape === 'disc' ? Math.hypot(local[0], local[1]) <= support.radius : Math.abs(local[0]) <= support.halfX && Math.abs(local[1]) <= support.halfY;
  if (!over) return false;
  if (local[2] < support.topZ || local[2] > support.topZ + OBJECTS[stage.source].height + 0.03) return false;
  if (stage.relation === 'in' && support.shape === 'rect' && support.wallTopZ !== undefined && local[2] > support.wallTopZ + 0.01) return false;
  if (!snapshot.contacts.has(contactKey(sourceIndex, targetIndex))) return false;
  return !isTouchingGripper(snapshot, sourceIndex) && !isGrasped(snapshot, targetIndex);
}

export interface StageOutcome {
  /** The stage holds at the final step. */
  success: boolean;
  /** First control step (1-based) at whose end the stage held; null if never. */
  firstStep: number | null;
  grasped: boolean;
  graspedFor5: boolean;
  /** The stage's source moved more than 3 cm at some step. */
  sourceMoved: boolean;
}

export interface EpisodeOutcome {
  success: boolean;
  stages: StageOutcome[];
  grasped: boolean;
  graspedFor5: boolean;
  movedCorrectObject: boolean;
  /** Control steps taken. */
  steps: number;
  /** Control steps whose action had at least one clipped value. */
  clippedSteps: number;
}

/** Tracks the metrics of one episode, one control step at a time. */
export class MetricsTracker {
  private readonly start: Vec3[];
  private readonly maxDisplacement: number[];
  private readonly graspRun: number[];
  private readonly maxGraspRun: number[];
  private readonly firstHeld: (number | null)[];
  private lastHolds: boolean[];
  private steps = 0;
  private clippedSteps = 0;

  constructor(
    private readonly stages: readonly Stage[],
    /** Object index of each stage's source and target. */
    private readonly stageObjects: ReadonlyArray<{ source: number; target: number }>,
    initial: WorldSnapshot,
  ) {
    this.start = initial.com.map((c) => [...c] as Vec3);
    this.maxDisplacement = initial.com.map(() => 0);
    this.graspRun = initial.com.map(() => 0);
    this.maxGraspRun = initial.com.map(() => 0);
    this.firstHeld = stages.map(() => null);
    this.lastHolds = stages.map(() => false);
  }

  /** Records the state at the end of a control step. */
  update(snapshot: WorldSnapshot, clipped: boolean): void {
    this.steps++;
    if (clipped) this.clippedSteps++;
    for (let i = 0; i < snapshot.com.length; i++) {
      const d = snapshot.com[i]!;
      const s = this.start[i]!;
      this.maxDisplacement[i] = Math.max(this.maxDisplacement[i]!, Math.hypot(d[0] - s[0], d[1] - s[1], d[2] - s[2]));
      this.graspRun[i] = isGrasped(snapshot, i) ? this.graspRun[i]! + 1 : 0;
      this.maxGraspRun[i] = Math.max(this.maxGraspRun[i]!, this.graspRun[i]!);
    }
    this.lastHolds = this.stages.map((st, k) => stageHolds(snapshot, st, this.stageObjects[k]!.source, this.stageObjects[k]!.target));
    this.lastHolds.forEach((h, k) => {
      if (h && this.firstHeld[k] === null) this.firstHeld[k] = this.steps;
    });
  }

  /** Which stages hold after the latest update. */
  holds(): readonly boolean[] {
    return this.lastHolds;
  }

  outcome(): EpisodeOutcome {
    const stages: StageOutcome[] = this.stages.map((_, k) => {
      const src = this.stageObjects[k]!.source;
      return {
        success: this.lastHolds[k]!,
        firstStep: this.firstHeld[k]!,
        grasped: this.maxGraspRun[src]! >= 1,
        graspedFor5: this.maxGraspRun[src]! >= LONG_GRASP_STEPS,
        sourceMoved: this.maxDisplacement[src]! > MOVED_THRESHOLD,
      };
    });
    const sources = new Set(this.stageObjects.map((s) => s.source));
    let othersStill = true;
    this.maxDisplacement.forEach((d, i) => {
      if (!sources.has(i) && d > MOVED_THRESHOLD) othersStill = false;
    });
    return {
      success: stages.every((s) => s.success),
      stages,
      grasped: stages.every((s) => s.grasped),
      graspedFor5: stages.every((s) => s.graspedFor5),
      movedCorrectObject: stages.every((s) => s.sourceMoved) && othersStill,
      steps: this.steps,
      clippedSteps: this.clippedSteps,
    };
  }
}
