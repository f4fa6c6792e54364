// Test-time training pieces: the trajectory buffer (ring, sampling, save/load) and latent prompt
// optimization (the loss falls, only the touched prompt block moves, it stops when asked).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { Adapter } from '../lib/adapt/adapter.js';
import { optimizePrompt } from '../lib/adapt/latent-prompt.js';
import { TrajectoryBuffer } from '../lib/adapt/trajectory-buffer.js';
import { Policy } from '../lib/model/policy.js';
import { Tokenizer } from '../lib/model/tokenizer.js';
import type { DemoEpisode } from '../lib/tabletop/dataset.js';
import { Normalization } from '../lib/train/normalization.js';
import { Rng } from '../lib/util/random.js';

const S = 16;
const tokenizer = Tokenizer.fromTexts(['put the carrot on the plate', 'stack the green cube on the yellow cube']);

/** A synthetic trajectory whose frames and states follow from (index, step), so samples can be traced back. */
function trajectory(index: number, steps: number, task = 'carrot-on-plate', embodimentId = 0): DemoEpisode {
  const image = new Uint8Array(steps * S * S * 3);
  const state = new Float32Array(steps * 4);
  for (let t = 0; t < steps; t++) {
    image.fill((index * 16 + t) % 256, t * S * S * 3, (t + 1) * S * S * 3);
    state.set([index, t, 0.1 * t, 0.04], t * 4);
  }
  return {
    task,
    instruction: task === 'carrot-on-plate' ? 'put the carrot on the plate' : 'stack the green cube on the yellow cube',
    episodeIndex: index,
    configuration: index % 24,
    seed: 1000 + index,
    embodimentId,
    success: index % 2 === 0,
    stageSuccess: [index % 2 === 0],
    state,
    action: new Float32Array(steps * 7),
    image,
  };
}

const identity = Normalization.fromJSON(JSON.stringify({ state: { mean: [0, 0, 0, 0], std: [1, 1, 1, 1] }, action: { mean: [0, 0, 0, 0, 0, 0, 0], std: [1, 1, 1, 1, 1, 1, 1] } }), 'test');

