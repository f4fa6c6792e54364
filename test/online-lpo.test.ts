// Online latent prompt optimization: the stream order of the buffer, and each stabilizer doing
// what it claims (trust region bounds the distance, the anchor and the EMA shrink it, collapse
// detection resets, outliers are skipped), on the tiny preset.
import { describe, expect, it } from 'vitest';

import { OnlinePromptLearner, optimizePromptOnline } from '../lib/adapt/online-prompt-learner.js';
import { TrajectoryBuffer } from '../lib/adapt/trajectory-buffer.js';
import { Policy } from '../lib/model/policy.js';
import { Tokenizer } from '../lib/model/tokenizer.js';
import type { DemoEpisode } from '../lib/tabletop/dataset.js';
import { Normalization } from '../lib/train/normalization.js';

const S = 16;
const tokenizer = Tokenizer.fromTexts(['put the carrot on the plate']);
const identity = Normalization.fromJSON(JSON.stringify({ state: { mean: [0, 0, 0, 0], std: [1, 1, 1, 1] }, action: { mean: [0, 0, 0, 0, 0, 0, 0], std: [1, 1, 1, 1, 1, 1, 1] } }), 'test');

function trajectory(index: number, steps: number): DemoEpisode {
  const image = new Uint8Array(steps * S * S * 3);
  const state = new Float32Array(steps * 4);
  for (let t = 0; t < steps; t++) {
    for (let i = 0; i < S * S * 3; i++) image[t * S * S * 3 + i] = (index * 37 + t * 11 + i * 7) % 256;
    state.set([0.3 * index - 0.5, 0.2 * t - 0.4, 0.1 * t, 0.04], t * 4);
  }
  return { task: 'carrot-on-plate', instruction: 'put the carrot on the plate', episodeIndex: index, configuration: 0, seed: index, embodimentId: 0, success: true, stageSuccess: [true], state, action: new Float32Array(steps * 7), image };
}

function bufferOf(n: number, steps: number): TrajectoryBuffer {
  const b = new TrajectoryBuffer({ capacity: n, imageSize: { width: S, height: S } });
  for (let i = 0; i < n; i++) b.add(trajectory(i, steps));
  return b;
}

const distance = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((s, x, i) => s + (x - b[i]!) ** 2, 0));

async function shiftAfter(options: ConstructorParameters<typeof OnlinePromptLearner>[1], steps = 40) {
  const policy = Policy.create({ preset: 'tiny', tokenizer, seed: 5 });
  const p0 = policy.getPrompt(0);
  const buffer = bufferOf(4, 10);
  const stream = buffer.inOrder();
  const learner = new OnlinePromptLearner(policy, options);
  let batch;
  for (let s = 0; s < steps; s++) {
    const i = s % (stream.length / 2);
    batch = buffer.pack(stream.subarray(2 * i, 2 * i + 2), { policy, normalization: identity }, batch);
    await learner.step(batch);
  }
  return { policy, p0, learner, report: learner.report() };
}

describe('online prompt learner', () => {
  it('streams transitions in the order they happened', () => {
    const buffer = bufferOf(3, 2);
    expect(Array.from(buffer.inOrder())).toEqual([0, 0, 0, 1, 1, 0, 1, 1, 2, 0, 2, 1]);
    // A wrapped ring: trajectory 2 overwrote trajectory 0, so trajectory 1 now comes first.
    const wrapped = new TrajectoryBuffer({ capacity: 2, imageSize: { width: S, height: S } });
    for (let i = 0; i < 3; i++) wrapped.add(trajectory(i, 2));
    const order = wrapped.inOrder();
    const policy = Policy.create({ preset: 'tiny', tokenizer, seed: 5 });
    const packed = wrapped.pack(order, { policy, normalization: identity });
    const firstStates = [0, 1, 2, 3].map((b) => packed.state[b * 4]!);
    expect(firstStates.map((x) => Number(x.toFixed(6)))).toEqual([-0.2, -0.2, 0.1, 0.1]); // 0.3 * index - 0.5
  });

  it('naive learner moves the prompt; the trust region bounds it; anchor and EMA shrink it', async () => {
    const naive = await shiftAfter({ lr: 1e-2 });
    const naiveShift = naive.report.promptShift[0]!;
    expect(naiveShift).toBeGreaterThan(0);
    expect(naive.report.actingShift[0]).toBeCloseTo(naiveShift, 10);

    const radius = 0.01;
    const bounded = await shiftAfter({ lr: 1e-2, trustRadius: radius });
    const norm0 = Math.sqrt(Array.from(bounded.p0).reduce((s, x) => s + x * x, 0));
    expect(bounded.report.promptShift[0]!).toBeLessThanOrEqual(radius * norm0 * (1 + 1e-5));
    expect(bounded.report.promptShift[0]!).toBeLessThan(naiveShift);

    const anchored = await shiftAfter({ lr: 1e-2, anchor: 50 });
    expect(anchored.report.promptShift[0]!).toBeLessThan(naiveShift);

    const ema = await shiftAfter({ lr: 1e-2, emaDecay: 0.9 });
    expect(ema.report.actingShift[0]!).toBeLessThan(ema.report.promptShift[0]!);
    expect(distance(ema.learner.actingPrompt(0), ema.p0)).toBeCloseTo(ema.report.actingShift[0]!, 4);
  });

  it('collapse detection resets to the trained prompt; outliers are skipped', async () => {
    // A huge learning rate blows the loss up after the reference window.
    const collapsing = await shiftAfter({ lr: 0.5, collapseRatio: 1.5, collapseWindow: 5 }, 60);
    const free = await shiftAfter({ lr: 0.5 }, 60);
    expect(free.report.resets).toBe(0);
    expect(collapsing.report.resets).toBeGreaterThan(0);
    const skipping = await shiftAfter({ lr: 0.5, maxLossRatio: 1.2 }, 60);
    expect(skipping.report.skipped).toBeGreaterThan(0);
    expect(skipping.report.promptShift[0]!).toBeLessThan(free.report.promptShift[0]!);
  });

  it('rejects bad settings with the field named', () => {
    const policy = Policy.create({ preset: 'tiny', tokenizer, seed: 5 });
    expect(() => new OnlinePromptLearner(policy, { emaDecay: 1 })).toThrow(/emaDecay must be in \[0, 1\)/);
    expect(() => new OnlinePromptLearner(policy, { lr: 1e-2, anchor: 1000 })).toThrow(/lr \* anchor must be at most 1/);
    expect(() => new OnlinePromptLearner(policy, { collapseRatio: 0.5 })).toThrow(/collapseRatio must be 0 \(off\) or above 1/);
  });

  it('optimizePromptOnline leaves the acting prompt in the policy and reports the stream', async () => {
    const policy = Policy.create({ preset: 'tiny', tokenizer, seed: 5 });
    const p0 = policy.getPrompt(0);
    const buffer = bufferOf(3, 5);
    const r = await optimizePromptOnline(policy, identity, buffer, { lr: 1e-2, microBatch: 2, emaDecay: 0.5 });
    expect(r.steps).toBe(7); // floor(15 / 2)
    expect(r.online.steps).toBe(7);
    expect(r.promptShift[0]).toBeCloseTo(distance(policy.getPrompt(0), p0), 4);
    expect(r.promptShift[0]!).toBeGreaterThan(0);
  });
});

