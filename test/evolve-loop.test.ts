// The evolve loop end to end on a tiny random policy: groups share their initial state but not
// their noise, episodes end at the stage horizon or when the estimator says done, advantages
// are group-relative, and the update moves only the chosen parameters. Also the rollout's
// early-end request and the controller's per-episode noise.
import { describe, expect, it } from 'vitest';

import { runEvolve } from '../lib/evolve/evolve-loop.js';
import { ProgressCritic } from '../lib/evolve/progress-critic.js';
import { Policy } from '../lib/model/policy.js';
import { PolicyController } from '../lib/tabletop/policy-controller.js';
import { planEpisodes, runRollouts } from '../lib/tabletop/rollout.js';
import { benchmarkTokenizer } from '../lib/tabletop/vocabulary.js';
import { Normalization } from '../lib/train/normalization.js';

const identity = Normalization.fromJSON(JSON.stringify({ state: { mean: [0, 0, 0, 0], std: [1, 1, 1, 1] }, action: { mean: [0, 0, 0, 0, 0, 0, 0], std: [0.3, 0.3, 0.3, 0.1, 0.1, 0.1, 1] } }), 'test');

function slices(policy: Policy): Map<string, Float64Array> {
  const params = policy.getParams();
  const by = new Map<string, number[]>();
  for (const p of policy.layout()) {
    const list = by.get(p.group) ?? [];
    for (let i = 0; i < p.size; i++) list.push(params[p.offset + i]!);
    by.set(p.group, list);
  }
  return new Map([...by].map(([g, v]) => [g, Float64Array.from(v)]));
}

describe('rollouts that end early', () => {
  it('ends an episode when shouldEnd says so, without acting, and reports its steps', async () => {
    const r = await runRollouts({
      policy: 'expert',
      episodes: planEpisodes(['carrot-on-plate'], 2, 3),
      workers: 1,
      render: false,
      progress: true,
      shouldEnd: (e) => e.step >= (e.episodeIndex === 0 ? 5 : 9),
    });
    expect(r.episodes.map((e) => e.steps)).toEqual([5, 9]);
    expect(r.episodes.every((e) => e.endedEarly)).toBe(true);
    expect(r.envSteps).toBe(14);
    expect(r.episodes.every((e) => e.finalProgress! >= 0 && e.finalProgress! < 100)).toBe(true);
  });
});

describe('controller noise per episode', () => {
  it('gives episodes of one initial state different chunks only when asked', async () => {
    const policy = Policy.create({ preset: 'tiny', tokenizer: benchmarkTokenizer(), seed: 2 });
    const base = planEpisodes(['carrot-on-plate'], 1, 4)[0]!;
    const twins = [base, { ...base, episodeIndex: 1 }];
    const chunksOf = async (noisePerEpisode: boolean) => {
      const seen: Float32Array[] = [];
      const c = new PolicyController(policy, identity, { noisePerEpisode, onChunk: (x) => x.episode.step === 0 && seen.push(x.actions) });
      await runRollouts({ policy: c.batchPolicy, episodes: twins, workers: 1, imageSize: { width: 16, height: 16 }, shouldEnd: (e) => e.step >= 1 });
      return seen;
    };
    const same = await chunksOf(false);
    expect(Array.from(same[0]!)).toEqual(Array.from(same[1]!));
    const differ = await chunksOf(true);
    expect(Array.from(differ[0]!)).not.toEqual(Array.from(differ[1]!));
  });
});

