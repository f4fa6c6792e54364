/**
 * Online latent prompt optimization: the prompt is updated while the robot acts, from a stream
 * of transitions (micro-batches of 1 or a few), instead of from a buffer after the fact.
 *
 * TTT-VLA reports that naive online updates (batch 1, plain AdamW) collapse the prompt. This
 * learner exposes the stabilizers of the test-time adaptation literature (methods digest section
 * 2), each off by default so that `new OnlinePromptLearner(policy, norm)` is the naive learner
 * and each stabilizer can be ablated alone:
 * - anchor: after each step, p <- p - lr * anchor * (p - p0), a decoupled L2 pull to the trained
 *   prompt p0 (weight decay towards p0 rather than towards 0);
 * - trustRadius: project p onto the ball ||p - p0|| <= trustRadius * ||p0|| after each step;
 * - emaDecay: act with an exponential moving average of the optimized prompt (a slow "teacher");
 * - maxLossRatio: skip a micro-batch whose loss exceeds this multiple of the running mean loss
 *   (outlier transitions), the prompt is restored to its value before the step;
 * - collapseRatio: when the running mean loss exceeds this multiple of the loss measured over
 *   the first `collapseWindow` steps, reset the prompt to p0 and forget the optimizer moments.
 *
 * The learner optimizes `policy` in place (use a shadow copy, see Adapter) and keeps the prompt
 * to act with in `actingPrompt(embodiment)`.
 *
 * @example
 * ```ts
 * const learner = new OnlinePromptLearner(shadow, normalization, { lr: 1e-3, anchor: 10, emaDecay: 0.99 });
 * for (const pairs of microBatches) {
 *   const r = await learner.step(buffer.pack(pairs, { policy: shadow, normalization }));
 *   acting.setPrompt(0, learner.actingPrompt(0));
 * }
 * learner.report();   // steps, skipped, resets, loss curve, distance from p0
 * ```
 */
import { ArgumentError } from '../errors.js';
import type { ObservationBatch, Policy } from '../model/policy.js';
import type { Normalization } from '../train/normalization.js';
import { deriveSeed, checkSeed } from '../util/random.js';
import { l2Distance, l2Norm } from '../util/vector.js';
import type { PromptOptimizationResult, PromptProgress } from './latent-prompt.js';
import type { TrajectoryBuffer } from './trajectory-buffer.js';

export interface OnlineStabilizers {
  anchor?: number;
  trustRadius?: number;
  emaDecay?: number;
  maxLossRatio?: number;
  collapseRatio?: number;
  /** Steps whose mean loss is the collapse reference, and the running mean's window (default 50). */
  collapseWindow?: number;
}

export interface OnlinePromptOptions extends OnlineStabilizers {
  /** AdamW learning rate (default 1e-3). */
  lr?: number;
  weightDecay?: number;
  maxGradNorm?: number;
  /** Seed of the flow-matching draws (noise, time) of each step. */
  seed?: number;
}

export interface OnlineStepReport {
  step: number;
  loss: number;
  /** Whether the update was rejected as an outlier (prompt restored). */
  skipped: boolean;
  /** Whether collapse was detected at this step (prompt reset to p0). */
  reset: boolean;
  /** Running mean loss over the last collapseWindow steps. */
  runningLoss: number;
}

export interface OnlineLearnerReport {
  steps: number;
  skipped: number;
  resets: number;
  lossCurve: Array<{ step: number; loss: number; runningLoss: number }>;
  /** ||p - p0|| of the optimized and the acting prompt, per embodiment. */
  promptShift: Record<number, number>;
  actingShift: Record<number, number>;
  options: Required<Omit<OnlinePromptOptions, 'seed'>> & { seed: number };
}

export class OnlinePromptLearner {
  private readonly o: OnlineLearnerReport['options'];
  private readonly initial = new Map<number, Float64Array>();
  private readonly acting = new Map<number, Float64Array>();
  private steps = 0;
  private skipped = 0;
  private resets = 0;
  private readonly recent: number[] = [];
  private reference: number | null = null;
  private referenceSum = 0;
  private readonly curve: OnlineLearnerReport['lossCurve'] = [];
  private readonly flowSeed: number;

