/**
 * Training and evaluation data of the pairwise progress critic: episodes recorded with frames and
 * ground-truth task progress (`vla-ttt collect-demos --progress`), and frame pairs drawn from
 * them with their labels.
 *
 * Label of a pair (A = frame i, B = frame j of one episode), from the ground-truth progress p
 * (evolve/task-progress.ts): the share of the work REMAINING at A that B completed,
 *   c = clamp(100 * (p(B) - p(A)) / max(100 - p(A), 10), -100, 100),
 * the convention under which Algorithm 1's update v <- v + (100 - v) c / 100 turns a perfect
 * critic's answers back into p (with v = p(A) at the milestone, v becomes p(B)) while p(A) <= 90;
 * the floor on the remaining work keeps a small slip near the end from reading as a full -100. Anchored at the
 * first frame (p = 0) it is the plain progress p(B). Pairs mostly run forward in time (i < j), as the
 * accumulative estimator asks them; a fraction is reversed (i > j, so the label flips sign),
 * and failed or perturbed episodes supply real regressions, so the critic must read the frames
 * and cannot learn "later is better". A fraction is anchored at frame 0, the query of the
 * vanilla (first frame vs current frame) estimator.
 *
 * @example
 * ```ts
 * const episodes = await loadCriticEpisodes(['critic-data/expert', 'critic-data/noisy']);
 * const rng = new Rng(0);
 * const { pairs, targets } = sampleCriticPairs(episodes, 64, rng);
 * await critic.trainStepAsync(critic.pack(pairs), targets, { lr: 1e-3 });
 * ```
 */
import { ArgumentError, RangeValueError } from '../errors.js';
import { DatasetFormatError, DatasetReader } from '../tabletop/dataset.js';
import type { Rng } from '../util/random.js';
import type { CriticPair } from './progress-critic.js';

/** One recorded episode, in memory, with what the critic needs. */
export interface CriticEpisode {
  task: string;
  instruction: string;
  success: boolean;
  /** Where it came from (dataset folder and episode index), for reports. */
  source: string;
  /** Frame side S: frames are [T, S, S, 3] RGB. */
  size: number;
  /** Recorded frames (observations before each action). */
  frames: Uint8Array;
  /** [T] ground-truth progress of each frame. */
  progress: Float32Array;
  /** Progress after the last action (not a recorded frame). */
  finalProgress: number | null;
}

export const criticFrameCount = (e: CriticEpisode): number => e.progress.length;

/** Frame `i` of an episode: a view, not a copy. */
export function criticFrame(e: CriticEpisode, i: number): Uint8Array {
  const bytes = e.size * e.size * 3;
  return e.frames.subarray(i * bytes, (i + 1) * bytes);
}

/**
 * Reads every episode of the dataset folders; each must have been recorded with frames and task
 * progress. `tasks` (optional) keeps only those tasks.
 */
export async function loadCriticEpisodes(dirs: readonly string[], tasks?: ReadonlySet<string>): Promise<CriticEpisode[]> {
  if (dirs.length === 0) throw new ArgumentError('VLA_ARGUMENT', 'loadCriticEpisodes: no dataset folders given');
  const out: CriticEpisode[] = [];
  for (const dir of dirs) {
    const reader = await DatasetReader.open(dir);
    const image = reader.manifest.image;
    if (!image) throw new DatasetFormatError(`${dir}: recorded without frames; the progress critic needs them (collect without --no-images)`);
    if (image.width !== image.height) throw new DatasetFormatError(`${dir}: frames are ${image.width}x${image.height}; the critic takes square frames`);
    for (let i = 0; i < reader.count; i++) {
      if (tasks && !tasks.has(reader.manifest.episodes[i]!.task)) continue;
      const e = await reader.readEpisode(i);
      if (!e.progress) throw new DatasetFormatError(`${dir}: episode ${i} has no task progress; record the critic's data with \`vla-ttt collect-demos --progress\``);
      if (e.header.steps < 2) continue;
      out.push({
        task: e.header.task,
        instruction: e.header.instruction,
        success: e.header.success,
        source: `${dir}#${i}`,
        size: image.width,
        frames: e.image!,
        progress: e.progress,
        finalProgress: e.header.finalProgress ?? null,
      });
    }
  }
  if (out.length === 0) throw new ArgumentError('VLA_ARGUMENT', `loadCriticEpisodes: no usable episodes in ${dirs.join(', ')}${tasks ? ` for tasks ${[...tasks].join(', ')}` : ''}`);
  return out;
}

