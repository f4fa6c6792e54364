// EVOLVE-VLA's pieces that need no model: Algorithm 1 (accumulative progress) pinned on
// hand-computed sequences, the horizon schedule, group-relative advantages and the FPO surrogate.
import { describe, expect, it } from 'vitest';

import { accumulateProgress, ProgressEstimator, type ProgressQuery } from '../lib/evolve/progress-estimator.js';
import { checkHorizonSchedule, constantHorizonSchedule, defaultHorizonSchedule, horizonAt } from '../lib/evolve/horizon-schedule.js';
import { advantageWeights, fpoSurrogate, groupAdvantages } from '../lib/evolve/group-advantages.js';

/** Runs an estimator over steps 1..last, answering each query from `answers` (keyed "earlier->later"). */
function drive(est: ProgressEstimator, last: number, answers: Record<string, number>): ProgressQuery[] {
  const asked: ProgressQuery[] = [];
  est.observe(0);
  for (let t = 1; t <= last && !est.done; t++) {
    const q = est.observe(t);
    if (!q) continue;
    asked.push(q);
    const c = answers[`${q.earlier}->${q.later}`];
    if (c === undefined) throw new Error(`unexpected query ${q.earlier}->${q.later}`);
    est.record(q, c);
  }
  return asked;
}

describe('accumulative progress (Algorithm 1)', () => {
  it('the diminishing-returns update, including negative progress', () => {
    expect(accumulateProgress(0, 40)).toBeCloseTo(40, 12);
    expect(accumulateProgress(40, 50)).toBeCloseTo(70, 12);
    expect(accumulateProgress(40, -20)).toBeCloseTo(28, 12);
    expect(accumulateProgress(0, -50)).toBeCloseTo(-50, 12);
    // A negative c also scales by (100 - v): from -50, another -50 costs 75.
    expect(accumulateProgress(-50, -50)).toBeCloseTo(-125, 12);
    expect(accumulateProgress(90, 100)).toBeCloseTo(100, 12);
  });

  it('milestones compare the previous milestone, checks are provisional, done past tau', () => {
    const est = new ProgressEstimator({ milestoneEvery: 4, checkEvery: 2, tau: 0.9 });
    const asked = drive(est, 20, { '0->2': 50, '0->4': 40, '4->6': 50, '4->8': -20, '8->10': 90 });
    expect(asked.map((q) => `${q.kind}:${q.earlier}->${q.later}`)).toEqual(['check:0->2', 'milestone:0->4', 'check:4->6', 'milestone:4->8', 'check:8->10']);
    expect(est.history.map((p) => p.value)).toEqual([50, 40, 70, 28, expect.closeTo(92.8, 10)]);
    expect(est.done).toBe(true);
    expect(est.doneStep).toBe(10);
    expect(est.reward).toBeCloseTo(0.928, 12);
    expect(est.criticCalls).toBe(5);
    // Nothing is asked after done.
    expect(est.observe(11)).toBeNull();
  });

  it('a check never commits: the next milestone starts from the committed value', () => {
    const est = new ProgressEstimator({ milestoneEvery: 4, checkEvery: 2, tau: 0.99 });
    drive(est, 4, { '0->2': 80, '0->4': 10 });
    expect(est.value).toBeCloseTo(10, 12); // not 80 + 20 * 0.1
  });

  it('finish asks for the last frame unless it was just answered', () => {
    const a = new ProgressEstimator({ milestoneEvery: 4, checkEvery: 2, tau: 0.9 });
    drive(a, 5, { '0->2': 30, '0->4': 20 });
    const q = a.finish(5);
    expect(q).toEqual({ earlier: 4, later: 5, kind: 'final' });
    a.record(q!, 50);
    expect(a.reward).toBeCloseTo((20 + 80 * 0.5) / 100, 12);
    const b = new ProgressEstimator({ milestoneEvery: 4, checkEvery: 2, tau: 0.9 });
    drive(b, 4, { '0->2': 30, '0->4': 20 });
    expect(b.finish(4)).toBeNull();
    expect(b.reward).toBeCloseTo(0.2, 12);
  });

  it('vanilla mode compares the first frame with the current one; binary mode rewards done only', () => {
    const v = new ProgressEstimator({ milestoneEvery: 4, checkEvery: 2, tau: 0.9, mode: 'vanilla' });
    const asked = drive(v, 6, { '0->2': 30, '0->4': 60, '0->6': 45 });
    expect(asked.every((q) => q.earlier === 0)).toBe(true);
    expect(v.reward).toBeCloseTo(0.45, 12);
    const b1 = new ProgressEstimator({ milestoneEvery: 4, checkEvery: 2, tau: 0.5, mode: 'binary' });
    drive(b1, 4, { '0->2': 30, '0->4': 60 });
    expect([b1.done, b1.reward]).toEqual([true, 1]);
    const b0 = new ProgressEstimator({ milestoneEvery: 4, checkEvery: 2, tau: 0.9, mode: 'binary' });
    drive(b0, 4, { '0->2': 30, '0->4': 60 });
    expect([b0.done, b0.reward]).toEqual([false, 0]);
  });

  it('rejects bad settings and out-of-order use with clear errors', () => {
    expect(() => new ProgressEstimator({ milestoneEvery: 4, checkEvery: 4 })).toThrow(/checkEvery must be an integer in \[1, milestoneEvery\)/);
    expect(() => new ProgressEstimator({ tau: 0 })).toThrow(/tau must be in \(0, 1\]/);
    const est = new ProgressEstimator({ milestoneEvery: 4, checkEvery: 2 });
    est.observe(0);
    est.observe(1);
    const q = est.observe(2)!;
    expect(() => est.observe(3)).toThrow(/has no answer yet/);
    expect(() => est.record(q, 120)).toThrow(/in \[-100, 100\]/);
    expect(() => est.record(q, Number.NaN)).toThrow(/finite number/);
    est.record(q, 10);
    expect(() => est.observe(2)).toThrow(/steps must increase/);
  });
});

