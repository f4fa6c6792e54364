/**
 * How good a progress critic is, on recorded episodes (critic-data.ts), per task:
 *
 * - Pair error: mean absolute error of c(A, B) against the ground-truth label (critic-data.ts)
 *   on random pairs.
 * - Value-order correlation (VOC) on successful episodes: the Spearman rank correlation between
 *   time and the critic's value of each frame, value(t) = c(frame 0, frame t) (value(0) = 0).
 *   A successful episode mostly moves forward, so a good critic's values rise with time (1 =
 *   perfectly ordered). The same number for the ground-truth progress is reported beside it: it
 *   is the ceiling on our tasks (a real episode hesitates, so it is below 1).
 * - Done F-score: the accumulative estimator (progress-estimator.ts, Algorithm 1) runs over each
 *   episode of a balanced set of successes and failures; "done" is the positive class, and the
 *   environment's success is the truth. False positives (judged done, failed in fact) are the
 *   episodes a critic-terminated rollout would wrongly end as solved: reward hacking.
 *
 * The critic is any batched scoring function, so the same report measures a learned critic or
 * the ground-truth oracle.
 *
 * @example
 * ```ts
 * const report = await criticQuality((pairs) => critic.scoreAsync(pairs), heldOut, { seed: 0 });
 * report.tasks['carrot-on-plate'].voc;
 * ```
 */
import { ArgumentError } from '../errors.js';
import { Rng } from '../util/random.js';
import { criticFrame, criticFrameCount, sampleCriticPairs, type CriticEpisode } from './critic-data.js';
import { DEFAULT_PROGRESS_OPTIONS, ProgressEstimator, type ProgressEstimatorOptions, type ProgressPoint } from './progress-estimator.js';
import type { CriticPair } from './progress-critic.js';

/** Scores a batch of pairs: c in [-100, 100] for each. */
export type CriticScorer = (pairs: CriticPair[]) => Promise<Float64Array> | Float64Array;

export interface CriticQualityOptions {
  seed?: number;
  /** Random pairs per task for the pair error (default 256). */
  pairsPerTask?: number;
  /** Frames between VOC points (default 4). */
  vocStride?: number;
  /** Estimator settings for the done F-score (default dm 16, dcheck 4, tau 0.9). */
  estimator?: ProgressEstimatorOptions;
  /** Pairs per critic call (default 256). */
  batch?: number;
}

export interface DoneCounts {
  truePositive: number;
  falsePositive: number;
  trueNegative: number;
  falseNegative: number;
}

export interface TaskCriticQuality {
  episodes: number;
  successes: number;
  /** Mean |c - label| over random pairs. */
  pairMae: number;
  /** Mean VOC over successful episodes (null without any). */
  voc: number | null;
  /** The same for the ground-truth progress (the ceiling). */
  vocOracle: number | null;
  /** Balanced set: min(successes, failures) of each. */
  balanced: number;
  done: DoneCounts;
  precision: number | null;
  recall: number | null;
  f1: number | null;
}

export interface CriticQualityReport {
  tasks: Record<string, TaskCriticQuality>;
  /** Averages over tasks (f1/voc over the tasks that have them). */
  mean: { pairMae: number; voc: number | null; vocOracle: number | null; f1: number | null };
  /** Summed over tasks. */
  done: DoneCounts;
  estimator: Required<ProgressEstimatorOptions>;
  criticCalls: number;
}

/** Default estimator settings for our 60/120-step episodes (5 Hz). */
export const TABLETOP_PROGRESS_OPTIONS: Required<ProgressEstimatorOptions> = { ...DEFAULT_PROGRESS_OPTIONS, milestoneEvery: 16, checkEvery: 4 };

/** Ranks with ties averaged (1-based). */
function ranks(values: readonly number[]): number[] {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const r = new Array<number>(values.length);
  for (let a = 0; a < order.length; ) {
    let b = a;
    while (b + 1 < order.length && order[b + 1]![0] === order[a]![0]) b++;
    for (let k = a; k <= b; k++) r[order[k]![1]] = (a + b) / 2 + 1;
    a = b + 1;
  }
  return r;
}

