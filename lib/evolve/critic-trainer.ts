/**
 * Trains the pairwise progress critic (progress-critic.ts) on labelled frame pairs drawn from
 * recorded episodes (critic-data.ts): MSE on c / 100, AdamW, warmup + cosine learning rate,
 * global-norm clipping. Each step's pairs come from Rng(deriveSeed(seed, 'critic-pairs', step)),
 * so a run is reproducible and resumes exactly: the checkpoint (OUT) and its AdamW state
 * (OUT.optimizer.bin) are written every `checkpointEvery` steps and at the end.
 *
 * @example
 * ```ts
 * const episodes = await loadCriticEpisodes(['critic-data/expert', 'critic-data/noisy']);
 * const critic = ProgressCritic.create({ preset: 'critic-small', vocabulary: BENCHMARK_VOCABULARY, seed: 0 });
 * const r = await trainCritic({ critic, episodes, out: 'runs/critic.safetensors', steps: 3000, batch: 64, lr: 1e-3, seed: 0 });
 * ```
 */
import { existsSync } from 'node:fs';

import { ArgumentError, RangeValueError } from '../errors.js';
import { lineChartSvg } from '../report/svg-chart.js';
import { writeFileAtomic } from '../tabletop/dataset.js';
import { readOptimizerFile, writeOptimizerFile } from '../train/optimizer-file.js';
import { learningRate } from '../train/schedule.js';
import { Rng, deriveSeed } from '../util/random.js';
import { sampleCriticPairs, type CriticEpisode, type PairSampling } from './critic-data.js';
import type { CriticBatch, ProgressCritic } from './progress-critic.js';

export interface CriticTrainingOptions {
  critic: ProgressCritic;
  episodes: readonly CriticEpisode[];
  /** Checkpoint path; OUT.optimizer.bin, OUT.loss.json and OUT.loss.svg are written beside it. */
  out: string;
  steps: number;
  batch: number;
  lr: number;
  seed: number;
  warmupSteps?: number;
  minLrRatio?: number;
  weightDecay?: number;
  maxGradNorm?: number;
  sampling?: PairSampling;
  checkpointEvery?: number;
  /** Continue from OUT.optimizer.bin (the critic must be the checkpoint saved with it). */
  resume?: boolean;
  /** Facts recorded in the checkpoint's metadata (data folders, ...). */
  metadata?: Record<string, string>;
  onProgress?: (p: { step: number; steps: number; loss: number; lr: number; pairsPerSecond: number }) => void;
  signal?: AbortSignal;
}

export interface CriticTrainingResult {
  steps: number;
  seconds: number;
  finalLoss: number;
  lossCurve: Array<{ step: number; loss: number }>;
  resumedFrom: number;
}

interface CriticResumeState {
  step: number;
  elapsedSeconds: number;
  lossCurve: Array<{ step: number; loss: number }>;
  fingerprint: string;
}