  constructor(
    /** The policy whose prompt blocks move (a shadow copy of the acting policy). */
    readonly policy: Policy,
    options: OnlinePromptOptions = {},
  ) {
    if (!policy.config.use_prompt || !policy.config.use_state_expert) {
      throw new ArgumentError('VLA_ARGUMENT', 'OnlinePromptLearner: the policy needs a latent prompt and a state-grounding expert');
    }
    this.o = {
      lr: options.lr ?? 1e-3,
      weightDecay: options.weightDecay ?? 0,
      maxGradNorm: options.maxGradNorm ?? 0,
      anchor: options.anchor ?? 0,
      trustRadius: options.trustRadius ?? 0,
      emaDecay: options.emaDecay ?? 0,
      maxLossRatio: options.maxLossRatio ?? 0,
      collapseRatio: options.collapseRatio ?? 0,
      collapseWindow: options.collapseWindow ?? 50,
      seed: checkSeed(options.seed ?? 0),
    };
    const o = this.o;
    const bad = (what: string, v: number, rule: string) => new ArgumentError('VLA_ARGUMENT', `OnlinePromptLearner: ${what} must be ${rule}, got ${String(v)}`);
    if (!(o.lr > 0 && o.lr < 1)) throw bad('lr', o.lr, 'in (0, 1)');
    if (!(o.anchor >= 0) || !Number.isFinite(o.anchor)) throw bad('anchor', o.anchor, 'a finite number >= 0');
    if (o.lr * o.anchor > 1) throw bad('lr * anchor', o.lr * o.anchor, 'at most 1 (the pull would overshoot p0)');
    if (!(o.trustRadius >= 0) || !Number.isFinite(o.trustRadius)) throw bad('trustRadius', o.trustRadius, 'a finite number >= 0 (0: none)');
    if (!(o.emaDecay >= 0 && o.emaDecay < 1)) throw bad('emaDecay', o.emaDecay, 'in [0, 1)');
    if (!(o.maxLossRatio === 0 || o.maxLossRatio > 1)) throw bad('maxLossRatio', o.maxLossRatio, '0 (off) or above 1');
    if (!(o.collapseRatio === 0 || o.collapseRatio > 1)) throw bad('collapseRatio', o.collapseRatio, '0 (off) or above 1');
    if (!Number.isSafeInteger(o.collapseWindow) || o.collapseWindow < 1) throw bad('collapseWindow', o.collapseWindow, 'a positive integer');
    this.flowSeed = deriveSeed(o.seed, 'online-lpo-flow');
    policy.resetOptimizer();
  }

  /** The prompt to act with for `embodiment` (the EMA when emaDecay > 0). */
  actingPrompt(embodiment: number): Float32Array {
    const a = this.acting.get(embodiment);
    return Float32Array.from(a ?? this.policy.getPrompt(embodiment));
  }

  /** Embodiments whose prompts this learner has touched. */
  get embodiments(): number[] {
    return [...this.initial.keys()].sort((a, b) => a - b);
  }

  /** One micro-batch of the stream: a prompt step, then the stabilizers. */
  async step(batch: ObservationBatch): Promise<OnlineStepReport> {
    const present = [...new Set(Array.from(batch.embodiment))];
    for (const e of present) {
      if (!this.initial.has(e)) {
        const p0 = Float64Array.from(this.policy.getPrompt(e));
        this.initial.set(e, p0);
        this.acting.set(e, Float64Array.from(p0));
      }
    }
    const before = this.o.maxLossRatio > 0 ? new Map(present.map((e) => [e, this.policy.getPrompt(e)])) : null;
    const r = await this.policy.promptStepAsync(batch, {
      lr: this.o.lr,
      seed: this.flowSeed,
      step: this.steps,
      weightDecay: this.o.weightDecay,
      maxGradNorm: this.o.maxGradNorm,
    });
    this.steps++;
    const loss = r.state;
    const running = this.recent.length > 0 ? this.recent.reduce((s, x) => s + x, 0) / this.recent.length : loss;

    let skipped = false;
    if (before && this.recent.length >= Math.min(10, this.o.collapseWindow) && (!Number.isFinite(loss) || loss > this.o.maxLossRatio * running)) {
      for (const [e, p] of before) this.policy.setPrompt(e, p);
      skipped = true;
      this.skipped++;
    } else if (!Number.isFinite(loss)) {
      // A non-finite loss always rolls back: the update it produced cannot be trusted.
      this.resetToInitial();
      this.resets++;
      this.curve.push({ step: this.steps, loss, runningLoss: running });
      return { step: this.steps, loss, skipped: false, reset: true, runningLoss: running };
    }

    if (!skipped) {
      this.recent.push(loss);
      if (this.recent.length > this.o.collapseWindow) this.recent.shift();
      if (this.reference === null) {
        this.referenceSum += loss;
        if (this.steps >= this.o.collapseWindow) this.reference = this.referenceSum / this.o.collapseWindow;
      }
      this.applyConstraints(present);
    }
    const runningLoss = this.recent.reduce((s, x) => s + x, 0) / Math.max(1, this.recent.length);
    let reset = false;
    if (this.o.collapseRatio > 0 && this.reference !== null && this.recent.length >= this.o.collapseWindow && runningLoss > this.o.collapseRatio * this.reference) {
      this.resetToInitial();
      this.resets++;
      reset = true;
    }
    this.updateActing(present);
    this.curve.push({ step: this.steps, loss, runningLoss });
    return { step: this.steps, loss, skipped, reset, runningLoss };
  }