/** The critic's label for frames with ground-truth progress `before` and `after` (module comment). */
export function progressLabel(before: number, after: number): number {
  const c = (100 * (after - before)) / Math.max(100 - before, 10);
  return Math.max(-100, Math.min(100, c));
}

export interface PairSampling {
  /** Largest step gap |j - i| of a pair (default 24). */
  maxGap?: number;
  /** Fraction of pairs with the later frame first (default 0.25). */
  reversed?: number;
  /** Fraction of forward pairs anchored at frame 0 (default 0.2). */
  fromStart?: number;
}

const DEFAULT_SAMPLING: Required<PairSampling> = { maxGap: 24, reversed: 0.25, fromStart: 0.2 };

function checkFraction(v: number, field: string): void {
  if (!(v >= 0 && v <= 1)) throw new RangeValueError('VLA_VALUE', `sampleCriticPairs: ${field} must be in [0, 1], got ${String(v)}`);
}

/**
 * `n` labelled pairs drawn with `rng`: an episode uniformly at random, then two distinct frames
 * of it (see the module comment). Targets are on the critic's scale, [-100, 100].
 */
export function sampleCriticPairs(episodes: readonly CriticEpisode[], n: number, rng: Rng, sampling: PairSampling = {}): { pairs: CriticPair[]; targets: Float64Array } {
  const s = { ...DEFAULT_SAMPLING, ...sampling };
  if (!Number.isSafeInteger(s.maxGap) || s.maxGap < 1) throw new RangeValueError('VLA_VALUE', `sampleCriticPairs: maxGap must be a positive integer, got ${String(s.maxGap)}`);
  checkFraction(s.reversed, 'reversed');
  checkFraction(s.fromStart, 'fromStart');
  if (episodes.length === 0) throw new ArgumentError('VLA_ARGUMENT', 'sampleCriticPairs: no episodes');
  if (!Number.isSafeInteger(n) || n < 1) throw new ArgumentError('VLA_ARGUMENT', `sampleCriticPairs: n must be a positive integer, got ${String(n)}`);
  const pairs: CriticPair[] = [];
  const targets = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const e = episodes[rng.int(episodes.length)]!;
    const T = criticFrameCount(e);
    let i: number;
    let j: number;
    if (rng.next() < s.fromStart) {
      i = 0;
      j = 1 + rng.int(T - 1);
    } else {
      i = rng.int(T - 1);
      j = Math.min(T - 1, i + 1 + rng.int(s.maxGap));
    }
    if (rng.next() < s.reversed) [i, j] = [j, i];
    pairs.push({ before: criticFrame(e, i), after: criticFrame(e, j), instruction: e.instruction });
    targets[k] = progressLabel(e.progress[i]!, e.progress[j]!);
  }
  return { pairs, targets };
}

/** Splits episodes into (train, held-out) by a seeded shuffle, `heldOut` of them per task. */
export function splitCriticEpisodes(episodes: readonly CriticEpisode[], heldOutPerTask: number, rng: Rng): { train: CriticEpisode[]; heldOut: CriticEpisode[] } {
  const byTask = new Map<string, CriticEpisode[]>();
  for (const e of episodes) {
    const list = byTask.get(e.task);
    if (list) list.push(e);
    else byTask.set(e.task, [e]);
  }
  const train: CriticEpisode[] = [];
  const heldOut: CriticEpisode[] = [];
  for (const list of byTask.values()) {
    const order = rng.shuffled(list);
    heldOut.push(...order.slice(0, heldOutPerTask));
    train.push(...order.slice(heldOutPerTask));
  }
  return { train, heldOut };
}
