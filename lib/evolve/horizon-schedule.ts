/**
 * Progressive horizon extension (EVOLVE-VLA, methods digest section 3): training runs in stages
 * and stage k caps every rollout at H_max(k) environment steps, growing over the stages, so the
 * policy first improves the early part of a task where the critic's signal is reliable.
 *
 * The paper does not publish its schedule; `defaultHorizonSchedule` grows linearly from a
 * fraction of the task's step limit to the full limit, and any custom list of stages works.
 *
 * @example
 * ```ts
 * const schedule = defaultHorizonSchedule({ maxSteps: 120, iterations: 30, stages: 3 });
 * // [{ untilIteration: 10, maxSteps: 40 }, { untilIteration: 20, maxSteps: 80 }, { untilIteration: 30, maxSteps: 120 }]
 * horizonAt(schedule, 12); // { stage: 1, maxSteps: 80 }
 * ```
 */
import { ArgumentError } from '../errors.js';

/** One stage: iterations [previous untilIteration, untilIteration) cap rollouts at maxSteps. */
export interface HorizonStage {
  untilIteration: number;
  maxSteps: number;
}

export type HorizonSchedule = readonly HorizonStage[];

/** Checks a schedule: iteration bounds strictly increase, horizons positive and non-decreasing. */
export function checkHorizonSchedule(schedule: HorizonSchedule): HorizonSchedule {
  if (schedule.length === 0) throw new ArgumentError('VLA_ARGUMENT', 'horizon schedule: at least one stage is needed');
  let previousUntil = 0;
  let previousSteps = 0;
  schedule.forEach((s, i) => {
    if (!Number.isSafeInteger(s.untilIteration) || s.untilIteration <= previousUntil) {
      throw new ArgumentError('VLA_ARGUMENT', `horizon schedule: stage ${i} untilIteration must be an integer above ${previousUntil}, got ${String(s.untilIteration)}`);
    }
    if (!Number.isSafeInteger(s.maxSteps) || s.maxSteps < 1) {
      throw new ArgumentError('VLA_ARGUMENT', `horizon schedule: stage ${i} maxSteps must be a positive integer, got ${String(s.maxSteps)}`);
    }
    if (s.maxSteps < previousSteps) {
      throw new ArgumentError('VLA_ARGUMENT', `horizon schedule: stage ${i} shortens the horizon (${s.maxSteps} after ${previousSteps}); horizons only grow`);
    }
    previousUntil = s.untilIteration;
    previousSteps = s.maxSteps;
  });
  return schedule;
}

/** `stages` equal stages over `iterations`, horizons growing linearly to maxSteps. */
export function defaultHorizonSchedule(o: { maxSteps: number; iterations: number; stages?: number }): HorizonStage[] {
  const stages = o.stages ?? 3;
  if (!Number.isSafeInteger(o.maxSteps) || o.maxSteps < 1) throw new ArgumentError('VLA_ARGUMENT', `defaultHorizonSchedule: maxSteps must be a positive integer, got ${String(o.maxSteps)}`);
  if (!Number.isSafeInteger(stages) || stages < 1) throw new ArgumentError('VLA_ARGUMENT', `defaultHorizonSchedule: stages must be a positive integer, got ${String(stages)}`);
  if (!Number.isSafeInteger(o.iterations) || o.iterations < stages) {
    throw new ArgumentError('VLA_ARGUMENT', `defaultHorizonSchedule: iterations must be an integer >= stages (${stages}), got ${String(o.iterations)}`);
  }
  const out: HorizonStage[] = [];
  for (let k = 1; k <= stages; k++) {
    out.push({ untilIteration: Math.round((o.iterations * k) / stages), maxSteps: Math.max(1, Math.round((o.maxSteps * k) / stages)) });
  }
  return checkHorizonSchedule(out) as HorizonStage[];
}

/** A schedule with one stage: no horizon extension (the ablation). */
export function constantHorizonSchedule(o: { maxSteps: number; iterations: number }): HorizonStage[] {
  return checkHorizonSchedule([{ untilIteration: o.iterations, maxSteps: o.maxSteps }]) as HorizonStage[];
}

/** The stage (0-based) and horizon for an iteration; past the last stage the last one holds. */
export function horizonAt(schedule: HorizonSchedule, iteration: number): { stage: number; maxSteps: number } {
  if (!Number.isSafeInteger(iteration) || iteration < 0) throw new ArgumentError('VLA_ARGUMENT', `horizonAt: iteration must be a non-negative integer, got ${String(iteration)}`);
  for (let k = 0; k < schedule.length; k++) {
    if (iteration < schedule[k]!.untilIteration) return { stage: k, maxSteps: schedule[k]!.maxSteps };
  }
  return { stage: schedule.length - 1, maxSteps: schedule[schedule.length - 1]!.maxSteps };
}