  report(): OnlineLearnerReport {
    const promptShift: Record<number, number> = {};
    const actingShift: Record<number, number> = {};
    for (const [e, p0] of this.initial) {
      promptShift[e] = l2Distance(this.policy.getPrompt(e), p0);
      actingShift[e] = l2Distance(this.acting.get(e)!, p0);
    }
    return { steps: this.steps, skipped: this.skipped, resets: this.resets, lossCurve: [...this.curve], promptShift, actingShift, options: { ...this.o } };
  }

  private applyConstraints(present: number[]): void {
    const { anchor, trustRadius, lr } = this.o;
    if (anchor === 0 && trustRadius === 0) return;
    for (const e of present) {
      const p0 = this.initial.get(e)!;
      const p = this.policy.getPrompt(e);
      if (anchor > 0) {
        const k = lr * anchor;
        for (let i = 0; i < p.length; i++) p[i] = p[i]! - k * (p[i]! - p0[i]!);
      }
      if (trustRadius > 0) {
        const radius = trustRadius * l2Norm(p0);
        const d = l2Distance(p, p0);
        if (d > radius) {
          const scale = radius / d;
          for (let i = 0; i < p.length; i++) p[i] = p0[i]! + scale * (p[i]! - p0[i]!);
        }
      }
      this.policy.setPrompt(e, p);
    }
  }

  private updateActing(present: number[]): void {
    const d = this.o.emaDecay;
    for (const e of present) {
      const a = this.acting.get(e)!;
      const p = this.policy.getPrompt(e);
      for (let i = 0; i < a.length; i++) a[i] = d * a[i]! + (1 - d) * p[i]!;
    }
  }

  private resetToInitial(): void {
    for (const [e, p0] of this.initial) {
      this.policy.setPrompt(e, p0);
      this.acting.set(e, Float64Array.from(p0));
    }
    this.policy.resetOptimizer();
    this.recent.length = 0;
  }
}

export interface StreamOptimizationOptions extends OnlinePromptOptions {
  /** Transitions per update (default 1: the naive online setting). */
  microBatch?: number;
  /** Passes over the stream (default 1). */
  passes?: number;
  /** Only these tasks' transitions. */
  tasks?: readonly string[];
  signal?: AbortSignal;
  onProgress?: (p: PromptProgress) => void;
}

/**
 * Online LPO over a buffer's transitions in the order they happened (the stream a robot would
 * have produced while acting), on a shadow copy of `policy`; at the end `policy` gets the prompt
 * to act with (the EMA when emaDecay > 0). The counterpart of optimizePrompt for the online
 * protocol; the same result shape plus the learner's report.
 */
export async function optimizePromptOnline(
  policy: Policy,
  normalization: Normalization,
  buffer: TrajectoryBuffer,
  options: StreamOptimizationOptions = {},
): Promise<PromptOptimizationResult & { online: OnlineLearnerReport }> {
  const microBatch = options.microBatch ?? 1;
  const passes = options.passes ?? 1;
  if (!Number.isSafeInteger(microBatch) || microBatch < 1) throw new ArgumentError('VLA_ARGUMENT', `optimizePromptOnline: microBatch must be a positive integer, got ${String(microBatch)}`);
  if (!Number.isSafeInteger(passes) || passes < 1) throw new ArgumentError('VLA_ARGUMENT', `optimizePromptOnline: passes must be a positive integer, got ${String(passes)}`);
  const stream = buffer.inOrder(options.tasks);
  const n = stream.length / 2;
  if (n === 0) throw new ArgumentError('VLA_ARGUMENT', `optimizePromptOnline: no transitions${options.tasks ? ` of task(s) ${options.tasks.join(', ')}` : ''} in the buffer`);
  const shadow = policy.clone();
  const learner = new OnlinePromptLearner(shadow, options);
  const steps = passes * Math.floor(n / microBatch);
  const start = performance.now();
  let batch: ObservationBatch | undefined;
  let stopped = false;
  let done = 0;
  const curve: Array<{ step: number; loss: number }> = [];
  for (let s = 0; s < steps; s++) {
    if (options.signal?.aborted) {
      stopped = true;
      break;
    }
    const first = (s * microBatch) % (Math.floor(n / microBatch) * microBatch);
    batch = buffer.pack(stream.subarray(2 * first, 2 * (first + microBatch)), { policy: shadow, normalization }, batch);
    const r = await learner.step(batch);
    done = s + 1;
    curve.push({ step: done, loss: r.loss });
    options.onProgress?.({ step: done, steps, loss: r.loss, gradNorm: Number.NaN, seconds: (performance.now() - start) / 1000 });
  }
  const embodiments = learner.embodiments;
  const promptShift: Record<number, number> = {};
  for (const e of embodiments) {
    const before = policy.getPrompt(e);
    const acting = learner.actingPrompt(e);
    promptShift[e] = l2Distance(before, acting);
    policy.setPrompt(e, acting);
  }
  return { steps: done, stopped, lossCurve: curve, seconds: (performance.now() - start) / 1000, embodiments, promptShift, online: learner.report() };
}