describe('horizon schedule', () => {
  it('default stages grow linearly and the last stage holds past the end', () => {
    const s = defaultHorizonSchedule({ maxSteps: 120, iterations: 30, stages: 3 });
    expect(s).toEqual([
      { untilIteration: 10, maxSteps: 40 },
      { untilIteration: 20, maxSteps: 80 },
      { untilIteration: 30, maxSteps: 120 },
    ]);
    expect(horizonAt(s, 0)).toEqual({ stage: 0, maxSteps: 40 });
    expect(horizonAt(s, 9)).toEqual({ stage: 0, maxSteps: 40 });
    expect(horizonAt(s, 10)).toEqual({ stage: 1, maxSteps: 80 });
    expect(horizonAt(s, 99)).toEqual({ stage: 2, maxSteps: 120 });
    expect(constantHorizonSchedule({ maxSteps: 120, iterations: 30 })).toEqual([{ untilIteration: 30, maxSteps: 120 }]);
  });

  it('rejects schedules that shrink or do not advance', () => {
    expect(() => checkHorizonSchedule([])).toThrow(/at least one stage/);
    expect(() => checkHorizonSchedule([{ untilIteration: 5, maxSteps: 50 }, { untilIteration: 5, maxSteps: 60 }])).toThrow(/stage 1 untilIteration must be an integer above 5/);
    expect(() => checkHorizonSchedule([{ untilIteration: 5, maxSteps: 50 }, { untilIteration: 9, maxSteps: 40 }])).toThrow(/shortens the horizon/);
  });
});

describe('group-relative advantages and flow-policy weights', () => {
  it('normalizes within the group (population std) and gives zeros to a tied group', () => {
    const a = groupAdvantages([0, 1, 1, 0]);
    expect(a.map((x) => Number(x.toFixed(5)))).toEqual([-1, 1, 1, -1]);
    expect(groupAdvantages([0.3, 0.3, 0.3])).toEqual([0, 0, 0]);
    const r = [0.2, 0.9, 0.5, 0.4];
    const g = groupAdvantages(r);
    expect(g.reduce((s, x) => s + x, 0)).toBeCloseTo(0, 12);
    expect(g.reduce((s, x) => s + x * x, 0) / g.length).toBeCloseTo(1, 4);
    expect(() => groupAdvantages([1, Number.NaN])).toThrow(/reward 1 is NaN/);
  });

  it('advantage weights are exp(A / beta), clipped', () => {
    expect(advantageWeights([0, 1, 10], { beta: 1, maxWeight: 5 })).toEqual([1, Math.E, 5]);
    expect(advantageWeights([-2], { beta: 2 })[0]).toBeCloseTo(Math.exp(-1), 12);
  });

  it('FPO surrogate: ratio from CFM losses, clipping stops the gradient on the pessimistic side', () => {
    const inside = fpoSurrogate({ oldLoss: 0.3, newLoss: 0.25, advantage: 2, clip: 0.2 });
    expect(inside.ratio).toBeCloseTo(Math.exp(0.05), 12);
    expect(inside.clipped).toBe(false);
    expect(inside.loss).toBeCloseTo(-Math.exp(0.05) * 2, 12);
    expect(inside.dLossDNewLoss).toBeCloseTo(Math.exp(0.05) * 2, 12);
    // Ratio 1.65 with positive advantage: clipped at 1.2, no gradient.
    const above = fpoSurrogate({ oldLoss: 0.5, newLoss: 0, advantage: 1, clip: 0.2 });
    expect(above.clipped).toBe(true);
    expect(above.loss).toBeCloseTo(-1.2, 12);
    expect(above.dLossDNewLoss).toBe(0);
    // Ratio 1.65 with negative advantage: the unclipped term is the pessimistic one, gradient flows.
    const belowAdv = fpoSurrogate({ oldLoss: 0.5, newLoss: 0, advantage: -1, clip: 0.2 });
    expect(belowAdv.clipped).toBe(false);
    expect(belowAdv.loss).toBeCloseTo(Math.exp(0.5), 12);
  });
});

describe('ground-truth task progress', () => {
  it('starts near 0, rises through a scripted expert episode and ends at 100 when it succeeds', async () => {
    const { TabletopEnv } = await import('../lib/tabletop/env.js');
    const { ScriptedExpert } = await import('../lib/tabletop/expert.js');
    const { taskProgress } = await import('../lib/evolve/task-progress.js');
    const env = await TabletopEnv.create({ images: false });
    const episode = { task: 'carrot-on-plate', configuration: 3, seed: 11 };
    env.reset(episode);
    const start = env.privileged();
    const expert = new ScriptedExpert(episode.seed);
    const curve = [taskProgress(start, start)];
    let done = false;
    for (let t = 0; t < 200 && !done; t++) {
      const r = env.step(expert.act(env.privileged()));
      curve.push(taskProgress(env.privileged(), start));
      done = r.done;
    }
    const success = env.outcome().success;
    env.dispose();
    expect(curve[0]!).toBeLessThan(5);
    expect(success).toBe(true);
    expect(curve.at(-1)).toBe(100);
    // Mostly rising: the halfway point is above a quarter, and the curve passes 50 before the end.
    expect(curve[Math.floor(curve.length / 2)]!).toBeGreaterThan(25);
    expect(curve.findIndex((p) => p > 50)).toBeGreaterThan(0);
    for (const p of curve) expect(p).toBeGreaterThanOrEqual(0);
  }, 60_000);
});