describe('TrajectoryBuffer', () => {
  const policy = Policy.create({ preset: 'tiny', tokenizer, seed: 1 });

  it('keeps the newest trajectories up to its capacity, oldest first', () => {
    const buffer = new TrajectoryBuffer({ capacity: 3, imageSize: { width: S, height: S } });
    for (let i = 0; i < 5; i++) buffer.add(trajectory(i, 2 + i));
    expect(buffer.size).toBe(3);
    expect(buffer.totalAdded).toBe(5);
    expect(buffer.trajectories().map((e) => e.episodeIndex)).toEqual([2, 3, 4]);
    expect(buffer.transitions).toBe(4 + 5 + 6);
  });

  it('samples transitions with their own frame, state, instruction and embodiment; filters by task', () => {
    const buffer = new TrajectoryBuffer({ capacity: 10, imageSize: { width: S, height: S } });
    buffer.add(trajectory(1, 4));
    buffer.add(trajectory(2, 3, 'stack-cube', 1));
    const batch = buffer.sample(64, new Rng(3), { policy, normalization: identity });
    const frame = S * S * 3;
    const seen = new Set<number>();
    for (let b = 0; b < 64; b++) {
      const [index, t] = [batch.state[b * 4]!, batch.state[b * 4 + 1]!];
      seen.add(index);
      expect(batch.images![b * frame]).toBe((index * 16 + t) % 256);
      expect(batch.images![(b + 1) * frame - 1]).toBe((index * 16 + t) % 256);
      expect(batch.embodiment[b]).toBe(index === 2 ? 1 : 0);
      const text = Array.from(batch.text.subarray(b * policy.config.max_text_len, (b + 1) * policy.config.max_text_len));
      expect(text).toEqual(Array.from(policy.tokenizer.encode(index === 2 ? 'stack the green cube on the yellow cube' : 'put the carrot on the plate', policy.config.max_text_len)));
    }
    expect([...seen].sort()).toEqual([1, 2]);
    const onlyStack = buffer.sample(32, new Rng(4), { policy, normalization: identity, tasks: ['stack-cube'] });
    for (let b = 0; b < 32; b++) expect(onlyStack.state[b * 4]).toBe(2);
    // Same seed, same batch; a reused batch is refilled in place.
    const again = buffer.sample(64, new Rng(3), { policy, normalization: identity }, batch);
    expect(again).toBe(batch);
  });

  it('normalizes the state targets as in training', () => {
    const buffer = new TrajectoryBuffer({ capacity: 2, imageSize: { width: S, height: S } });
    buffer.add(trajectory(3, 2));
    const norm = Normalization.fromJSON(JSON.stringify({ state: { mean: [1, 0, 0, 0], std: [2, 1, 1, 1] }, action: { mean: [0, 0, 0, 0, 0, 0, 0], std: [1, 1, 1, 1, 1, 1, 1] } }), 'test');
    const batch = buffer.sample(4, new Rng(0), { policy, normalization: norm });
    for (let b = 0; b < 4; b++) expect(batch.state[b * 4]).toBeCloseTo((3 - 1) / 2, 6);
  });

  it('refuses bad input with errors that name the problem', () => {
    const buffer = new TrajectoryBuffer({ capacity: 2, imageSize: { width: S, height: S } });
    expect(() => new TrajectoryBuffer({ capacity: 0, imageSize: { width: S, height: S } })).toThrow(/capacity must be a positive integer/);
    expect(() => buffer.add({ ...trajectory(0, 2), image: null })).toThrow(/needs 2 frames of 16x16 RGB/);
    const bad = trajectory(0, 2);
    bad.state[5] = NaN;
    expect(() => buffer.add(bad)).toThrow(/state\[5\] is NaN/);
    expect(() => buffer.sample(4, new Rng(0), { policy, normalization: identity })).toThrow(/no transitions in the buffer/);
    buffer.add(trajectory(0, 2));
    expect(() => buffer.sample(4, new Rng(0), { policy, normalization: identity, tasks: ['spoon-on-towel'] })).toThrow(/no transitions of task\(s\) spoon-on-towel/);
    const big = new TrajectoryBuffer({ capacity: 2, imageSize: { width: 32, height: 32 } });
    big.add({ ...trajectory(0, 1), image: new Uint8Array(32 * 32 * 3) });
    expect(() => big.sample(4, new Rng(0), { policy, normalization: identity })).toThrow(/holds 32x32 frames but the policy takes 16x16/);
  });

  it('saves as a dataset folder and loads back the same trajectories', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'vla-ttt-buffer-')), 'buffer');
    const buffer = new TrajectoryBuffer({ capacity: 4, imageSize: { width: S, height: S } });
    for (let i = 0; i < 3; i++) buffer.add(trajectory(i, 3, i === 1 ? 'stack-cube' : 'carrot-on-plate'));
    await buffer.save(dir, { shift: 'camera', shiftSeed: 0, seed: 1 });
    const back = await TrajectoryBuffer.load(dir, { capacity: 4 });
    expect(back.trajectories().map((e) => [e.task, e.episodeIndex, e.success])).toEqual(buffer.trajectories().map((e) => [e.task, e.episodeIndex, e.success]));
    expect(Array.from(back.trajectories()[2]!.state)).toEqual(Array.from(buffer.trajectories()[2]!.state));
    expect(Array.from(back.trajectories()[1]!.image!)).toEqual(Array.from(buffer.trajectories()[1]!.image!));
    await expect(buffer.save(dir, { shift: 'camera', shiftSeed: 0, seed: 1 })).rejects.toThrow(/not empty/);
  });
});

