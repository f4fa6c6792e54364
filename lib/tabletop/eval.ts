/**
 * The evaluation protocol (TTT-VLA's, on SimplerEnv): for each task, N episodes cycling through
 * its 24 configurations from a fixed initial seed; per task the successes, the rate and its
 * Wilson 95% interval, and the partial metrics; the mean rate over tasks. And the paired
 * comparison of two policies on the same episodes: the flip table (Base, Post, Succ->Fail,
 * Fail->Succ, Always Succ, Always Fail) with an exact McNemar p-value.
 *
 * @example
 * ```ts
 * const report = await evaluate({ policy: 'expert', tasks: ['carrot-on-plate'], episodesPerTask: 24, seed: 0 });
 * report.tasks['carrot-on-plate'].ci95;
 * const flips = comparePaired(baseReport, postReport);
 * flips.overall.failToSucc;
 * ```
 */
import { ArgumentError } from '../errors.js';
import { mcnemarExact, wilsonInterval } from '../util/stats.js';
import { checkSeed } from '../util/random.js';
import type { ImageSize } from './observation-images.js';
import { planEpisodes, runRollouts, type BatchPolicy, type ImageRendering, type RolloutOptions, type WorkerEnvOptions } from './rollout.js';
import { embodimentIdOf, parseShift } from './shifts.js';

export interface EvalOptions {
  policy: BatchPolicy | 'expert';
  /** How the report names the policy (default 'expert' or 'custom'). */
  policyName?: string;
  tasks: readonly string[];
  episodesPerTask: number;
  /** The initial seed of the protocol. */
  seed: number;
  /** Shift expression (default 'source'). */
  shift?: string;
  shiftSeed?: number;
  workers?: number;
  envsPerWorker?: number;
  /** Observation images: 'native' (default, 64x64), a BatchRenderer, or false (none). */
  render?: ImageRendering;
  /** Default DEFAULT_IMAGE_SIZE (64 x 64). */
  imageSize?: ImageSize;
  expertNoise?: number;
  /** Other environment options (rates, caps, jitter). */
  env?: Omit<WorkerEnvOptions, 'shift' | 'shiftSeed'>;
  onEpisode?: RolloutOptions['onEpisode'];
  onTransition?: RolloutOptions['onTransition'];
}

export interface TaskPartial {
  /** Fraction of episodes where both pads touched the source at some step. */
  grasped: number;
  /** ... for 5+ consecutive control steps. */
  graspedFor5: number;
  /** Fraction where the right object(s) moved and nothing else did. */
  movedCorrectObject: number;
  /** Two-stage tasks: the success rate of each stage at the final step. */
  stageSuccess?: number[];
}

export interface TaskReport {
  episodes: number;
  successes: number;
  rate: number;
  ci95: [number, number];
  partial: TaskPartial;
}

export interface EpisodeRecord {
  task: string;
  episodeIndex: number;
  configuration: number;
  seed: number;
  success: boolean;
  stages: boolean[];
  grasped: boolean;
  clippedSteps: number;
}

export interface EvalReport {
  /** Mean of the per-task success rates. */
  mean: number;
  tasks: Record<string, TaskReport>;
  shift: string;
  shiftSeed: number;
  embodimentId: number;
  seed: number;
  episodesPerTask: number;
  policy: string;
  workers: number;
  envSteps: number;
  /** Environment steps per second, after startup. */
  envStepsPerSecond: number;
  /** Wall time, seconds, and the part spent starting workers. */
  seconds: number;
  startupSeconds: number;
  /** The observation image size; null when the evaluation ran without images. */
  images: ImageSize | null;
  /** Every episode, for paired comparisons. */
  episodes: EpisodeRecord[];
}

function rate(n: number, d: number): number {
  return d === 0 ? 0 : n / d;
}

