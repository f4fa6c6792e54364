/**
 * Supervised pretraining of the policy on demonstrations (TTT-VLA's recipe): the joint loss
 * L = L_action + lambda L_state with gradient routing, the two-stage random drop of the
 * prompt -> action-expert edge (probability p1, then p2), one prompt block per embodiment, AdamW
 * with warmup and cosine decay, and image augmentation.
 *
 * Variants: `sglp` (state-grounded latent prompt, the default), `nodrop` (the same without the
 * edge drop), `baseline` (no prompt and no state expert).
 *
 * Files, all written atomically (temp + rename): the checkpoint OUT (weights, config, vocabulary,
 * normalization, training facts), OUT.optimizer.bin (AdamW state, for --resume), and
 * OUT.loss.svg / OUT.loss.json (the loss curve). A run resumed from step s continues exactly as
 * the uninterrupted run would (the batch and flow draws are functions of (seed, step)).
 */
import { existsSync } from 'node:fs';

import { ArgumentError, RangeValueError } from '../errors.js';
import type { PresetName, ModelConfig } from '../model/config.js';
import { Policy } from '../model/policy.js';
import type { Tokenizer } from '../model/tokenizer.js';
import { lineChartSvg } from '../report/svg-chart.js';
import { writeFileAtomic } from '../tabletop/dataset.js';
import { benchmarkTokenizer } from '../tabletop/vocabulary.js';
import { Rng, deriveSeed } from '../util/random.js';
import { DEFAULT_AUGMENT } from './augment.js';
import { DemoSet, type SampledBatch } from './demo-set.js';
import { readOptimizerFile, writeOptimizerFile } from './optimizer-file.js';
import { learningRate } from './schedule.js';

export type Variant = 'sglp' | 'nodrop' | 'baseline';

export interface TrainOptions {
  /** Dataset folders (vla-ttt collect-demos). */
  data: string[];
  /** Checkpoint path. */
  out: string;
  preset?: PresetName;
  variant?: Variant;
  steps: number;
  batch: number;
  lr: number;
  warmupSteps?: number;
  minLrRatio?: number;
  weightDecay?: number;
  maxGradNorm?: number;
  /** lambda (state-grounding loss weight). */
  stateWeight?: number;
  /** Prompt-edge drop probability in the first stage, the second stage, and where the second starts (fraction of steps). */
  dropP1?: number;
  dropP2?: number;
  dropSwitch?: number;
  augment?: boolean;
  seed: number;
  checkpointEvery?: number;
  /** Steps between loss-curve points. */
  logEvery?: number;
  resume?: boolean;
  /** Use at most this many episodes per task (e.g. 1 for the one-demo checkpoint). */
  maxEpisodesPerTask?: number;
  /** Model config overrides (tests use a tiny model). */
  config?: Partial<ModelConfig>;
  /**
   * Start from this checkpoint's weights instead of seeded random ones (fine-tuning). Its config
   * is kept, with `config` applied on top; an override that changes a tensor shape is refused.
   * `preset` and `variant` are ignored then.
   */
  init?: string;
  onProgress?: (p: TrainProgress) => void;
}

export interface TrainProgress {
  step: number;
  steps: number;
  loss: number;
  actionLoss: number;
  stateLoss: number;
  lr: number;
  samplesPerSecond: number;
  elapsedSeconds: number;
}

export interface LossPoint {
  step: number;
  loss: number;
  action: number;
  state: number;
}

export interface TrainResult {
  checkpoint: string;
  steps: number;
  seconds: number;
  finalLoss: number;
  lossCurve: LossPoint[];
  episodes: number;
  samples: number;
  resumedFrom: number;
}

interface ResumeState {
  step: number;
  elapsedSeconds: number;
  lossCurve: LossPoint[];
  fingerprint: string;
}

/** The options that must match for a resume to continue the same run. */
function fingerprint(o: TrainOptions): string {
  return JSON.stringify({
    data: o.data,
    preset: o.preset ?? 'small',
    variant: o.variant ?? 'sglp',
    steps: o.steps,
    batch: o.batch,
    lr: o.lr,
    seed: o.seed,
    stateWeight: o.stateWeight,
    drop: [o.dropP1, o.dropP2, o.dropSwitch],
    augment: o.augment ?? true,
    maxEpisodesPerTask: o.maxEpisodesPerTask,
    config: o.config ?? {},
    init: o.init ?? null,
  });
}

