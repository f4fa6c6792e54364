/**
 * "Critical decision" analysis (TTT-VLA, methods digest section 2): with every random draw fixed
 * (episode seeds, shift realization, the per-step sampling noise of the policy), run each
 * episode once with the trained prompt and once with the adapted one, and find where the two
 * runs first part. The simulator is deterministic given the actions, so the runs coincide until
 * the actions differ enough to move the robot apart.
 *
 * Divergence is measured on the robot, not on raw actions (which differ a little from the first
 * step whenever the prompt moved): the first step at which the end-effector positions differ by
 * more than `positionThreshold` meters or the gripper openings by more than `gripperThreshold`.
 * The phase at that step is read from run A's gripper: 'approach' before the gripper first
 * closes, 'carrying' while it is closed, 'after-release' once it has opened again.
 *
 * @example
 * ```ts
 * const r = await analyzeDivergence({ checkpoint, prompts: { 0: adapted }, shift: 'camera', tasks: ['carrot-on-plate'], episodesPerTask: 24 });
 * r.summary.byPhase;            // { approach: 10, carrying: 6, 'after-release': 1, never: 7 }
 * r.episodes[0].firstDivergence; // step, or null when the runs never parted
 * ```
 */
import { ArgumentError } from '../errors.js';
import { loadController } from '../tabletop/policy-controller.js';
import { planEpisodes, runRollouts, type ImageRendering } from '../tabletop/rollout.js';
import { parseShift } from '../tabletop/shifts.js';

export type DecisionPhase = 'approach' | 'carrying' | 'after-release';

export interface DivergenceOptions {
  checkpoint: string;
  /** The adapted prompt blocks by embodiment id (e.g. prompt.json's prompts.all). */
  prompts: Record<number, ArrayLike<number>>;
  shift: string;
  shiftSeed?: number;
  tasks: readonly string[];
  episodesPerTask?: number;
  /** Protocol seed (default 0). */
  seed?: number;
  /** End-effector distance that counts as parted, meters (default 0.005). */
  positionThreshold?: number;
  /** Gripper opening difference that counts as parted, meters (default 0.005). */
  gripperThreshold?: number;
  /** Gripper opening below which it counts as closed, meters (default: halfway between the run's extremes). */
  closedBelow?: number;
  executeSteps?: number;
  workers?: number;
  envsPerWorker?: number;
  render?: ImageRendering;
}

export interface EpisodeDivergence {
  task: string;
  episodeIndex: number;
  configuration: number;
  seed: number;
  successA: boolean;
  successB: boolean;
  steps: number;
  /** First step (0-based observation index) at which the runs parted, or null. */
  firstDivergence: number | null;
  phase: DecisionPhase | null;
  /** Largest end-effector distance over the episode, meters. */
  maxDistance: number;
}

export interface DivergenceTrace {
  task: string;
  episodeIndex: number;
  /** Per step: [x, y, z, gripper] of run A and run B. */
  a: number[][];
  b: number[][];
}

export interface DivergenceReport {
  checkpoint: string;
  shift: string;
  settings: Required<Omit<DivergenceOptions, 'checkpoint' | 'prompts' | 'shift' | 'tasks' | 'render' | 'closedBelow' | 'executeSteps' | 'workers' | 'envsPerWorker'>> & { executeSteps: number };
  episodes: EpisodeDivergence[];
  summary: {
    episodes: number;
    parted: number;
    byPhase: Record<DecisionPhase | 'never', number>;
    /** Episodes whose outcome flipped, by the phase at which they parted. */
    flippedByPhase: Record<DecisionPhase | 'never', number>;
    medianFirstDivergence: number | null;
  };
  /** Traces of one episode (the first flipped one, else the first parted one), for a plot. */
  example: DivergenceTrace | null;
}

/** Phase at `step` from a gripper-opening sequence (closed below `closedBelow`). */
export function phaseAt(gripper: readonly number[], step: number, closedBelow: number): DecisionPhase {
  let closedOnce = false;
  for (let t = 0; t <= step && t < gripper.length; t++) {
    const closed = gripper[t]! < closedBelow;
    if (closed) closedOnce = true;
    else if (closedOnce) return 'after-release';
  }
  return closedOnce ? 'carrying' : 'approach';
}

/** First step at which two state sequences ([x, y, z, gripper] per step) part, or null. */
export function firstDivergence(a: readonly number[][], b: readonly number[][], positionThreshold: number, gripperThreshold: number): { step: number | null; maxDistance: number } {
  let step: number | null = null;
  let maxDistance = 0;
  const n = Math.min(a.length, b.length);
  for (let t = 0; t < n; t++) {
    const pa = a[t]!;
    const pb = b[t]!;
    const d = Math.hypot(pa[0]! - pb[0]!, pa[1]! - pb[1]!, pa[2]! - pb[2]!);
    maxDistance = Math.max(maxDistance, d);
    if (step === null && (d > positionThreshold || Math.abs(pa[3]! - pb[3]!) > gripperThreshold)) step = t;
  }
  // Runs of different lengths part where the shorter one ended.
  if (step === null && a.length !== b.length) step = n;
  return { step, maxDistance };
}

