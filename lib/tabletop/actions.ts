/**
 * The action convention of the tabletop world, stated once.
 *
 * An action is 7 numbers, one control step (0.2 s at 5 Hz) each:
 *
 * | index | meaning                                   | unit    | bounds         |
 * |-------|-------------------------------------------|---------|----------------|
 * | 0..2  | dx, dy, dz of the end effector's target   | meters  | [-0.05, 0.05]  |
 * | 3..5  | droll, dpitch, dyaw of the target         | radians | [-0.25, 0.25]  |
 * | 6     | gripper: -1 fully closed .. +1 fully open | -       | [-1, 1]        |
 *
 * Translations are in the world frame (x away from the robot, y to its left, z up). The
 * rotation delta is applied about the world axes at the end effector:
 * R_target <- Rz(dyaw) * Ry(dpitch) * Rx(droll) * R_target. The gripper command is absolute
 * (a target finger opening, linear in finger travel), not a delta.
 *
 * Out-of-bounds values are clipped (the step reports which indices were clipped); wrong
 * length, NaN or Inf raise a RangeValueError naming the index.
 */
import { ArgumentError, RangeValueError } from '../errors.js';

export const ACTION_DIM = 7;
export const MAX_TRANSLATION = 0.05;
export const MAX_ROTATION = 0.25;

export const ACTION_LOW: readonly number[] = [-MAX_TRANSLATION, -MAX_TRANSLATION, -MAX_TRANSLATION, -MAX_ROTATION, -MAX_ROTATION, -MAX_ROTATION, -1];
export const ACTION_HIGH: readonly number[] = [MAX_TRANSLATION, MAX_TRANSLATION, MAX_TRANSLATION, MAX_ROTATION, MAX_ROTATION, MAX_ROTATION, 1];

/** Gripper command values. */
export const GRIPPER_OPEN = 1;
export const GRIPPER_CLOSED = -1;

/** An action as the environment accepts it. */
export type Action = ArrayLike<number>;

/**
 * Validates an action and clips it to the bounds. Returns the clipped copy and the indices that
 * were clipped. `what` names the action in error messages (e.g. 'action of env 3').
 */
export function clipAction(action: unknown, what = 'action'): { action: Float64Array; clipped: number[] } {
  if (action === null || typeof action !== 'object' || typeof (action as { length?: unknown }).length !== 'number') {
    throw new ArgumentError('VLA_ARGUMENT', `${what} must be an array of ${ACTION_DIM} numbers, got ${action === null ? 'null' : typeof action}`);
  }
  const a = action as ArrayLike<unknown>;
  if (a.length !== ACTION_DIM) {
    throw new RangeValueError('VLA_VALUE', `${what} must have ${ACTION_DIM} numbers (dx, dy, dz, droll, dpitch, dyaw, gripper), got ${a.length}`);
  }
  const out = new Float64Array(ACTION_DIM);
  const clipped: number[] = [];
  for (let i = 0; i < ACTION_DIM; i++) {
    const v = a[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new RangeValueError('VLA_VALUE', `${what}[${i}] must be a finite number, got ${String(v)}`);
    }
    const c = Math.min(ACTION_HIGH[i]!, Math.max(ACTION_LOW[i]!, v));
    if (c !== v) clipped.push(i);
    out[i] = c;
  }
  return { action: out, clipped };
}