function variantConfig(v: Variant): Partial<ModelConfig> {
  return v === 'baseline' ? { use_prompt: false, use_state_expert: false } : {};
}

/** A new policy with `init`'s weights and config, the overrides applied (same tensor shapes). */
function initializedFrom(init: string, overrides: Partial<ModelConfig>, tokenizer: Tokenizer): Policy {
  const base = Policy.load(init);
  if (base.tokenizer.size !== tokenizer.size) {
    throw new ArgumentError('VLA_ARGUMENT', `train --init: ${init} has a ${base.tokenizer.size}-word vocabulary, the benchmark's has ${tokenizer.size}`);
  }
  const preset = base.config.preset as PresetName;
  const policy = Policy.create({ preset, config: { ...base.config, ...overrides }, tokenizer, seed: 0, dtype: base.dtype });
  if (policy.numParams !== base.numParams) {
    throw new ArgumentError('VLA_ARGUMENT', `train --init: the config overrides change the model's size (${base.numParams} -> ${policy.numParams} parameters); only switches that keep every tensor's shape can be applied to ${init}`);
  }
  policy.setParams(base.getParams());
  return policy;
}

/** Trains a policy on the demonstrations; see the module comment. */
export async function train(o: TrainOptions): Promise<TrainResult> {
  if (!Number.isInteger(o.steps) || o.steps < 1) throw new ArgumentError('VLA_ARGUMENT', `train: steps must be a positive integer, got ${o.steps}`);
  if (!Number.isInteger(o.batch) || o.batch < 1) throw new ArgumentError('VLA_ARGUMENT', `train: batch must be a positive integer, got ${o.batch}`);
  const variant = o.variant ?? 'sglp';
  const p1 = variant === 'nodrop' ? 0 : (o.dropP1 ?? 0.5);
  const p2 = variant === 'nodrop' ? 0 : (o.dropP2 ?? 0.1);
  const switchAt = Math.round((o.dropSwitch ?? 0.5) * o.steps);
  const logEvery = o.logEvery ?? 10;
  const checkpointEvery = o.checkpointEvery ?? 500;
  const optimPath = `${o.out}.optimizer.bin`;

  const demos = await DemoSet.load(o.data, o.maxEpisodesPerTask === undefined ? {} : { maxEpisodesPerTask: o.maxEpisodesPerTask });
  const tokenizer: Tokenizer = benchmarkTokenizer();
  for (const ins of demos.instructions()) {
    const unknown = tokenizer.unknownWords(ins);
    if (unknown.length) throw new RangeValueError('VLA_VALUE', `instruction '${ins}' has words outside the benchmark vocabulary: ${unknown.join(', ')}`);
  }
  const normalization = demos.fitNormalization();
  let policy: Policy;
  let resume: ResumeState = { step: 0, elapsedSeconds: 0, lossCurve: [], fingerprint: fingerprint(o) };
  if (o.resume && existsSync(o.out) && existsSync(optimPath)) {
    policy = Policy.load(o.out);
    resume = await readOptimizerFile<ResumeState>(optimPath, policy);
    if (resume.fingerprint !== fingerprint(o)) {
      throw new ArgumentError('VLA_ARGUMENT', `train --resume: ${o.out} was trained with other options; use the same data, preset, variant, steps, batch, lr and seed (or train to a new --out)`);
    }
    if (policy.metadata['trainingStep'] !== String(resume.step)) {
      throw new RangeValueError('VLA_VALUE', `train --resume: ${o.out} is at step ${policy.metadata['trainingStep']} but ${optimPath} at ${resume.step}; the pair is inconsistent`);
    }
  } else if (o.init) {
    policy = initializedFrom(o.init, o.config ?? {}, tokenizer);
  } else {
    policy = Policy.create({ preset: o.preset ?? 'small', config: { ...variantConfig(variant), ...o.config }, tokenizer, seed: o.seed });
  }
  if (policy.config.image_size !== demos.imageSize) {
    throw new ArgumentError('VLA_ARGUMENT', `the policy takes ${policy.config.image_size}px images but the demonstrations have ${demos.imageSize}px`);
  }
  const schedule = { peak: o.lr, warmupSteps: o.warmupSteps ?? Math.min(200, Math.floor(o.steps / 10)), totalSteps: o.steps, minRatio: o.minLrRatio ?? 0.1 };
  const augment = o.augment === false ? null : DEFAULT_AUGMENT;
  const stateLoss = policy.config.use_state_expert;

  const save = async (step: number, elapsed: number, curve: LossPoint[]) => {
    const state: ResumeState = { step, elapsedSeconds: elapsed, lossCurve: curve, fingerprint: fingerprint(o) };
    await writeOptimizerFile(optimPath, policy, state);
    policy.save(o.out, {
      normalization: normalization.toJSON(),
      trainingStep: String(step),
      training: JSON.stringify({
        variant, ...(o.init ? { init: o.init } : {}), steps: o.steps, batch: o.batch, lr: o.lr, seed: o.seed, stateWeight: o.stateWeight ?? 1, dropP1: p1, dropP2: p2,
        dropSwitchStep: switchAt, augment: augment !== null, data: o.data, episodes: demos.episodes.length, samples: demos.samples,
        tasks: Object.fromEntries(demos.tasks()),
        // Which prompt blocks saw data: an embodiment absent here has an untrained (random) block.
        embodiments: demos.episodes.reduce<Record<number, number>>((m, e) => ((m[e.embodiment] = (m[e.embodiment] ?? 0) + 1), m), {}),
        seconds: Number(elapsed.toFixed(1)), finalLoss: curve.at(-1)?.loss ?? null,
      }),
    });
    const svg = lineChartSvg(
      [
        { name: 'total', points: curve.map((p) => [p.step, p.loss] as const) },
        { name: 'action', points: curve.map((p) => [p.step, p.action] as const) },
        ...(stateLoss ? [{ name: 'state (lambda-weighted in total)', points: curve.map((p) => [p.step, p.state] as const) }] : []),
      ],
      { title: `Training loss (${variant}, ${policy.config.preset})`, xLabel: 'step', yLabel: 'loss', logY: true },
    );
    await writeFileAtomic(`${o.out}.loss.svg`, svg);
    await writeFileAtomic(`${o.out}.loss.json`, JSON.stringify(curve));
  };

  const curve = [...resume.lossCurve];
  const start = performance.now();
  let batch: SampledBatch | undefined;
  let acc = { loss: 0, action: 0, state: 0, n: 0 };
  let last = { total: NaN, action: NaN, state: NaN };
  for (let step = resume.step; step < o.steps; step++) {
    const rng = new Rng(deriveSeed(o.seed, 'batch', step));
    batch = demos.sample(o.batch, rng, { horizon: policy.config.horizon, textLength: policy.config.max_text_len, tokenizer, normalization, augment }, batch);
    const lr = learningRate(schedule, step);
    const r = await policy.trainStepAsync(
      { observations: batch.observations, actions: batch.actions },
      {
        lr, seed: o.seed, step, dropProbability: step < switchAt ? p1 : p2, stateWeight: o.stateWeight ?? 1, stateLoss,
        weightDecay: o.weightDecay ?? 0.01, maxGradNorm: o.maxGradNorm ?? 1.0,
      },
    );
    if (!Number.isFinite(r.total)) throw new RangeValueError('VLA_VALUE', `train: the loss became ${r.total} at step ${step}; the last checkpoint is intact`);
    last = r;
    acc = { loss: acc.loss + r.total, action: acc.action + r.action, state: acc.state + r.state, n: acc.n + 1 };
    const done = step + 1;
    const elapsed = resume.elapsedSeconds + (performance.now() - start) / 1000;
    if (done % logEvery === 0 || done === o.steps) {
      curve.push({ step: done, loss: acc.loss / acc.n, action: acc.action / acc.n, state: acc.state / acc.n });
      acc = { loss: 0, action: 0, state: 0, n: 0 };
    }
    o.onProgress?.({
      step: done, steps: o.steps, loss: r.total, actionLoss: r.action, stateLoss: r.state, lr,
      samplesPerSecond: ((done - resume.step) * o.batch) / ((performance.now() - start) / 1000), elapsedSeconds: elapsed,
    });
    if (done % checkpointEvery === 0 || done === o.steps) await save(done, elapsed, curve);
  }
  const seconds = resume.elapsedSeconds + (performance.now() - start) / 1000;
  if (resume.step >= o.steps) await save(o.steps, seconds, curve);
  return {
    checkpoint: o.out, steps: o.steps, seconds, finalLoss: curve.at(-1)?.loss ?? last.total, lossCurve: curve,
    episodes: demos.episodes.length, samples: demos.samples, resumedFrom: resume.step,
  };
}