describe('critical-decision analysis', () => {
  it('finds the first step the robot states part, and the gripper phase there', async () => {
    const { firstDivergence, phaseAt } = await import('../lib/adapt/critical-decisions.js');
    const a = [[0, 0, 0.1, 0.08], [0, 0, 0.09, 0.08], [0, 0, 0.08, 0.02], [0, 0, 0.1, 0.02], [0, 0, 0.12, 0.08]];
    const same = a.map((s) => [...s]);
    expect(firstDivergence(a, same, 0.005, 0.005)).toEqual({ step: null, maxDistance: 0 });
    const b = a.map((s) => [...s]);
    b[3] = [0, 0.01, 0.1, 0.02];
    b[4] = [0, 0.02, 0.12, 0.08];
    expect(firstDivergence(a, b, 0.005, 0.005).step).toBe(3);
    expect(firstDivergence(a, b, 0.005, 0.005).maxDistance).toBeCloseTo(0.02, 12);
    const g = a.map((s) => [...s]);
    g[1]![3] = 0.07;
    expect(firstDivergence(a, g, 0.005, 0.005).step).toBe(1); // gripper alone
    expect(firstDivergence(a, a.slice(0, 3), 0.005, 0.005).step).toBe(3); // one run ended
    const gripper = a.map((s) => s[3]!);
    expect([0, 1, 2, 3, 4].map((t) => phaseAt(gripper, t, 0.05))).toEqual(['approach', 'approach', 'carrying', 'carrying', 'after-release']);
  });
});

describe('training metadata: untrained prompt blocks', () => {
  it('names the block an untrained embodiment should start from', async () => {
    const { promptSourceFor, trainedEmbodiments } = await import('../lib/model/training-metadata.js');
    const meta = (training?: unknown): { metadata: Record<string, string> } => ({ metadata: training === undefined ? {} : { training: JSON.stringify(training) } });
    const m = meta({ embodiments: { 0: 400, 1: 200, 3: 200 } });
    expect(trainedEmbodiments(m)).toEqual(new Map([[0, 400], [1, 200], [3, 200]]));
    expect(promptSourceFor(m, 2)).toBe(0);
    expect(promptSourceFor(m, 1)).toBeNull();
    expect(promptSourceFor(meta({ variant: 'sglp' }), 2)).toBeNull(); // older checkpoints do not say
    expect(promptSourceFor(meta(), 2)).toBeNull();
    expect(promptSourceFor({ metadata: { training: '{not json' } }, 2)).toBeNull();
  });
});

describe('divergence summary', () => {
  it('counts phases for all and for flipped episodes, and takes the median first divergence', async () => {
    const { summarizeDivergence } = await import('../lib/adapt/critical-decisions.js');
    const ep = (firstDivergence: number | null, phase: 'approach' | 'carrying' | null, successA: boolean, successB: boolean) =>
      ({ task: 't', episodeIndex: 0, configuration: 0, seed: 0, successA, successB, steps: 10, firstDivergence, phase, maxDistance: 0 });
    const s = summarizeDivergence([ep(2, 'approach', true, false), ep(7, 'carrying', true, true), ep(null, null, false, false), ep(4, 'approach', false, true)]);
    expect(s).toEqual({ episodes: 4, parted: 3, byPhase: { approach: 2, carrying: 1, 'after-release': 0, never: 1 }, flippedByPhase: { approach: 2, carrying: 0, 'after-release': 0, never: 0 }, medianFirstDivergence: 4 });
  });
});