/** Runs the protocol and summarizes it. */
export async function evaluate(opts: EvalOptions): Promise<EvalReport> {
  if (opts.tasks.length === 0) throw new ArgumentError('VLA_ARGUMENT', 'evaluate: no tasks given');
  const seed = checkSeed(opts.seed);
  const shift = parseShift(opts.shift ?? 'source');
  const shiftSeed = checkSeed(opts.shiftSeed ?? 0, 'shiftSeed');
  const episodes = planEpisodes(opts.tasks, opts.episodesPerTask, seed);
  const result = await runRollouts({
    policy: opts.policy,
    episodes,
    env: { ...opts.env, shift: shift.text, shiftSeed },
    ...(opts.workers !== undefined ? { workers: opts.workers } : {}),
    ...(opts.envsPerWorker !== undefined ? { envsPerWorker: opts.envsPerWorker } : {}),
    ...(opts.render !== undefined ? { render: opts.render } : {}),
    ...(opts.imageSize ? { imageSize: opts.imageSize } : {}),
    ...(opts.expertNoise !== undefined ? { expertNoise: opts.expertNoise } : {}),
    ...(opts.onEpisode ? { onEpisode: opts.onEpisode } : {}),
    ...(opts.onTransition ? { onTransition: opts.onTransition } : {}),
  });
  const records: EpisodeRecord[] = result.episodes.map((e) => ({
    task: e.task,
    episodeIndex: e.episodeIndex,
    configuration: e.configuration,
    seed: e.seed,
    success: e.outcome.success,
    stages: e.outcome.stages.map((s) => s.success),
    grasped: e.outcome.grasped,
    clippedSteps: e.outcome.clippedSteps,
  }));
  const tasks: Record<string, TaskReport> = {};
  for (const task of opts.tasks) {
    const mine = result.episodes.filter((e) => e.task === task);
    const n = mine.length;
    const successes = mine.filter((e) => e.outcome.success).length;
    const partial: TaskPartial = {
      grasped: rate(mine.filter((e) => e.outcome.grasped).length, n),
      graspedFor5: rate(mine.filter((e) => e.outcome.graspedFor5).length, n),
      movedCorrectObject: rate(mine.filter((e) => e.outcome.movedCorrectObject).length, n),
    };
    const stages = mine[0]?.outcome.stages.length ?? 1;
    if (stages > 1) partial.stageSuccess = Array.from({ length: stages }, (_, k) => rate(mine.filter((e) => e.outcome.stages[k]!.success).length, n));
    tasks[task] = { episodes: n, successes, rate: rate(successes, n), ci95: wilsonInterval(successes, n), partial };
  }
  const rates = Object.values(tasks).map((t) => t.rate);
  return {
    mean: rates.reduce((a, b) => a + b, 0) / rates.length,
    tasks,
    shift: shift.text,
    shiftSeed,
    embodimentId: embodimentIdOf(shift),
    seed,
    episodesPerTask: opts.episodesPerTask,
    policy: opts.policyName ?? (opts.policy === 'expert' ? 'expert' : 'custom'),
    workers: result.workers,
    envSteps: result.envSteps,
    envStepsPerSecond: result.envStepsPerSecond,
    seconds: result.seconds,
    startupSeconds: result.startupSeconds,
    images: result.images,
    episodes: records,
  };
}

/** One row of the flip table. */
export interface FlipRow {
  total: number;
  base: number;
  post: number;
  /** post - base */
  difference: number;
  succToFail: number;
  failToSucc: number;
  alwaysSucc: number;
  alwaysFail: number;
  /** Exact two-sided McNemar (sign test) p-value on the flips. */
  pValue: number;
}

export interface PairedComparison {
  tasks: Record<string, FlipRow>;
  overall: FlipRow;
}

/** Flip table of paired success outcomes (base[i] and post[i] are the same episode). */
export function flipRow(base: readonly boolean[], post: readonly boolean[]): FlipRow {
  if (base.length !== post.length) throw new ArgumentError('VLA_ARGUMENT', `flipRow: ${base.length} base outcomes but ${post.length} post outcomes`);
  let succToFail = 0;
  let failToSucc = 0;
  let alwaysSucc = 0;
  let alwaysFail = 0;
  base.forEach((b, i) => {
    const p = post[i]!;
    if (b && p) alwaysSucc++;
    else if (b) succToFail++;
    else if (p) failToSucc++;
    else alwaysFail++;
  });
  const nb = alwaysSucc + succToFail;
  const np = alwaysSucc + failToSucc;
  return { total: base.length, base: nb, post: np, difference: np - nb, succToFail, failToSucc, alwaysSucc, alwaysFail, pValue: mcnemarExact(succToFail, failToSucc) };
}

/**
 * The paired comparison of two evaluations of the same episodes (the same task, episode index,
 * configuration and seed in both, each once): TTT-VLA's flip table per task and overall, with
 * McNemar p-values. Anything else is refused with an ArgumentError naming an unmatched episode.
 */
export function comparePaired(base: Pick<EvalReport, 'episodes'>, post: Pick<EvalReport, 'episodes'>): PairedComparison {
  const key = (e: EpisodeRecord): string => `${e.task}#${e.episodeIndex} (configuration ${e.configuration}, seed ${e.seed})`;
  const index = (episodes: readonly EpisodeRecord[], which: string): Map<string, EpisodeRecord> => {
    const m = new Map<string, EpisodeRecord>();
    for (const e of episodes) {
      if (m.has(key(e))) throw new ArgumentError('VLA_ARGUMENT', `the ${which} evaluation lists episode ${key(e)} twice`);
      m.set(key(e), e);
    }
    return m;
  };
  const baseByKey = index(base.episodes, 'first');
  const postByKey = index(post.episodes, 'second');
  const missingFromPost = base.episodes.find((e) => !postByKey.has(key(e)));
  const missingFromBase = post.episodes.find((e) => !baseByKey.has(key(e)));
  if (missingFromPost || missingFromBase) {
    const where = missingFromPost ? `${key(missingFromPost)} is missing from the second` : `${key(missingFromBase!)} is missing from the first`;
    throw new ArgumentError(
      'VLA_ARGUMENT',
      `the two evaluations do not cover the same episodes (${base.episodes.length} vs ${post.episodes.length}; ${where}); run both with the same tasks, episodes and seed`,
    );
  }
  const tasks: Record<string, FlipRow> = {};
  const names = [...new Set(base.episodes.map((e) => e.task))];
  for (const t of names) {
    const b = base.episodes.filter((e) => e.task === t);
    tasks[t] = flipRow(
      b.map((e) => e.success),
      b.map((e) => postByKey.get(key(e))!.success),
    );
  }
  return {
    tasks,
    overall: flipRow(
      base.episodes.map((e) => e.success),
      base.episodes.map((e) => postByKey.get(key(e))!.success),
    ),
  };
}
