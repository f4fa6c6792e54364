/**
 * Per-dimension normalization of states and actions: the policy sees (x - mean) / std, so the
 * flow-matching noise N(0, I) is on the scale of the data. Statistics come from the training set
 * and travel with the checkpoint (metadata key `normalization`).
 *
 * @example
 * ```ts
 * const norm = Normalization.fit(states, actions, 4, 7);
 * norm.normalizeAction(a);   // in place
 * norm.denormalizeAction(a); // back
 * ```
 */
import { ArgumentError, RangeValueError, ShapeError } from '../errors.js';
import { checkFinite } from '../model/validate.js';

/** Dimensions whose spread is below this are not scaled up (a constant column stays constant). */
const MIN_STD = 1e-3;

export interface Stats {
  mean: number[];
  std: number[];
}

function fitStats(values: Float32Array, dim: number): Stats {
  const n = values.length / dim;
  const mean = new Array<number>(dim).fill(0);
  const sq = new Array<number>(dim).fill(0);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mean[d]! += values[i * dim + d]! / n;
  for (let i = 0; i < n; i++)
    for (let d = 0; d < dim; d++) {
      const x = values[i * dim + d]! - mean[d]!;
      sq[d]! += (x * x) / n;
    }
  return { mean, std: sq.map((v) => Math.max(MIN_STD, Math.sqrt(v))) };
}

/** Statistics must describe at least one dimension with finite means and positive spreads (they divide). */
function checkStats(s: unknown, which: 'state' | 'action'): asserts s is Stats {
  const stats = s as Partial<Stats> | null;
  if (typeof s !== 'object' || stats === null || !Array.isArray(stats.mean) || !Array.isArray(stats.std)) {
    throw new ArgumentError('VLA_ARGUMENT', `Normalization: ${which} must be { mean: number[], std: number[] }`);
  }
  const { mean, std } = stats;
  if (mean.length !== std.length) throw new ShapeError('VLA_SHAPE', `Normalization: ${which} has ${mean.length} means but ${std.length} std values`);
  if (mean.length === 0) throw new ShapeError('VLA_SHAPE', `Normalization: ${which} has no dimensions`);
  mean.forEach((m, i) => {
    if (typeof m !== 'number' || !Number.isFinite(m)) throw new RangeValueError('VLA_VALUE', `Normalization: ${which} mean[${i}] = ${String(m)} must be finite`);
  });
  std.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new RangeValueError('VLA_VALUE', `Normalization: ${which} std[${i}] = ${String(v)} must be a finite number > 0`);
  });
}

function checkSamples(values: Float32Array, dim: number, name: 'states' | 'actions', dimName: 'stateDim' | 'actionDim'): void {
  if (!Number.isSafeInteger(dim) || dim < 1) throw new ArgumentError('VLA_ARGUMENT', `Normalization.fit: ${dimName} must be a positive integer, got ${String(dim)}`);
  if (values.length % dim !== 0) throw new ShapeError('VLA_SHAPE', `Normalization.fit: ${name} has ${values.length} values, not a multiple of ${dimName} = ${dim}`);
}

export class Normalization {
  constructor(
    readonly state: Stats,
    readonly action: Stats,
  ) {
    checkStats(state, 'state');
    checkStats(action, 'action');
  }

  /** Statistics of `states` [N, stateDim] and `actions` [N, actionDim]. */
  static fit(states: Float32Array, actions: Float32Array, stateDim: number, actionDim: number): Normalization {
    checkSamples(states, stateDim, 'states', 'stateDim');
    checkSamples(actions, actionDim, 'actions', 'actionDim');
    if (states.length === 0 || actions.length === 0) throw new RangeValueError('VLA_VALUE', 'Normalization.fit: no samples');
    checkFinite(states, 'Normalization.fit: states');
    checkFinite(actions, 'Normalization.fit: actions');
    return new Normalization(fitStats(states, stateDim), fitStats(actions, actionDim));
  }

  /** Throws ShapeError unless the statistics have the policy's state and action dimensions. */
  checkDimensions(stateDim: number, actionDim: number, where: string): void {
    if (this.state.mean.length !== stateDim) throw new ShapeError('VLA_SHAPE', `${where}: the normalization has ${this.state.mean.length} state dimensions but the policy has ${stateDim}`);
    if (this.action.mean.length !== actionDim) throw new ShapeError('VLA_SHAPE', `${where}: the normalization has ${this.action.mean.length} action dimensions but the policy has ${actionDim}`);
  }

  static fromJSON(text: string, source: string): Normalization {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      throw new RangeValueError('VLA_VALUE', `${source}: normalization metadata is not JSON`);
    }
    const ok = (s: unknown): s is Stats =>
      typeof s === 'object' && s !== null && Array.isArray((s as Stats).mean) && Array.isArray((s as Stats).std) &&
      (s as Stats).mean.length === (s as Stats).std.length && (s as Stats).std.every((x) => typeof x === 'number' && x > 0) &&
      (s as Stats).mean.every((x) => typeof x === 'number' && Number.isFinite(x));
    const o = v as { state?: unknown; action?: unknown };
    if (!ok(o.state) || !ok(o.action)) throw new RangeValueError('VLA_VALUE', `${source}: normalization metadata must be { state: {mean, std}, action: {mean, std} } with std > 0`);
    return new Normalization(o.state, o.action);
  }

  toJSON(): string {
    return JSON.stringify({ state: this.state, action: this.action });
  }

  private static apply(x: Float32Array | Float64Array, s: Stats, forward: boolean, where: string): void {
    const d = s.mean.length;
    if (x.length % d !== 0) throw new ShapeError('VLA_SHAPE', `Normalization.${where}: ${x.length} values, not a multiple of ${d}`);
    for (let i = 0; i < x.length; i++) {
      const k = i % d;
      x[i] = forward ? (x[i]! - s.mean[k]!) / s.std[k]! : x[i]! * s.std[k]! + s.mean[k]!;
    }
  }
  normalizeState(x: Float32Array | Float64Array): void {
    Normalization.apply(x, this.state, true, 'normalizeState');
  }
  normalizeAction(x: Float32Array | Float64Array): void {
    Normalization.apply(x, this.action, true, 'normalizeAction');
  }
  denormalizeAction(x: Float32Array | Float64Array): void {
    Normalization.apply(x, this.action, false, 'denormalizeAction');
  }
}
