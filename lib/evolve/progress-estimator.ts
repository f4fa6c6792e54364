/**
 * Accumulative progress estimation (EVOLVE-VLA, methods digest section 3, Algorithm 1): turns a
 * noisy pairwise progress critic into an episode's done signal and reward.
 *
 * Conventions (one place):
 * - Steps are counted from 0 (the first frame, before any action) to T (the frame after the
 *   T-th action). The critic compares two frames: c = critic(earlier, later) in [-100, 100],
 *   how far `later` advanced the task over `earlier`.
 * - Milestones: frame 0, then every `milestoneEvery` (dm) steps. At a milestone step the critic
 *   compares the PREVIOUS milestone with the new frame (never a frame with itself), and the
 *   accumulated value is committed with diminishing returns:
 *     v_i = v_{i-1} + (100 - v_{i-1}) * c_i / 100,   v_0 = 0
 *   (a negative c also scales by (100 - v), so regressions cost more the further along we are).
 * - Checks: every `checkEvery` (dcheck < dm) steps between milestones, the critic compares the
 *   latest milestone with the current frame; the provisional value v + (100 - v) * c / 100 is
 *   the current estimate but is not committed.
 * - Done: the episode ends as done when estimate / 100 > tau (at a check, a milestone, or the
 *   final query).
 * - Reward: R = estimate / 100 at the episode's end. When the last frame is neither a milestone
 *   nor a check, `finish` queries the critic once more so the reward reflects the final frame.
 *
 * Modes (for ablations):
 * - 'accumulative': the algorithm above.
 * - 'vanilla': no milestones; every check compares the FIRST frame with the current one and the
 *   estimate is that c (the point estimate the paper's accumulation replaces).
 * - 'binary': accumulative estimation, but the reward is 1 when the episode was judged done and
 *   0 otherwise (the thresholded reward of the paper's ablation).
 *
 * The estimator does not call the critic itself: `observe` says which pair to compare, the
 * caller (which may batch critic calls across environments) answers with `record`.
 *
 * @example
 * ```ts
 * const est = new ProgressEstimator({ milestoneEvery: 64, checkEvery: 16, tau: 0.9 });
 * // after each environment step t (frame t):
 * const q = est.observe(t);            // null, or { earlier: step, later: t }
 * if (q) est.record(q, await critic(frames[q.earlier], frames[q.later]));
 * if (est.done) stopEpisode();
 * // at the end:
 * const q2 = est.finish(lastStep); if (q2) est.record(q2, await critic(...));
 * est.reward;                           // R = v / 100 (or 0/1 in binary mode)
 * ```
 */
import { ArgumentError, RangeValueError } from '../errors.js';

export type ProgressMode = 'accumulative' | 'vanilla' | 'binary';

export interface ProgressEstimatorOptions {
  /** dm: steps between milestones (default 64). */
  milestoneEvery?: number;
  /** dcheck: steps between critic checks, dcheck < dm (default 16). */
  checkEvery?: number;
  /** Done threshold on estimate / 100, in (0, 1] (default 0.9). */
  tau?: number;
  mode?: ProgressMode;
}

/** A critic query: compare frame `earlier` with frame `later` (steps). */
export interface ProgressQuery {
  earlier: number;
  later: number;
  /** A milestone query commits the value; a check query is provisional. */
  kind: 'milestone' | 'check' | 'final';
}

export interface ProgressPoint {
  step: number;
  /** The critic's answer for this query. */
  critic: number;
  /** The estimate after it (on the 0..100 scale; may go below 0 with negative progress). */
  value: number;
  kind: ProgressQuery['kind'];
}

export const DEFAULT_PROGRESS_OPTIONS: Required<ProgressEstimatorOptions> = { milestoneEvery: 64, checkEvery: 16, tau: 0.9, mode: 'accumulative' };

/** v + (100 - v) * c / 100: the paper's diminishing-returns update (Eq. 2). */
export function accumulateProgress(value: number, critic: number): number {
  return value + ((100 - value) * critic) / 100;
}

export class ProgressEstimator {
  readonly milestoneEvery: number;
  readonly checkEvery: number;
  readonly tau: number;
  readonly mode: ProgressMode;
  /** The committed accumulated value v (0..100 scale). */
  private committed = 0;
  private milestoneStep = 0;
  private current = 0;
  private pending: ProgressQuery | null = null;
  private lastAnswered = 0;
  private lastObserved = 0;
  private isDone = false;
  private doneAt: number | null = null;
  /** Every critic answer in order (for plots of v over an episode). */
  readonly history: ProgressPoint[] = [];

