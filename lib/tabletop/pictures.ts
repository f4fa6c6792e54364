/**
 * Pictures of the benchmark: what the policy sees, for people. Frames come from the same
 * environments, episodes and camera as evaluation (episode N of a task is the one `evaluate`
 * runs as episode N under the same seed), drawn at the observation size (64x64 by default).
 *
 * - `startFrames`: the first observation of one episode of each task under each shift (rows =
 *   tasks, columns = shifts): a contact sheet of the domains.
 * - `expertRollout`: every observation of one scripted-expert episode (step 0 to the cap):
 *   filmstrips and animations.
 * - `policyRollout`: the same for a batched policy (e.g. a checkpoint's controller): one episode
 *   as an evaluation runs it, every frame kept.
 *
 * The CLI (`vla-ttt render`) tiles and labels them (lib/render/image-grid.ts) and writes PNG or
 * GIF files.
 *
 * @example
 * ```ts
 * const grid = await startFrames({ tasks: ['carrot-on-plate'], shifts: ['source', 'camera'] });
 * const sheet = contactSheet(grid, { scale: 3, rowLabels: ['carrot-on-plate'], columnLabels: ['source', 'camera'] });
 * const { frames, outcome } = await expertRollout({ task: 'stack-cube', shift: 'lighting', episode: 3 });
 * ```
 */
import { ArgumentError } from '../errors.js';
import { checkSeed } from '../util/random.js';
import { TabletopEnv } from './env.js';
import { ScriptedExpert } from './expert.js';
import type { EpisodeOutcome } from './metrics.js';
import { checkImageSize, DEFAULT_IMAGE_SIZE, type ImageSize, type RgbImage } from './observation-images.js';
import { planEpisodes, type BatchPolicy, type EpisodePlan } from './rollout.js';
import { parseShift } from './shifts.js';

export interface PictureOptions {
  /** Index of the episode within its task (its configuration is episode % 24); default 0. */
  episode?: number;
  /** The protocol's initial seed (episode seeds derive from it as in `evaluate`); default 0. */
  seed?: number;
  /** Seed of the shift realization; default 0. */
  shiftSeed?: number;
  /** Default DEFAULT_IMAGE_SIZE (64 x 64). */
  imageSize?: ImageSize;
}

/** The plan of episode `episode` of `task` under the protocol seed `seed`. */
export function episodePlan(task: string, episode: number, seed: number): EpisodePlan {
  if (!Number.isSafeInteger(episode) || episode < 0) throw new ArgumentError('VLA_ARGUMENT', `episode must be a non-negative integer, got ${String(episode)}`);
  return planEpisodes([task], episode + 1, seed)[episode]!;
}

function resolve(opts: PictureOptions): { episode: number; seed: number; shiftSeed: number; imageSize: ImageSize } {
  return {
    episode: opts.episode ?? 0,
    seed: checkSeed(opts.seed ?? 0, 'seed'),
    shiftSeed: checkSeed(opts.shiftSeed ?? 0, 'shiftSeed'),
    imageSize: checkImageSize(opts.imageSize ?? DEFAULT_IMAGE_SIZE, 'imageSize'),
  };
}

/**
 * The first observation's image of episode `episode` of every task under every shift:
 * `grid[task][shift]`. Dynamics shifts look like the source here (they change what actions do,
 * not the picture).
 */
export async function startFrames(opts: PictureOptions & { tasks: readonly string[]; shifts: readonly string[] }): Promise<RgbImage[][]> {
  const o = resolve(opts);
  if (opts.tasks.length === 0) throw new ArgumentError('VLA_ARGUMENT', 'tasks is empty');
  if (opts.shifts.length === 0) throw new ArgumentError('VLA_ARGUMENT', 'shifts is empty');
  const plans = opts.tasks.map((task) => episodePlan(task, o.episode, o.seed));
  const grid: RgbImage[][] = plans.map(() => []);
  for (const shift of opts.shifts) {
    const env = await TabletopEnv.create({ shift: parseShift(shift), shiftSeed: o.shiftSeed, images: o.imageSize });
    try {
      plans.forEach((plan, t) => grid[t]!.push(env.reset(plan).image!));
    } finally {
      env.dispose();
    }
  }
  return grid;
}

export interface ExpertRollout {
  plan: EpisodePlan;
  /** Shift text (canonical). */
  shift: string;
  /** The observation images at steps 0 (after reset) to T (after the last action). */
  frames: RgbImage[];
  outcome: EpisodeOutcome;
}

/**
 * One scripted-expert episode in this thread, every observation's image kept. It is the episode
 * rollouts and `evaluate` run (same plan, environment and expert seed), so its outcome is the one
 * an evaluation reports for it.
 */
export async function expertRollout(opts: PictureOptions & { task: string; shift?: string; expertNoise?: number }): Promise<ExpertRollout> {
  const o = resolve(opts);
  const plan = episodePlan(opts.task, o.episode, o.seed);
  const shift = parseShift(opts.shift ?? 'source');
  const env = await TabletopEnv.create({ shift, shiftSeed: o.shiftSeed, images: o.imageSize });
  try {
    const frames = [env.reset(plan).image!];
    const expert = new ScriptedExpert(plan.seed, { noise: opts.expertNoise ?? 1 });
    for (;;) {
      const r = env.step(expert.act(env.privileged()));
      frames.push(r.observation.image!);
      if (r.done) break;
    }
    return { plan, shift: shift.text, frames, outcome: env.outcome() };
  } finally {
    env.dispose();
  }
}

/**
 * One episode of a batched policy in this thread, every observation's image kept (the frames
 * the policy saw, and the one after its last action). The policy is asked as a rollout asks it
 * (a batch of one, with the episode's plan and step), and a checkpoint controller's noise depends
 * only on (episode seed, step), so the outcome is the one an evaluation reports for this episode
 * as long as the policy is the same.
 */
export async function policyRollout(opts: PictureOptions & { task: string; shift?: string; policy: BatchPolicy }): Promise<ExpertRollout> {
  const o = resolve(opts);
  const plan = episodePlan(opts.task, o.episode, o.seed);
  const shift = parseShift(opts.shift ?? 'source');
  const env = await TabletopEnv.create({ shift, shiftSeed: o.shiftSeed, images: o.imageSize });
  try {
    let observation = env.reset(plan);
    const frames = [observation.image!];
    for (let step = 0; ; step++) {
      const [action] = await opts.policy([observation], { episodes: [{ ...plan, step }] });
      if (!action) throw new ArgumentError('VLA_ARGUMENT', `the policy returned no action for ${plan.task}#${plan.episodeIndex} at step ${step}`);
      const r = env.step(action);
      frames.push(r.observation.image!);
      observation = r.observation;
      if (r.done) break;
    }
    return { plan, shift: shift.text, frames, outcome: env.outcome() };
  } finally {
    env.dispose();
  }
}