/** Spearman rank correlation of `values` with their index (time); 0 when values are constant. */
export function valueOrderCorrelation(values: readonly number[]): number {
  const n = values.length;
  if (n < 2) throw new ArgumentError('VLA_ARGUMENT', `valueOrderCorrelation: needs at least 2 values, got ${n}`);
  const rv = ranks(values);
  const rt = values.map((_, i) => i + 1);
  const mean = (n + 1) / 2;
  let cov = 0;
  let vv = 0;
  let vt = 0;
  for (let i = 0; i < n; i++) {
    cov += (rv[i]! - mean) * (rt[i]! - mean);
    vv += (rv[i]! - mean) ** 2;
    vt += (rt[i]! - mean) ** 2;
  }
  return vv === 0 ? 0 : cov / Math.sqrt(vv * vt);
}

/** Scores many pairs in batches of `batch`. */
async function scoreAll(score: CriticScorer, pairs: CriticPair[], batch: number): Promise<Float64Array> {
  const out = new Float64Array(pairs.length);
  for (let i = 0; i < pairs.length; i += batch) {
    const part = pairs.slice(i, i + batch);
    const c = await score(part);
    if (c.length !== part.length) throw new ArgumentError('VLA_ARGUMENT', `criticQuality: the critic returned ${c.length} values for ${part.length} pairs`);
    out.set(c, i);
  }
  return out;
}

/** The (earlier, later) frame pairs the estimator can ask on an episode of `T` frames (0..T-1). */
export function estimatorQueries(T: number, o: Required<ProgressEstimatorOptions>): Array<[number, number]> {
  const qs: Array<[number, number]> = [];
  const last = T - 1;
  for (let t = 1; t <= last; t++) {
    if (o.mode === 'vanilla') {
      if (t % o.checkEvery === 0 || t === last) qs.push([0, t]);
    } else if (t % o.milestoneEvery === 0) {
      qs.push([t - o.milestoneEvery, t]);
    } else if (t % o.checkEvery === 0 || t === last) {
      qs.push([Math.floor(t / o.milestoneEvery) * o.milestoneEvery, t]);
    }
  }
  return qs;
}

/**
 * Runs the estimator over frames 0..T-1 with answers looked up in `answers` (keyed "i,j"):
 * what an online rollout would have computed, without re-running the environment.
 */
export function replayEstimator(T: number, options: ProgressEstimatorOptions, answers: ReadonlyMap<string, number>): { estimator: ProgressEstimator; history: ProgressPoint[] } {
  const est = new ProgressEstimator(options);
  const answer = (i: number, j: number): number => {
    const v = answers.get(`${i},${j}`);
    if (v === undefined) throw new ArgumentError('VLA_ARGUMENT', `replayEstimator: no critic answer for frames ${i} -> ${j}`);
    return v;
  };
  for (let t = 0; t < T && !est.done; t++) {
    const q = est.observe(t);
    if (q) est.record(q, answer(q.earlier, q.later));
  }
  if (!est.done) {
    const q = est.finish(T - 1);
    if (q) est.record(q, answer(q.earlier, q.later));
  }
  return { estimator: est, history: est.history };
}

const f1Of = (d: DoneCounts) => {
  const precision = d.truePositive + d.falsePositive > 0 ? d.truePositive / (d.truePositive + d.falsePositive) : null;
  const recall = d.truePositive + d.falseNegative > 0 ? d.truePositive / (d.truePositive + d.falseNegative) : null;
  const f1 = precision !== null && recall !== null && precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : precision === null && recall === null ? null : 0;
  return { precision, recall, f1 };
};