describe('runEvolve', () => {
  it('runs groups with the oracle critic and caps them at the stage horizon', async () => {
    const policy = Policy.create({ preset: 'tiny', tokenizer: benchmarkTokenizer(), seed: 3 });
    const before = slices(policy);
    const its: number[] = [];
    const r = await runEvolve({
      policy, normalization: identity, critic: 'oracle', tasks: ['carrot-on-plate'], iterations: 2, groupSize: 3, seed: 1, workers: 1,
      horizon: [{ untilIteration: 1, maxSteps: 6 }, { untilIteration: 2, maxSteps: 10 }],
      update: { params: 'prompt', lr: 1e-2, batch: 8 },
      onIteration: (it) => void its.push(it.iteration),
    });
    expect(its).toEqual([0, 1]);
    const [a, b] = r.iterations;
    expect(a!.maxSteps).toBe(6);
    expect(b!.maxSteps).toBe(10);
    expect(a!.episodes.every((e) => e.steps <= 6)).toBe(true);
    expect(b!.episodes.every((e) => e.steps <= 10)).toBe(true);
    for (const it of r.iterations) {
      expect(it.episodes.length).toBe(3);
      // One initial state per group.
      expect(new Set(it.episodes.map((e) => `${e.configuration}/${e.seed}`)).size).toBe(1);
      const sum = it.episodes.reduce((s, e) => s + e.advantage, 0);
      expect(Math.abs(sum)).toBeLessThan(1e-6);
      expect(it.criticCalls).toBeGreaterThan(0);
      expect(it.rewardHacking).toBeLessThanOrEqual(it.criticDone);
      // Oracle rewards are the accumulated ground-truth progress (up to the estimator's points).
      for (const e of it.episodes) expect(e.reward).toBeGreaterThanOrEqual(-1);
    }
    // Tied groups (a random policy often makes no progress at all) carry no update.
    for (const it of r.iterations) expect(it.updateSteps === 0).toBe(it.tiedGroups === 1);
  });

  it('moves only the chosen parameters (prompt only, with a learned critic)', async () => {
    const policy = Policy.create({ preset: 'tiny', tokenizer: benchmarkTokenizer(), seed: 3 });
    const critic = ProgressCritic.create({ preset: 'critic-tiny', vocabulary: benchmarkTokenizer().vocabulary, seed: 0 });
    const before = slices(policy);
    const r = await runEvolve({
      policy, normalization: identity, critic, tasks: ['carrot-on-plate'], iterations: 1, groupSize: 3, seed: 1, workers: 1,
      horizon: [{ untilIteration: 1, maxSteps: 9 }], update: { params: 'prompt', lr: 1e-2, batch: 8, weighting: 'positive' },
    });
    // Positive weighting imitates only the rollouts above their group's mean.
    const above = r.iterations[0]!.episodes.filter((e) => e.advantage > 0).length;
    expect(above).toBeGreaterThan(0);
    expect(above).toBeLessThan(3);
    expect(r.iterations[0]!.updateSteps).toBeGreaterThan(0);
    expect(r.iterations[0]!.samples).toBeGreaterThan(0);
    const after = slices(policy);
    expect(Array.from(after.get('prompt')!)).not.toEqual(Array.from(before.get('prompt')!));
    for (const g of ['embed', 'backbone', 'action', 'state']) {
      expect(after.get(g)!.length).toBeGreaterThan(0);
      expect(Array.from(after.get(g)!)).toEqual(Array.from(before.get(g)!));
    }
  });

  it('takes FPO steps (clipped ratios counted) and moves only the chosen parameters', async () => {
    const policy = Policy.create({ preset: 'tiny', tokenizer: benchmarkTokenizer(), seed: 4 });
    const critic = ProgressCritic.create({ preset: 'critic-tiny', vocabulary: benchmarkTokenizer().vocabulary, seed: 1 });
    const before = slices(policy);
    const r = await runEvolve({
      policy, normalization: identity, critic, tasks: ['carrot-on-plate'], iterations: 1, groupSize: 3, seed: 2, workers: 1,
      horizon: [{ untilIteration: 1, maxSteps: 9 }], update: { method: 'fpo', params: 'action', lr: 1e-2, batch: 4, epochs: 3, fpoDraws: 2 },
    });
    const it = r.iterations[0]!;
    expect(it.updateSteps).toBeGreaterThan(1);
    expect(it.clippedFraction).not.toBeNull();
    expect(it.clippedFraction!).toBeGreaterThanOrEqual(0);
    expect(it.clippedFraction!).toBeLessThan(1); // the first minibatch has rho = 1 exactly: never clipped
    const after = slices(policy);
    expect(Array.from(after.get('action')!)).not.toEqual(Array.from(before.get('action')!));
    for (const g of ['embed', 'backbone', 'prompt', 'state']) expect(Array.from(after.get(g)!)).toEqual(Array.from(before.get(g)!));
    await expect(runEvolve({ policy, normalization: identity, critic, tasks: ['carrot-on-plate'], iterations: 1, seed: 0, update: { method: 'ppo' as 'fpo' } })).rejects.toThrow(/method must be 'awr' or 'fpo'/);
  });

  it('anchor 1 pulls every trained weight back to its start after each step; anchor 0.5 keeps them nearer', async () => {
    const critic = ProgressCritic.create({ preset: 'critic-tiny', vocabulary: benchmarkTokenizer().vocabulary, seed: 1 });
    const moved = async (anchor: number) => {
      const policy = Policy.create({ preset: 'tiny', tokenizer: benchmarkTokenizer(), seed: 4 });
      const start = Array.from(slices(policy).get('action')!);
      const r = await runEvolve({
        policy, normalization: identity, critic, tasks: ['carrot-on-plate'], iterations: 1, groupSize: 3, seed: 2, workers: 1,
        horizon: [{ untilIteration: 1, maxSteps: 9 }], update: { params: 'action', lr: 1e-2, batch: 4, epochs: 2, anchor },
      });
      expect(r.iterations[0]!.updateSteps).toBeGreaterThan(1);
      const now = Array.from(slices(policy).get('action')!);
      return Math.sqrt(now.reduce((s, v, i) => s + (v - start[i]!) ** 2, 0));
    };
    expect(await moved(1)).toBeLessThan(1e-5);
    const free = await moved(0);
    const half = await moved(0.5);
    expect(free).toBeGreaterThan(0);
    expect(half).toBeLessThan(free);
    const policy = Policy.create({ preset: 'tiny', tokenizer: benchmarkTokenizer(), seed: 4 });
    await expect(runEvolve({ policy, normalization: identity, critic: 'oracle', tasks: ['carrot-on-plate'], iterations: 1, seed: 0, update: { anchor: 2 } })).rejects.toThrow(/anchor must be in \[0, 1\]/);
  });

  it('scores with a learned critic and rejects bad settings by name', async () => {
    const policy = Policy.create({ preset: 'tiny', tokenizer: benchmarkTokenizer(), seed: 3 });
    const critic = ProgressCritic.create({ preset: 'critic-tiny', vocabulary: benchmarkTokenizer().vocabulary, seed: 0 });
    const r = await runEvolve({ policy, normalization: identity, critic, tasks: ['stack-cube'], iterations: 1, groupSize: 2, seed: 2, workers: 1, horizon: [{ untilIteration: 1, maxSteps: 9 }], update: { params: 'action' } });
    expect(r.iterations[0]!.criticCalls).toBeGreaterThan(0);
    const base = { policy, normalization: identity, critic: 'oracle' as const, tasks: ['stack-cube'], seed: 0 };
    await expect(runEvolve({ ...base, iterations: 0 })).rejects.toThrow(/iterations must be a positive integer/);
    await expect(runEvolve({ ...base, iterations: 1, groupSize: 1 })).rejects.toThrow(/groupSize must be an integer >= 2/);
    await expect(runEvolve({ ...base, iterations: 1, tasks: ['no-such-task'] })).rejects.toThrow(/no-such-task/);
    await expect(runEvolve({ ...base, iterations: 1, update: { lr: 5 } })).rejects.toThrow(/lr must be in/);
    await expect(runEvolve({ ...base, iterations: 1, update: { weighting: 'softmax' as 'exp' } })).rejects.toThrow(/weighting must be 'exp' or 'positive'/);
    const baseline = Policy.create({ preset: 'tiny', tokenizer: benchmarkTokenizer(), seed: 3, config: { use_prompt: false, use_state_expert: false } });
    await expect(runEvolve({ ...base, policy: baseline, iterations: 1, update: { params: 'prompt' } })).rejects.toThrow(/no latent prompt/);
  });
});
