/**
 * Latent prompt optimization (TTT-VLA, methods digest section 2): at test time only the latent
 * prompt block moves, on the self-supervised state-grounding loss over a buffer of the robot's
 * own trajectories in the target world. AdamW from fresh moments, a fixed number of steps decided
 * in advance, initialized from the trained prompt, no selection of a best step by evaluation.
 *
 * Every step runs on a native thread (promptStepAsync), so a controller's event loop keeps
 * running; `signal` stops between two steps, keeping the prompt reached so far.
 *
 * @example
 * ```ts
 * const result = await optimizePrompt(policy, normalization, buffer, { steps: 500, batch: 128, lr: 1e-3, seed: 0 });
 * result.lossCurve.at(-1);                  // { step: 500, loss }
 * policy.getPrompt(0);                      // the adapted block
 * ```
 */
import { ArgumentError, RangeValueError } from '../errors.js';
import type { ObservationBatch, Policy } from '../model/policy.js';
import type { Normalization } from '../train/normalization.js';
import { deriveSeed, Rng, checkSeed } from '../util/random.js';
import { l2Distance } from '../util/vector.js';
import type { TrajectoryBuffer } from './trajectory-buffer.js';

export interface PromptOptimizationOptions {
  /** Steps, fixed in advance (default 500). */
  steps?: number;
  /** Transitions per step (default 128). */
  batch?: number;
  /** AdamW learning rate (default DEFAULT_PROMPT_LR). */
  lr?: number;
  /** AdamW weight decay on the prompt (default 0: the trained prompt is the natural anchor). */
  weightDecay?: number;
  /** Clip the gradient's global norm (default 0: none). */
  maxGradNorm?: number;
  /** Seed of the batch draws and of the flow-matching draws (noise, time). */
  seed?: number;
  /** Only these tasks' transitions (per-task adaptation); default all. */
  tasks?: readonly string[];
  /**
   * A step whose loss is not finite, or above this multiple of the mean loss of the first 10
   * steps, ends the run and rolls the prompt back to the last value whose loss was good
   * (default 10; 0 turns the explosion check off, non-finite losses always roll back).
   */
  explosionRatio?: number;
  /** Stops between two steps; the result says how many ran. */
  signal?: AbortSignal;
  onProgress?: (p: PromptProgress) => void;
}

export interface PromptProgress {
  step: number;
  steps: number;
  /** State-grounding loss of this step's batch (before its update). */
  loss: number;
  gradNorm: number;
  seconds: number;
}

export interface PromptOptimizationResult {
  /** Steps run (fewer than asked when stopped). */
  steps: number;
  stopped: boolean;
  lossCurve: Array<{ step: number; loss: number }>;
  seconds: number;
  /** Embodiments whose prompt blocks the buffer's transitions touched. */
  embodiments: number[];
  /** Euclidean distance of each touched block from where it started. */
  promptShift: Record<number, number>;
  /** Set when a bad loss ended the run: the prompt is the one evaluated at `step - 1`. */
  rolledBack?: { step: number; loss: number; reason: 'non-finite loss' | 'loss exploded' };
}

export const DEFAULT_PROMPT_LR = 1e-3;

/** The numeric settings of a prompt optimization, defaults filled in. */
export interface PromptSettings {
  steps: number;
  batch: number;
  lr: number;
  weightDecay: number;
  maxGradNorm: number;
  seed: number;
}

/**
 * Validates prompt-optimization settings and fills in the defaults; `where` names the caller
 * (optimizePrompt, Adapter) so a bad setting is reported where it was given.
 */
export function checkPromptSettings(o: Partial<PromptSettings>, where: string): PromptSettings {
  const steps = o.steps ?? 500;
  const batch = o.batch ?? 128;
  const lr = o.lr ?? DEFAULT_PROMPT_LR;
  const weightDecay = o.weightDecay ?? 0;
  const maxGradNorm = o.maxGradNorm ?? 0;
  const seed = checkSeed(o.seed ?? 0, `${where}: seed`);
  if (!Number.isSafeInteger(steps) || steps < 0) throw new ArgumentError('VLA_ARGUMENT', `${where}: steps must be a non-negative integer, got ${String(steps)}`);
  if (!Number.isSafeInteger(batch) || batch < 1) throw new ArgumentError('VLA_ARGUMENT', `${where}: batch must be a positive integer, got ${String(batch)}`);
  if (!(lr > 0 && lr < 1)) throw new ArgumentError('VLA_ARGUMENT', `${where}: lr must be in (0, 1), got ${String(lr)}`);
  for (const [name, v] of [['weightDecay', weightDecay], ['maxGradNorm', maxGradNorm]] as const) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new ArgumentError('VLA_ARGUMENT', `${where}: ${name} must be a finite number >= 0, got ${String(v)}`);
  }
  return { steps, batch, lr, weightDecay, maxGradNorm, seed };
}

