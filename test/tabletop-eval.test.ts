// The evaluation protocol: Wilson intervals and McNemar p-values against known values, the flip
// table on a hand-made pair, the report's shape, and the scripted expert's success rate.
import { describe, expect, it } from 'vitest';

import { comparePaired, evaluate, flipRow, type EpisodeRecord } from '../lib/tabletop/eval.js';
import { tasksInSuite } from '../lib/tabletop/tasks.js';
import { mcnemarExact, wilsonInterval } from '../lib/util/stats.js';

describe('statistics', () => {
  it('computes Wilson 95% intervals (reference values from scipy binomtest(...).proportion_ci(method="wilson"))', () => {
    const close = (got: [number, number], want: [number, number]): void => {
      expect(got[0]).toBeCloseTo(want[0], 4);
      expect(got[1]).toBeCloseTo(want[1], 4);
    };
    close(wilsonInterval(5, 10), [0.2366, 0.7634]);
    close(wilsonInterval(0, 10), [0, 0.2775]);
    close(wilsonInterval(10, 10), [0.7225, 1]);
    close(wilsonInterval(139, 200), [0.628014, 0.754636]);
    close(wilsonInterval(190, 200), [0.910422, 0.972617]);
    close(wilsonInterval(1, 1), [0.2065, 1]);
    expect(wilsonInterval(0, 0)).toEqual([0, 1]);
    expect(() => wilsonInterval(3, 2)).toThrow(/exceed trials/);
    expect(() => wilsonInterval(-1, 2)).toThrow(/non-negative integer/);
  });

  it('computes exact McNemar p-values (reference: scipy binomtest(min(b, c), b + c))', () => {
    expect(mcnemarExact(0, 0)).toBe(1);
    expect(mcnemarExact(2, 10)).toBeCloseTo(158 / 4096, 10);
    expect(mcnemarExact(10, 2)).toBeCloseTo(158 / 4096, 10);
    expect(mcnemarExact(0, 6)).toBeCloseTo(2 / 64, 10);
    expect(mcnemarExact(5, 5)).toBe(1);
    // Large counts stay finite and symmetric (2^-n underflows without logs).
    expect(mcnemarExact(400, 500) / 0.0009564441369189373).toBeCloseTo(1, 8);
    expect(mcnemarExact(1, 3)).toBeCloseTo(0.625, 12);
  });
});

describe('paired comparison', () => {
  it('builds the flip table of a hand-made pair', () => {
    const base = [true, true, true, false, false, false, true, false];
    const post = [true, false, true, true, true, false, true, true];
    expect(flipRow(base, post)).toEqual({
      total: 8,
      base: 4,
      post: 6,
      difference: 2,
      succToFail: 1,
      failToSucc: 3,
      alwaysSucc: 3,
      alwaysFail: 1,
      pValue: mcnemarExact(1, 3),
    });
  });

  it('pairs episodes by task, index and seed, per task and overall', () => {
    const rec = (task: string, i: number, success: boolean): EpisodeRecord => ({ task, episodeIndex: i, configuration: i, seed: 100 + i, success, stages: [success], grasped: true, clippedSteps: 0 });
    const base = [rec('a', 0, true), rec('a', 1, false), rec('b', 0, false), rec('b', 1, false)];
    // Same episodes, listed in another order.
    const post = [rec('b', 1, true), rec('a', 1, true), rec('a', 0, true), rec('b', 0, false)];
    const c = comparePaired({ episodes: base }, { episodes: post });
    expect(c.tasks['a']).toMatchObject({ base: 1, post: 2, failToSucc: 1, alwaysSucc: 1 });
    expect(c.tasks['b']).toMatchObject({ base: 0, post: 1, failToSucc: 1, alwaysFail: 1 });
    expect(c.overall).toMatchObject({ total: 4, base: 1, post: 3, succToFail: 0, failToSucc: 2 });
    expect(() => comparePaired({ episodes: base }, { episodes: post.slice(1) })).toThrow(/do not cover the same episodes \(4 vs 3; b#1 \(configuration 1, seed 101\) is missing from the second\)/);
    expect(() => comparePaired({ episodes: base.slice(1) }, { episodes: post })).toThrow(/a#0 \(configuration 0, seed 100\) is missing from the first/);
    const reseeded = [post[0]!, post[1]!, post[3]!, { ...rec('a', 0, true), seed: 1 }];
    expect(() => comparePaired({ episodes: base }, { episodes: reseeded })).toThrow(/a#0 \(configuration 0, seed 100\) is missing from the second/);
    const reconfigured = [post[0]!, post[1]!, post[3]!, { ...rec('a', 0, true), configuration: 5 }];
    expect(() => comparePaired({ episodes: base }, { episodes: reconfigured })).toThrow(/is missing from the second/);
    // Duplicates on either side are refused, even when the counts match.
    const doubled = [base[0]!, base[0]!, base[2]!, base[3]!];
    expect(() => comparePaired({ episodes: doubled }, { episodes: post })).toThrow(/the first evaluation lists episode a#0 \(configuration 0, seed 100\) twice/);
    expect(() => comparePaired({ episodes: base }, { episodes: doubled })).toThrow(/the second evaluation lists episode a#0/);
  });
});

describe('evaluation', () => {
  it('reports per-task rates, intervals and partial metrics in the documented shape', async () => {
    const report = await evaluate({ policy: 'expert', tasks: ['stack-cube', 'carrot-plate-then-cube-towel'], episodesPerTask: 2, seed: 4, workers: 2, shift: 'camera:0.5' });
    expect(Object.keys(report).sort()).toEqual(
      ['mean', 'tasks', 'shift', 'shiftSeed', 'embodimentId', 'seed', 'episodesPerTask', 'policy', 'workers', 'envSteps', 'envStepsPerSecond', 'seconds', 'startupSeconds', 'images', 'episodes'].sort(),
    );
    expect(report.images).toEqual({ width: 64, height: 64 });
    expect(report).toMatchObject({ shift: 'camera:0.5', shiftSeed: 0, seed: 4, episodesPerTask: 2, policy: 'expert', embodimentId: 0, envSteps: 2 * 60 + 2 * 120 });
    const t = report.tasks['stack-cube']!;
    expect(t.episodes).toBe(2);
    expect(t.rate).toBe(t.successes / 2);
    expect(t.ci95).toEqual(wilsonInterval(t.successes, 2));
    expect(Object.keys(t.partial).sort()).toEqual(['grasped', 'graspedFor5', 'movedCorrectObject']);
    expect(report.tasks['carrot-plate-then-cube-towel']!.partial.stageSuccess).toHaveLength(2);
    expect(report.mean).toBeCloseTo((t.rate + report.tasks['carrot-plate-then-cube-towel']!.rate) / 2, 12);
    expect(report.episodes).toHaveLength(4);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });

  it('the scripted expert solves every base task (24 episodes each, one per configuration)', async () => {
    const tasks = tasksInSuite('base').map((t) => t.name);
    // The expert does not look at images.
    const report = await evaluate({ policy: 'expert', tasks, episodesPerTask: 24, seed: 2024, workers: 2, render: false });
    expect(report.images).toBeNull();
    for (const name of tasks) {
      const t = report.tasks[name]!;
      expect(t.successes, `${name}: ${t.successes}/24`).toBeGreaterThanOrEqual(23);
      expect(t.partial.grasped).toBeGreaterThanOrEqual(23 / 24);
    }
    // 5760 environment steps: allow for cores shared with other work.
  }, 240_000);
});
