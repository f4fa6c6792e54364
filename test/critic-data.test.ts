// Progress-critic data and quality measures: labels, pair sampling, the value-order
// correlation, the estimator replay and the whole quality report with an oracle critic, the
// dataset's progress array, and rollouts that compute task progress.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { criticFrame, loadCriticEpisodes, progressLabel, sampleCriticPairs, splitCriticEpisodes, type CriticEpisode } from '../lib/evolve/critic-data.js';
import { criticQuality, estimatorQueries, replayEstimator, valueOrderCorrelation, TABLETOP_PROGRESS_OPTIONS } from '../lib/evolve/critic-quality.js';
import { ProgressEstimator, type ProgressEstimatorOptions } from '../lib/evolve/progress-estimator.js';
import type { CriticPair } from '../lib/evolve/progress-critic.js';
import { DatasetReader, DatasetWriter, decodeEpisode, encodeEpisode, type DemoEpisode } from '../lib/tabletop/dataset.js';
import { EpisodeRecorder } from '../lib/tabletop/episode-recorder.js';
import { planEpisodes, runRollouts } from '../lib/tabletop/rollout.js';
import { Rng } from '../lib/util/random.js';

const tmp = mkdtempSync(join(tmpdir(), 'vla-critic-data-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const S = 4; // tiny frames: byte 0 of frame t holds t, byte 1 the episode id
function syntheticEpisode(id: number, progress: number[], success: boolean, task = 'carrot-on-plate'): CriticEpisode {
  const T = progress.length;
  const frames = new Uint8Array(T * S * S * 3);
  for (let t = 0; t < T; t++) {
    frames[t * S * S * 3] = t;
    frames[t * S * S * 3 + 1] = id;
  }
  return { task, instruction: 'put the carrot on the plate', success, source: `synthetic#${id}`, size: S, frames, progress: Float32Array.from(progress), finalProgress: progress.at(-1)! };
}

/** A critic that reads the frame indices and answers with the exact label. */
function oracle(episodes: CriticEpisode[]): (pairs: CriticPair[]) => Float64Array {
  return (pairs) => Float64Array.from(pairs.map((p) => {
    const e = episodes[p.before[1]!]!;
    return progressLabel(e.progress[p.before[0]!]!, e.progress[p.after[0]!]!);
  }));
}

describe('progressLabel', () => {
  it('is the share of the remaining work completed, clamped to [-100, 100]', () => {
    expect(progressLabel(0, 40)).toBe(40);
    expect(progressLabel(50, 75)).toBe(50);
    expect(progressLabel(50, 100)).toBe(100);
    expect(progressLabel(50, 25)).toBe(-50);
    expect(progressLabel(90, 0)).toBe(-100);
    expect(progressLabel(100, 100)).toBe(0);
    expect(progressLabel(100, 99)).toBe(-10);
    expect(progressLabel(95, 100)).toBe(50);
  });

  it('makes Algorithm 1 reproduce the true progress under a perfect critic', () => {
    const p = [0, 10, 30, 45, 60, 55, 80, 100];
    let v = 0;
    for (let i = 1; i < p.length; i++) {
      v = v + ((100 - v) * progressLabel(p[i - 1]!, p[i]!)) / 100;
      expect(v).toBeCloseTo(p[i]!, 9);
    }
  });
});

describe('sampleCriticPairs', () => {
  const eps = [syntheticEpisode(0, [0, 10, 20, 30, 40, 50, 60, 70, 80, 90], true), syntheticEpisode(1, [0, 20, 40, 20, 0, 0], false)];

  it('labels every pair from its two frames, is seeded, and honors the sampling fractions', () => {
    const a = sampleCriticPairs(eps, 2000, new Rng(3));
    const b = sampleCriticPairs(eps, 2000, new Rng(3));
    expect(Array.from(a.targets)).toEqual(Array.from(b.targets));
    let reversed = 0;
    let fromStart = 0;
    a.pairs.forEach((p, k) => {
      const e = eps[p.before[1]!]!;
      const i = p.before[0]!;
      const j = p.after[0]!;
      expect(i).not.toBe(j);
      expect(p.after[1]).toBe(p.before[1]);
      expect(a.targets[k]).toBe(progressLabel(e.progress[i]!, e.progress[j]!));
      if (i > j) reversed++;
      if (i === 0) fromStart++;
    });
    expect(reversed / 2000).toBeGreaterThan(0.2);
    expect(reversed / 2000).toBeLessThan(0.3);
    expect(fromStart / 2000).toBeGreaterThan(0.1);
    expect(sampleCriticPairs(eps, 200, new Rng(4), { reversed: 0, maxGap: 2, fromStart: 0 }).pairs.every((p) => p.after[0]! > p.before[0]! && p.after[0]! - p.before[0]! <= 2)).toBe(true);
  });

  it('rejects bad settings by name', () => {
    expect(() => sampleCriticPairs(eps, 4, new Rng(0), { reversed: 2 })).toThrow(/reversed/);
    expect(() => sampleCriticPairs(eps, 4, new Rng(0), { maxGap: 0 })).toThrow(/maxGap/);
    expect(() => sampleCriticPairs([], 4, new Rng(0))).toThrow(/no episodes/);
    expect(() => sampleCriticPairs(eps, 0, new Rng(0))).toThrow(/n must be/);
  });

  it('splits per task with a seeded shuffle', () => {
    const many = Array.from({ length: 10 }, (_, i) => syntheticEpisode(i, [0, 50], true, i % 2 ? 'a' : 'b'));
    const s = splitCriticEpisodes(many, 2, new Rng(1));
    expect(s.heldOut.length).toBe(4);
    expect(s.train.length).toBe(6);
    expect(new Set([...s.train, ...s.heldOut]).size).toBe(10);
  });
});

describe('valueOrderCorrelation', () => {
  it('is the Spearman correlation with time', () => {
    expect(valueOrderCorrelation([0, 1, 2, 3])).toBeCloseTo(1, 12);
    expect(valueOrderCorrelation([3, 2, 1, 0])).toBeCloseTo(-1, 12);
    expect(valueOrderCorrelation([5, 5, 5])).toBe(0);
    // ranks of [1, 3, 2, 4] are [1, 3, 2, 4]: rho = 1 - 6 * (0 + 1 + 1 + 0) / (4 * 15) = 0.8
    expect(valueOrderCorrelation([1, 3, 2, 4])).toBeCloseTo(0.8, 12);
    // ties share their mean rank: [0, 1, 1, 2] -> ranks [1, 2.5, 2.5, 4]
    expect(valueOrderCorrelation([0, 1, 1, 2])).toBeCloseTo(4.5 / Math.sqrt(4.5 * 5), 12);
    expect(() => valueOrderCorrelation([1])).toThrow(/at least 2/);
  });
});

describe('estimator replay', () => {
  const cases: Array<[number, ProgressEstimatorOptions]> = [
    [60, TABLETOP_PROGRESS_OPTIONS],
    [61, TABLETOP_PROGRESS_OPTIONS],
    [33, { milestoneEvery: 16, checkEvery: 4, mode: 'vanilla' }],
    [120, { milestoneEvery: 10, checkEvery: 3 }],
  ];
  it.each(cases)('lists exactly the queries the online estimator asks (T = %i)', (T, o) => {
    const full = { ...TABLETOP_PROGRESS_OPTIONS, ...o };
    // A critic that never reaches done, so every query is asked.
    const est = new ProgressEstimator({ ...full, tau: 1 });
    const asked: string[] = [];
    for (let t = 0; t < T; t++) {
      const q = est.observe(t);
      if (q) {
        asked.push(`${q.earlier},${q.later}`);
        est.record(q, 1);
      }
    }
    const f = est.finish(T - 1);
    if (f) asked.push(`${f.earlier},${f.later}`);
    expect(estimatorQueries(T, full).map(([i, j]) => `${i},${j}`)).toEqual(asked);
  });

  it('stops at the first done and fails on a missing answer', () => {
    const answers = new Map<string, number>();
    for (const [i, j] of estimatorQueries(40, TABLETOP_PROGRESS_OPTIONS)) answers.set(`${i},${j}`, j >= 8 ? 95 : 10);
    const r = replayEstimator(40, TABLETOP_PROGRESS_OPTIONS, answers);
    expect(r.estimator.done).toBe(true);
    expect(r.estimator.doneStep).toBe(8);
    expect(() => replayEstimator(40, TABLETOP_PROGRESS_OPTIONS, new Map())).toThrow(/no critic answer for frames 0 -> 4/);
  });
});

describe('criticQuality', () => {
  const rising = (T: number, top: number) => Array.from({ length: T }, (_, t) => (top * t) / (T - 1));
  const episodes = [
    syntheticEpisode(0, rising(60, 100), true),
    syntheticEpisode(1, rising(60, 100), true),
    syntheticEpisode(2, [...rising(30, 60), ...rising(30, 60).reverse()], false),
    syntheticEpisode(3, rising(60, 50), false),
    syntheticEpisode(4, rising(60, 100), true),
  ];

  it('gives an oracle critic zero pair error, full VOC and a perfect done F-score', async () => {
    const r = await criticQuality(oracle(episodes), episodes, { seed: 1, pairsPerTask: 64 });
    const t = r.tasks['carrot-on-plate']!;
    expect(t.pairMae).toBeCloseTo(0, 9);
    expect(t.voc).toBeCloseTo(1, 9);
    expect(t.vocOracle).toBeCloseTo(1, 9);
    expect(t.balanced).toBe(2);
    expect(t.done).toEqual({ truePositive: 2, falsePositive: 0, trueNegative: 2, falseNegative: 0 });
    expect(t.f1).toBe(1);
    expect(r.criticCalls).toBeGreaterThan(64);
  });

  it('counts reward hacking for a critic that always claims progress', async () => {
    const r = await criticQuality((pairs) => new Float64Array(pairs.length).fill(100), episodes, { seed: 1, pairsPerTask: 16 });
    const t = r.tasks['carrot-on-plate']!;
    expect(t.done.falsePositive).toBe(2);
    expect(t.precision).toBe(0.5);
    // After frame 0 the values are constant: only the first point is ordered.
    expect(t.voc).toBeLessThan(0.5);
  });

  it('rejects a critic that returns the wrong number of values', async () => {
    await expect(criticQuality(() => new Float64Array(1), episodes, { pairsPerTask: 8 })).rejects.toThrow(/returned 1 values for 8 pairs/);
  });
});

describe('task progress in rollouts and datasets', () => {
  it('records the progress of every observation and the final progress, and stores it in the dataset', async () => {
    const recorder = new EpisodeRecorder({ width: 16, height: 16 });
    const dir = join(tmp, 'with-progress');
    const writer = await DatasetWriter.create(dir, { tasks: ['carrot-on-plate'], shift: 'source', shiftSeed: 0, seed: 5, embodimentId: 0, controlHz: 5, image: { width: 16, height: 16 } });
    const progressSeen: number[] = [];
    const r = await runRollouts({
      policy: 'expert',
      episodes: planEpisodes(['carrot-on-plate'], 2, 5),
      workers: 1,
      progress: true,
      imageSize: { width: 16, height: 16 },
      onTransition: (t) => {
        progressSeen.push(t.progress!);
        recorder.onTransition(t);
      },
      onEpisode: async (e) => writer.append(recorder.finish(e)),
    });
    await writer.close();
    expect(progressSeen.every((p) => p >= 0 && p <= 100)).toBe(true);
    expect(progressSeen[0]).toBeCloseTo(0, 6);
    for (const e of r.episodes) if (e.outcome.success) expect(e.finalProgress).toBe(100);
    const episodes = await loadCriticEpisodes([dir]);
    expect(episodes.length).toBe(2);
    expect(episodes[0]!.progress.length).toBe(60);
    expect(criticFrame(episodes[0]!, 3).length).toBe(16 * 16 * 3);
    const reader = await DatasetReader.open(dir);
    const e0 = await reader.readEpisode(0);
    expect(e0.header.finalProgress).toBe(r.episodes[0]!.finalProgress);
  });

  it('leaves progress out unless asked, and the critic loader says how to record it', async () => {
    const dir = join(tmp, 'without-progress');
    const writer = await DatasetWriter.create(dir, { tasks: ['carrot-on-plate'], shift: 'source', shiftSeed: 0, seed: 5, embodimentId: 0, controlHz: 5, image: { width: 16, height: 16 } });
    const recorder = new EpisodeRecorder({ width: 16, height: 16 });
    await runRollouts({
      policy: 'expert', episodes: planEpisodes(['carrot-on-plate'], 1, 5), workers: 1, imageSize: { width: 16, height: 16 },
      onTransition: (t) => {
        expect(t.progress).toBeUndefined();
        recorder.onTransition(t);
      },
      onEpisode: async (e) => writer.append(recorder.finish(e)),
    });
    await writer.close();
    await expect(loadCriticEpisodes([dir])).rejects.toThrow(/collect-demos --progress/);
  });

  it('refuses progress arrays of the wrong length or range', () => {
    const ep: DemoEpisode = {
      task: 'carrot-on-plate', instruction: 'x', episodeIndex: 0, configuration: 0, seed: 0, embodimentId: 0, success: true, stageSuccess: [true],
      state: new Float32Array(8), action: new Float32Array(14), image: null, progress: Float32Array.from([0, 120]),
    };
    expect(() => encodeEpisode(ep, null)).toThrow(/progress must hold 2 values in \[0, 100\]/);
    const ok = decodeEpisode(encodeEpisode({ ...ep, progress: Float32Array.from([0, 60]), finalProgress: 75 }, null), 'ep');
    expect(Array.from(ok.progress!)).toEqual([0, 60]);
    expect(ok.header.finalProgress).toBe(75);
    expect(decodeEpisode(encodeEpisode({ ...ep, progress: null }, null), 'ep').progress).toBeNull();
  });
});