  constructor(options: ProgressEstimatorOptions = {}) {
    const o = { ...DEFAULT_PROGRESS_OPTIONS, ...options };
    if (!Number.isSafeInteger(o.milestoneEvery) || o.milestoneEvery < 2) {
      throw new ArgumentError('VLA_ARGUMENT', `ProgressEstimator: milestoneEvery must be an integer >= 2, got ${String(o.milestoneEvery)}`);
    }
    if (!Number.isSafeInteger(o.checkEvery) || o.checkEvery < 1 || o.checkEvery >= o.milestoneEvery) {
      throw new ArgumentError('VLA_ARGUMENT', `ProgressEstimator: checkEvery must be an integer in [1, milestoneEvery), got ${String(o.checkEvery)} with milestoneEvery ${o.milestoneEvery}`);
    }
    if (!(o.tau > 0 && o.tau <= 1)) throw new ArgumentError('VLA_ARGUMENT', `ProgressEstimator: tau must be in (0, 1], got ${String(o.tau)}`);
    if (!['accumulative', 'vanilla', 'binary'].includes(o.mode)) {
      throw new ArgumentError('VLA_ARGUMENT', `ProgressEstimator: mode must be accumulative, vanilla or binary, got '${String(o.mode)}'`);
    }
    this.milestoneEvery = o.milestoneEvery;
    this.checkEvery = o.checkEvery;
    this.tau = o.tau;
    this.mode = o.mode;
  }

  /** The current estimate on the 0..100 scale. */
  get value(): number {
    return this.current;
  }

  get done(): boolean {
    return this.isDone;
  }

  /** The step at which the episode was judged done, or null. */
  get doneStep(): number | null {
    return this.doneAt;
  }

  /** Critic calls answered so far. */
  get criticCalls(): number {
    return this.history.length;
  }

  /** The trajectory reward: estimate / 100, or 1/0 in binary mode. */
  get reward(): number {
    if (this.mode === 'binary') return this.isDone ? 1 : 0;
    return this.current / 100;
  }

  /** Frame `step` was just observed: the critic query due at this step, or null. */
  observe(step: number): ProgressQuery | null {
    this.checkStep(step, 'observe');
    if (step !== 0 && step <= this.lastObserved) {
      throw new ArgumentError('VLA_ARGUMENT', `ProgressEstimator.observe: steps must increase, got ${step} after ${this.lastObserved}`);
    }
    this.lastObserved = step;
    if (step === 0 || this.isDone) return null;
    let q: ProgressQuery | null = null;
    if (this.mode === 'vanilla') {
      if (step % this.checkEvery === 0) q = { earlier: 0, later: step, kind: 'check' };
    } else if (step % this.milestoneEvery === 0) {
      q = { earlier: this.milestoneStep, later: step, kind: 'milestone' };
    } else if (step % this.checkEvery === 0) {
      q = { earlier: this.milestoneStep, later: step, kind: 'check' };
    }
    this.pending = q;
    return q;
  }

  /** The episode ended at `lastStep`: a final query when the last frame has no answer yet. */
  finish(lastStep: number): ProgressQuery | null {
    this.checkStep(lastStep, 'finish');
    if (this.isDone || lastStep === 0 || lastStep === this.lastAnswered) return null;
    const earlier = this.mode === 'vanilla' ? 0 : this.milestoneStep;
    if (earlier === lastStep) return null;
    this.pending = { earlier, later: lastStep, kind: 'final' };
    return this.pending;
  }

  /** The critic's answer c in [-100, 100] for the query just returned by observe/finish. */
  record(query: ProgressQuery, critic: number): void {
    if (this.pending === null || query.earlier !== this.pending.earlier || query.later !== this.pending.later || query.kind !== this.pending.kind) {
      throw new ArgumentError('VLA_ARGUMENT', `ProgressEstimator.record: the query (${query.earlier} -> ${query.later}) is not the one pending`);
    }
    if (!Number.isFinite(critic) || critic < -100 || critic > 100) {
      throw new RangeValueError('VLA_VALUE', `ProgressEstimator.record: the critic value must be a finite number in [-100, 100], got ${String(critic)}`);
    }
    this.pending = null;
    this.lastAnswered = query.later;
    if (this.mode === 'vanilla') {
      this.current = critic;
    } else if (query.kind === 'milestone') {
      this.committed = accumulateProgress(this.committed, critic);
      this.milestoneStep = query.later;
      this.current = this.committed;
    } else {
      this.current = accumulateProgress(this.committed, critic);
    }
    this.history.push({ step: query.later, critic, value: this.current, kind: query.kind });
    if (this.current / 100 > this.tau) {
      this.isDone = true;
      this.doneAt = query.later;
    }
  }

  private checkStep(step: number, what: string): void {
    if (!Number.isSafeInteger(step) || step < 0) throw new ArgumentError('VLA_ARGUMENT', `ProgressEstimator.${what}: step must be a non-negative integer, got ${String(step)}`);
    if (this.pending !== null) throw new ArgumentError('VLA_ARGUMENT', `ProgressEstimator.${what}: the query ${this.pending.earlier} -> ${this.pending.later} has no answer yet (call record first)`);
  }
}