describe('optimizePrompt', () => {
  function setup() {
    const policy = Policy.create({ preset: 'tiny', tokenizer, seed: 5 });
    const buffer = new TrajectoryBuffer({ capacity: 8, imageSize: { width: S, height: S } });
    for (let i = 0; i < 4; i++) buffer.add(trajectory(i, 5, 'carrot-on-plate', 1));
    return { policy, buffer };
  }

  it('lowers the state-grounding loss and moves only the prompt block of the buffer embodiment', async () => {
    const { policy, buffer } = setup();
    const before = policy.getParams();
    const r = await optimizePrompt(policy, identity, buffer, { steps: 120, batch: 16, lr: 1e-2, seed: 2 });
    expect(r.steps).toBe(120);
    expect(r.embodiments).toEqual([1]);
    const first = r.lossCurve.slice(0, 10).reduce((s, p) => s + p.loss, 0) / 10;
    const last = r.lossCurve.slice(-10).reduce((s, p) => s + p.loss, 0) / 10;
    expect(last).toBeLessThan(first * 0.9);
    expect(r.promptShift[1]).toBeGreaterThan(0);
    const after = policy.getParams();
    const prompt = policy.layout().find((p) => p.name === 'prompt')!;
    const block = policy.config.num_prompt_tokens * policy.config.backbone.width;
    let changedInBlock = 0;
    for (let i = 0; i < before.length; i++) {
      const inBlock = i >= prompt.offset + block && i < prompt.offset + 2 * block;
      if (before[i] !== after[i]) {
        expect(inBlock, `parameter ${i} changed outside embodiment 1's prompt block`).toBe(true);
        changedInBlock++;
      }
    }
    expect(changedInBlock).toBeGreaterThan(block / 2);
  }, 60_000);

  it('rolls the prompt back and stops when the loss is not finite', async () => {
    const { policy, buffer } = setup();
    const start = policy.getPrompt(1);
    // A near-zero state std makes the normalized targets overflow float32: the loss is not finite.
    const overflowing = Normalization.fromJSON(JSON.stringify({ state: { mean: [0, 0, 0, 0], std: [1e-20, 1e-20, 1e-20, 1e-20] }, action: { mean: [0, 0, 0, 0, 0, 0, 0], std: [1, 1, 1, 1, 1, 1, 1] } }), 'test');
    const r = await optimizePrompt(policy, overflowing, buffer, { steps: 20, batch: 8, lr: 1e-2, seed: 1 });
    expect(r.rolledBack).toMatchObject({ step: 1, reason: 'non-finite loss' });
    expect(r.steps).toBe(1);
    expect(Array.from(policy.getPrompt(1))).toEqual(Array.from(start));
    const ok = await optimizePrompt(policy, identity, buffer, { steps: 3, batch: 8, lr: 1e-2, seed: 1 });
    expect(ok.rolledBack).toBeUndefined();
    await expect(optimizePrompt(policy, identity, buffer, { steps: 3, explosionRatio: 0.5 })).rejects.toThrow(/explosionRatio must be 0 \(off\) or above 1/);
  });

  it('is reproducible from its seed, and stops between steps when aborted', async () => {
    const a = setup();
    const b = setup();
    await optimizePrompt(a.policy, identity, a.buffer, { steps: 5, batch: 8, seed: 9 });
    await optimizePrompt(b.policy, identity, b.buffer, { steps: 5, batch: 8, seed: 9 });
    expect(Array.from(a.policy.getPrompt(1))).toEqual(Array.from(b.policy.getPrompt(1)));
    const controller = new AbortController();
    const c = setup();
    const r = await optimizePrompt(c.policy, identity, c.buffer, { steps: 50, batch: 8, onProgress: (p) => p.step === 3 && controller.abort(), signal: controller.signal });
    expect(r.stopped).toBe(true);
    expect(r.steps).toBe(3);
    await expect(optimizePrompt(c.policy, identity, c.buffer, { lr: 2 })).rejects.toThrow(/lr must be in \(0, 1\)/);
  }, 60_000);
});

describe('Adapter', () => {
  function observationOf(ep: DemoEpisode, t: number) {
    return { image: { width: S, height: S, data: ep.image!.subarray(t * S * S * 3, (t + 1) * S * S * 3) }, instruction: ep.instruction, state: ep.state.subarray(t * 4, (t + 1) * 4), embodimentId: ep.embodimentId };
  }

  it('records episodes into its buffer, adapts a shadow copy while acting, and swaps the prompt at the next act', async () => {
    const policy = Policy.create({ preset: 'tiny', tokenizer, seed: 21 });
    const adapter = new Adapter(policy, identity, { capacity: 4, steps: 30, batch: 8, lr: 1e-2, seed: 1 });
    await expect(adapter.adapt()).rejects.toThrow(/buffer is empty/);
    for (let i = 0; i < 3; i++) {
      const ep = trajectory(i, 4);
      for (let t = 0; t < 4; t++) adapter.record(`ep${i}`, observationOf(ep, t), new Float32Array(7));
      adapter.endEpisode(`ep${i}`, { success: i === 0, task: 'carrot-on-plate' });
    }
    expect(adapter.buffer.size).toBe(3);
    expect(adapter.buffer.transitions).toBe(12);
    const before = policy.getPrompt(0);
    const obs = [observationOf(trajectory(0, 1), 0)];
    const running = adapter.adapt();
    expect(adapter.adapting).toBe(true);
    await expect(adapter.adapt()).rejects.toThrow(/already running/);
    // The loop keeps acting with the old prompt while the shadow adapts.
    let acts = 0;
    while (adapter.adapting) {
      await adapter.act(obs, { seed: 3 });
      acts++;
    }
    const report = await running;
    expect(acts).toBeGreaterThan(0);
    expect(report.steps).toBe(30);
    expect(report.trajectories).toBe(3);
    expect(Array.from(policy.getPrompt(0))).toEqual(Array.from(before)); // not swapped yet
    await adapter.act(obs, { seed: 3 });
    expect(adapter.swapCount).toBe(1);
    expect(Array.from(policy.getPrompt(0))).not.toEqual(Array.from(before));
    expect(() => adapter.record('x', { ...obs[0]!, image: null }, new Float32Array(7))).toThrow(/Adapter.record: episode 'x' observation has no image \(the policy needs 16x16 RGB frames\)/);
    expect(() => adapter.endEpisode('nope', { success: true })).toThrow(/no recorded steps for episode 'nope'/);
  }, 60_000);
});