/** Runs latent prompt optimization on `policy` in place (its prompt blocks change). */
export async function optimizePrompt(
  policy: Policy,
  normalization: Normalization,
  buffer: TrajectoryBuffer,
  options: PromptOptimizationOptions = {},
): Promise<PromptOptimizationResult> {
  const { steps, batch: B, lr, weightDecay, maxGradNorm, seed } = checkPromptSettings(options, 'optimizePrompt');
  if (!policy.config.use_prompt) throw new ArgumentError('VLA_ARGUMENT', 'optimizePrompt: this policy has no latent prompt (a baseline checkpoint)');
  if (!policy.config.use_state_expert) throw new ArgumentError('VLA_ARGUMENT', 'optimizePrompt: this policy has no state-grounding expert, so there is no test-time loss');

  const embodiments = [...new Set(buffer.trajectories().filter((e) => !options.tasks || options.tasks.includes(e.task)).map((e) => e.embodimentId))].sort((a, b) => a - b);
  const before = new Map(embodiments.map((e) => [e, policy.getPrompt(e)]));
  const rng = new Rng(deriveSeed(seed, 'lpo-batches'));
  const flowSeed = deriveSeed(seed, 'lpo-flow');
  const sampleOptions = { policy, normalization, ...(options.tasks ? { tasks: options.tasks } : {}) };
  policy.resetOptimizer();
  const curve: Array<{ step: number; loss: number }> = [];
  const start = performance.now();
  const explosionRatio = options.explosionRatio ?? 10;
  if (!(explosionRatio === 0 || explosionRatio > 1)) throw new ArgumentError('VLA_ARGUMENT', `optimizePrompt: explosionRatio must be 0 (off) or above 1, got ${String(explosionRatio)}`);
  let batch: ObservationBatch | undefined;
  let done = 0;
  let stopped = false;
  let rolledBack: PromptOptimizationResult['rolledBack'];
  // Step s reports the loss of the prompt before its update: when that loss is good, the prompt
  // it evaluated becomes the one to roll back to.
  let lastGood = new Map(before);
  let candidate = new Map(before);
  let reference = 0;
  for (let s = 0; s < steps; s++) {
    if (options.signal?.aborted) {
      stopped = true;
      break;
    }
    batch = buffer.sample(B, rng, sampleOptions, batch);
    let r: { state: number; gradNorm: number };
    try {
      r = await policy.promptStepAsync(batch, { lr, seed: flowSeed, step: s, weightDecay, maxGradNorm });
    } catch (e) {
      // The native step refuses a non-finite gradient and leaves the parameters unchanged; the
      // prompt it evaluated is the bad one, so this is a non-finite loss like any other.
      if (!(e instanceof RangeValueError && /non-finite/.test(e.message))) throw e;
      r = { state: Number.NaN, gradNorm: Number.NaN };
    }
    done = s + 1;
    curve.push({ step: done, loss: r.state });
    if (s < 10) reference += r.state / Math.min(10, steps);
    const exploded = explosionRatio > 0 && s >= 10 && r.state > explosionRatio * reference;
    if (!Number.isFinite(r.state) || !Number.isFinite(r.gradNorm) || exploded) {
      for (const [e, p] of lastGood) policy.setPrompt(e, p);
      policy.resetOptimizer();
      rolledBack = { step: done, loss: r.state, reason: exploded ? 'loss exploded' : 'non-finite loss' };
      options.onProgress?.({ step: done, steps, loss: r.state, gradNorm: r.gradNorm, seconds: (performance.now() - start) / 1000 });
      break;
    }
    lastGood = candidate;
    candidate = new Map(embodiments.map((e) => [e, policy.getPrompt(e)]));
    options.onProgress?.({ step: done, steps, loss: r.state, gradNorm: r.gradNorm, seconds: (performance.now() - start) / 1000 });
  }
  const promptShift: Record<number, number> = {};
  for (const e of embodiments) promptShift[e] = l2Distance(before.get(e)!, policy.getPrompt(e));
  return { steps: done, stopped, lossCurve: curve, seconds: (performance.now() - start) / 1000, embodiments, promptShift, ...(rolledBack ? { rolledBack } : {}) };
}