export async function trainCritic(o: CriticTrainingOptions): Promise<CriticTrainingResult> {
  if (!Number.isSafeInteger(o.steps) || o.steps < 1) throw new ArgumentError('VLA_ARGUMENT', `trainCritic: steps must be a positive integer, got ${String(o.steps)}`);
  if (!Number.isSafeInteger(o.batch) || o.batch < 1) throw new ArgumentError('VLA_ARGUMENT', `trainCritic: batch must be a positive integer, got ${String(o.batch)}`);
  if (!(o.lr > 0 && o.lr < 1)) throw new RangeValueError('VLA_VALUE', `trainCritic: lr must be in (0, 1), got ${String(o.lr)}`);
  if (o.episodes.length === 0) throw new ArgumentError('VLA_ARGUMENT', 'trainCritic: no episodes');
  const size = o.critic.imageSize;
  const odd = o.episodes.find((e) => e.size !== size);
  if (odd) throw new ArgumentError('VLA_ARGUMENT', `trainCritic: the critic takes ${size}px frames but ${odd.source} has ${odd.size}px frames`);
  const optimPath = `${o.out}.optimizer.bin`;
  const fingerprint = JSON.stringify({ steps: o.steps, batch: o.batch, lr: o.lr, seed: o.seed, sampling: o.sampling ?? {}, episodes: o.episodes.length });
  let resume: CriticResumeState = { step: 0, elapsedSeconds: 0, lossCurve: [], fingerprint };
  if (o.resume && existsSync(optimPath)) {
    resume = await readOptimizerFile<CriticResumeState>(optimPath, o.critic);
    if (resume.fingerprint !== fingerprint) throw new ArgumentError('VLA_ARGUMENT', `trainCritic --resume: ${o.out} was trained with other options or data; use the same ones (or a new --out)`);
    if (o.critic.metadata['trainingStep'] !== String(resume.step)) {
      throw new RangeValueError('VLA_VALUE', `trainCritic --resume: ${o.out} is at step ${o.critic.metadata['trainingStep']} but ${optimPath} at ${resume.step}`);
    }
  }
  const schedule = { peak: o.lr, warmupSteps: o.warmupSteps ?? Math.min(200, Math.floor(o.steps / 10)), totalSteps: o.steps, minRatio: o.minLrRatio ?? 0.1 };
  const checkpointEvery = o.checkpointEvery ?? 500;
  const tasks = [...new Set(o.episodes.map((e) => e.task))].sort();
  const successes = o.episodes.filter((e) => e.success).length;

  const save = async (step: number, elapsed: number, curve: Array<{ step: number; loss: number }>) => {
    await writeOptimizerFile(optimPath, o.critic, { step, elapsedSeconds: elapsed, lossCurve: curve, fingerprint } satisfies CriticResumeState);
    o.critic.save(o.out, {
      ...o.metadata,
      trainingStep: String(step),
      training: JSON.stringify({ steps: o.steps, batch: o.batch, lr: o.lr, seed: o.seed, sampling: o.sampling ?? {}, episodes: o.episodes.length, successes, tasks, seconds: Number(elapsed.toFixed(1)), finalLoss: curve.at(-1)?.loss ?? null }),
    });
    await writeFileAtomic(`${o.out}.loss.json`, JSON.stringify(curve));
    await writeFileAtomic(`${o.out}.loss.svg`, lineChartSvg([{ name: 'pair MSE (c / 100)', points: curve.map((p) => [p.step, p.loss] as const) }], { title: 'Progress critic training loss', xLabel: 'step', yLabel: 'loss', logY: true }));
  };

  const curve = [...resume.lossCurve];
  const start = performance.now();
  let acc = 0;
  let n = 0;
  let last = NaN;
  let batch: CriticBatch | undefined;
  for (let step = resume.step; step < o.steps; step++) {
    if (o.signal?.aborted) throw new ArgumentError('VLA_ARGUMENT', `trainCritic: aborted at step ${step}; the checkpoint of the last saved step is intact`);
    const { pairs, targets } = sampleCriticPairs(o.episodes, o.batch, new Rng(deriveSeed(o.seed, 'critic-pairs', step)), o.sampling);
    const lr = learningRate(schedule, step);
    batch = o.critic.pack(pairs, batch); // the same buffers every step (the previous step has settled)
    const r = await o.critic.trainStepAsync(batch, targets, { lr, weightDecay: o.weightDecay ?? 0.01, maxGradNorm: o.maxGradNorm ?? 1.0 });
    if (!Number.isFinite(r.loss)) throw new RangeValueError('VLA_VALUE', `trainCritic: the loss became ${r.loss} at step ${step}; the last checkpoint is intact`);
    last = r.loss;
    acc += r.loss;
    n++;
    const done = step + 1;
    if (done % 10 === 0 || done === o.steps) {
      curve.push({ step: done, loss: acc / n });
      acc = 0;
      n = 0;
    }
    o.onProgress?.({ step: done, steps: o.steps, loss: r.loss, lr, pairsPerSecond: ((done - resume.step) * o.batch) / ((performance.now() - start) / 1000) });
    if (done % checkpointEvery === 0 || done === o.steps) await save(done, resume.elapsedSeconds + (performance.now() - start) / 1000, curve);
  }
  const seconds = resume.elapsedSeconds + (performance.now() - start) / 1000;
  return { steps: o.steps, seconds, finalLoss: curve.at(-1)?.loss ?? last, lossCurve: curve, resumedFrom: resume.step };
}