/** Counts by phase (all episodes, and those whose outcome flipped) and the median first divergence. */
export function summarizeDivergence(episodes: readonly EpisodeDivergence[]): DivergenceReport['summary'] {
  const byPhase: Record<DecisionPhase | 'never', number> = { approach: 0, carrying: 0, 'after-release': 0, never: 0 };
  const flippedByPhase: Record<DecisionPhase | 'never', number> = { approach: 0, carrying: 0, 'after-release': 0, never: 0 };
  for (const e of episodes) {
    byPhase[e.phase ?? 'never']++;
    if (e.successA !== e.successB) flippedByPhase[e.phase ?? 'never']++;
  }
  const parted = episodes.filter((e) => e.firstDivergence !== null).map((e) => e.firstDivergence!).sort((x, y) => x - y);
  return { episodes: episodes.length, parted: parted.length, byPhase, flippedByPhase, medianFirstDivergence: parted.length ? parted[Math.floor(parted.length / 2)]! : null };
}

export async function analyzeDivergence(o: DivergenceOptions): Promise<DivergenceReport> {
  if (o.tasks.length === 0) throw new ArgumentError('VLA_ARGUMENT', 'analyzeDivergence: no tasks');
  const shift = parseShift(o.shift);
  const settings = {
    shiftSeed: o.shiftSeed ?? 0,
    episodesPerTask: o.episodesPerTask ?? 24,
    seed: o.seed ?? 0,
    positionThreshold: o.positionThreshold ?? 0.005,
    gripperThreshold: o.gripperThreshold ?? 0.005,
  };
  for (const [k, v] of [['positionThreshold', settings.positionThreshold], ['gripperThreshold', settings.gripperThreshold]] as const) {
    if (!(v > 0) || !Number.isFinite(v)) throw new ArgumentError('VLA_ARGUMENT', `analyzeDivergence: ${k} must be a positive number of meters, got ${String(v)}`);
  }
  const controllerOptions = o.executeSteps !== undefined ? { executeSteps: o.executeSteps } : {};
  const base = loadController(o.checkpoint, controllerOptions);
  const adapted = loadController(o.checkpoint, controllerOptions);
  const ids = Object.keys(o.prompts).map(Number);
  if (ids.length === 0) throw new ArgumentError('VLA_ARGUMENT', 'analyzeDivergence: no adapted prompt given');
  for (const e of ids) adapted.policy.setPrompt(e, o.prompts[e]!);
  const episodes = planEpisodes(o.tasks, settings.episodesPerTask, settings.seed);
  const side = base.policy.config.image_size;

  async function run(controller: typeof base) {
    const states = new Map<string, number[][]>();
    const result = await runRollouts({
      policy: controller.batchPolicy,
      episodes,
      env: { shift: shift.text, shiftSeed: settings.shiftSeed },
      ...(o.workers !== undefined ? { workers: o.workers } : {}),
      ...(o.envsPerWorker !== undefined ? { envsPerWorker: o.envsPerWorker } : {}),
      render: o.render ?? 'native',
      imageSize: { width: side, height: side },
      onTransition: (t) => {
        const key = `${t.episode.task}#${t.episode.episodeIndex}`;
        let s = states.get(key);
        if (!s) states.set(key, (s = []));
        s[t.step] = Array.from(t.observation.state);
      },
    });
    return { states, result };
  }
  const A = await run(base);
  const B = await run(adapted);

  const out: EpisodeDivergence[] = [];
  let example: DivergenceTrace | null = null;
  let exampleFlipped = false;
  A.result.episodes.forEach((ea, i) => {
    const eb = B.result.episodes[i]!;
    const key = `${ea.task}#${ea.episodeIndex}`;
    const sa = A.states.get(key) ?? [];
    const sb = B.states.get(key) ?? [];
    const { step, maxDistance } = firstDivergence(sa, sb, settings.positionThreshold, settings.gripperThreshold);
    const gripper = sa.map((s) => s[3]!);
    const closedBelow = o.closedBelow ?? (Math.min(...gripper) + Math.max(...gripper)) / 2;
    const phase = step === null ? null : phaseAt(gripper, Math.min(step, gripper.length - 1), closedBelow);
    const flipped = ea.outcome.success !== eb.outcome.success;
    out.push({ task: ea.task, episodeIndex: ea.episodeIndex, configuration: ea.configuration, seed: ea.seed, successA: ea.outcome.success, successB: eb.outcome.success, steps: sa.length, firstDivergence: step, phase, maxDistance });
    if (step !== null && (!example || (flipped && !exampleFlipped))) {
      example = { task: ea.task, episodeIndex: ea.episodeIndex, a: sa, b: sb };
      exampleFlipped = flipped;
    }
  });
  return {
    checkpoint: o.checkpoint,
    shift: shift.text,
    settings: { ...settings, executeSteps: base.executeSteps },
    episodes: out,
    summary: summarizeDivergence(out),
    example,
  };
}