/** The report described in the module comment. */
export async function criticQuality(score: CriticScorer, episodes: readonly CriticEpisode[], options: CriticQualityOptions = {}): Promise<CriticQualityReport> {
  const seed = options.seed ?? 0;
  const pairsPerTask = options.pairsPerTask ?? 256;
  const stride = options.vocStride ?? 4;
  const batch = options.batch ?? 256;
  const est: Required<ProgressEstimatorOptions> = { ...TABLETOP_PROGRESS_OPTIONS, ...options.estimator };
  new ProgressEstimator(est); // validates the settings before any work
  if (!Number.isSafeInteger(stride) || stride < 1) throw new ArgumentError('VLA_ARGUMENT', `criticQuality: vocStride must be a positive integer, got ${String(stride)}`);
  if (episodes.length === 0) throw new ArgumentError('VLA_ARGUMENT', 'criticQuality: no episodes');
  const byTask = new Map<string, CriticEpisode[]>();
  for (const e of episodes) {
    const list = byTask.get(e.task);
    if (list) list.push(e);
    else byTask.set(e.task, [e]);
  }

  const tasks: Record<string, TaskCriticQuality> = {};
  const total: DoneCounts = { truePositive: 0, falsePositive: 0, trueNegative: 0, falseNegative: 0 };
  let calls = 0;
  for (const [task, list] of byTask) {
    const rng = new Rng(seed);
    // Pair error.
    const { pairs, targets } = sampleCriticPairs(list, pairsPerTask, rng);
    const c = await scoreAll(score, pairs, batch);
    calls += pairs.length;
    let mae = 0;
    c.forEach((v, i) => (mae += Math.abs(v - targets[i]!)));
    mae /= pairs.length;

    // VOC on successes: value(t) = c(frame 0, frame t).
    const successes = list.filter((e) => e.success);
    const vocPairs: CriticPair[] = [];
    const vocIndex: Array<{ episode: number; points: number[] }> = [];
    successes.forEach((e, k) => {
      const T = criticFrameCount(e);
      const points: number[] = [];
      for (let t = stride; t < T; t += stride) points.push(t);
      if (points.length === 0 || points[points.length - 1] !== T - 1) points.push(T - 1);
      for (const t of points) vocPairs.push({ before: criticFrame(e, 0), after: criticFrame(e, t), instruction: e.instruction });
      vocIndex.push({ episode: k, points });
    });
    const vocValues = await scoreAll(score, vocPairs, batch);
    calls += vocPairs.length;
    let at = 0;
    const vocs: number[] = [];
    const oracle: number[] = [];
    for (const { episode, points } of vocIndex) {
      const e = successes[episode]!;
      const values = [0, ...points.map((_, i) => vocValues[at + i]!)];
      at += points.length;
      vocs.push(valueOrderCorrelation(values));
      oracle.push(valueOrderCorrelation([e.progress[0]!, ...points.map((t) => e.progress[t]!)]));
    }

    // Done F-score on a balanced set.
    const failures = list.filter((e) => !e.success);
    const m = Math.min(successes.length, failures.length);
    const balanced = [...rng.shuffled(successes).slice(0, m), ...rng.shuffled(failures).slice(0, m)];
    const queries: CriticPair[] = [];
    const keys: Array<{ e: number; key: string }> = [];
    balanced.forEach((e, k) => {
      for (const [i, j] of estimatorQueries(criticFrameCount(e), est)) {
        queries.push({ before: criticFrame(e, i), after: criticFrame(e, j), instruction: e.instruction });
        keys.push({ e: k, key: `${i},${j}` });
      }
    });
    const answers = await scoreAll(score, queries, batch);
    calls += queries.length;
    const perEpisode = balanced.map(() => new Map<string, number>());
    keys.forEach(({ e, key }, i) => perEpisode[e]!.set(key, answers[i]!));
    const done: DoneCounts = { truePositive: 0, falsePositive: 0, trueNegative: 0, falseNegative: 0 };
    balanced.forEach((e, k) => {
      const judged = replayEstimator(criticFrameCount(e), est, perEpisode[k]!).estimator.done;
      if (judged && e.success) done.truePositive++;
      else if (judged) done.falsePositive++;
      else if (e.success) done.falseNegative++;
      else done.trueNegative++;
    });
    for (const k of Object.keys(total) as Array<keyof DoneCounts>) total[k] += done[k];
    const mean = (xs: number[]) => (xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
    tasks[task] = { episodes: list.length, successes: successes.length, pairMae: mae, voc: mean(vocs), vocOracle: mean(oracle), balanced: m, done, ...f1Of(done) };
  }
  const all = Object.values(tasks);
  const avg = (xs: Array<number | null>) => {
    const v = xs.filter((x): x is number => x !== null);
    return v.length > 0 ? v.reduce((a, b) => a + b, 0) / v.length : null;
  };
  return {
    tasks,
    mean: { pairMae: avg(all.map((t) => t.pairMae))!, voc: avg(all.map((t) => t.voc)), vocOracle: avg(all.map((t) => t.vocOracle)), f1: avg(all.map((t) => t.f1)) },
    done: total,
    estimator: est,
    criticCalls: calls,
  };
}
