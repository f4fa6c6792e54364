// Determinism on CPU: the same seeds give bitwise identical results, across separately created
// policies, sync and async calls, and native thread counts; a different seed gives different
// results (so each comparison can fail). Covers act, the trainStep loss sequence and
// optimizePrompt.
import { afterAll, describe, expect, it } from 'vitest';

import { cpuInfo, Normalization, optimizePrompt, Policy, setNumThreads, Tokenizer, TrajectoryBuffer, type DemoEpisode, type PolicyObservation, type PresetName } from '../lib/index.js';

const INSTRUCTIONS = ['put the carrot on the plate', 'stack the green cube on the yellow cube'];
const tokenizer = Tokenizer.fromTexts(INSTRUCTIONS);
const threadsAtStart = cpuInfo().threads;

afterAll(() => setNumThreads(threadsAtStart));

/** The bytes of a float array, so that -0 vs 0 and NaN payloads count as differences too. */
function bits(a: Float32Array | Float64Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

function observations(policy: Policy, B: number): PolicyObservation[] {
  const S = policy.config.image_size;
  return Array.from({ length: B }, (_, k) => ({
    image: { width: S, height: S, data: Uint8Array.from({ length: S * S * 3 }, (_, i) => (i * 7 + k * 29) & 255) },
    instruction: INSTRUCTIONS[k % 2]!,
    state: [0.1 * k, -0.05 * k, 0.2, 0.04],
    embodimentId: k % policy.config.num_embodiments,
  }));
}

function actBits(preset: PresetName, policySeed: number, actSeed: number): string {
  const policy = Policy.create({ preset, tokenizer, seed: policySeed });
  return bits(policy.act(observations(policy, 3), { seed: actSeed }).data);
}

function trainLosses(policySeed: number, flowSeed: number, steps: number): { losses: number[]; params: string } {
  const policy = Policy.create({ preset: 'tiny', tokenizer, seed: policySeed });
  const B = 4;
  const batch = policy.pack(observations(policy, B));
  const actions = Float32Array.from({ length: B * policy.config.horizon * policy.config.action_dim }, (_, i) => Math.sin(i));
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) losses.push(policy.trainStep({ observations: batch, actions }, { lr: 3e-3, seed: flowSeed, step: s, dropProbability: 0.3 }).total);
  return { losses, params: bits(policy.getParams()) };
}

function trajectory(index: number, S: number): DemoEpisode {
  const steps = 5;
  return {
    task: 'carrot-on-plate',
    instruction: INSTRUCTIONS[0]!,
    episodeIndex: index,
    configuration: 0,
    seed: index,
    embodimentId: index % 2,
    success: index % 2 === 0,
    stageSuccess: [index % 2 === 0],
    state: Float32Array.from({ length: steps * 4 }, (_, i) => Math.cos(i + index)),
    action: new Float32Array(steps * 7),
    image: Uint8Array.from({ length: steps * S * S * 3 }, (_, i) => (i * 3 + index) & 255),
  };
}

async function promptRun(seed: number): Promise<{ curve: number[]; prompts: string[] }> {
  const policy = Policy.create({ preset: 'tiny', tokenizer, seed: 5 });
  const S = policy.config.image_size;
  const buffer = new TrajectoryBuffer({ capacity: 8, imageSize: { width: S, height: S } });
  for (let i = 0; i < 4; i++) buffer.add(trajectory(i, S));
  const normalization = new Normalization({ mean: [0, 0, 0, 0], std: [1, 1, 1, 1] }, { mean: new Array<number>(7).fill(0), std: new Array<number>(7).fill(1) });
  const r = await optimizePrompt(policy, normalization, buffer, { steps: 12, batch: 6, lr: 1e-2, seed });
  return { curve: r.lossCurve.map((p) => p.loss), prompts: [bits(policy.getPrompt(0)), bits(policy.getPrompt(1))] };
}

describe('determinism on CPU', () => {
  it('creates bitwise identical weights from the same seed', () => {
    const a = Policy.create({ preset: 'small', tokenizer, seed: 11 });
    const b = Policy.create({ preset: 'small', tokenizer, seed: 11 });
    const c = Policy.create({ preset: 'small', tokenizer, seed: 12 });
    expect(bits(b.getParams())).toBe(bits(a.getParams()));
    expect(bits(c.getParams())).not.toBe(bits(a.getParams()));
  });

  for (const preset of ['tiny', 'small'] as const) {
    it(`acts bitwise identically from the same seeds (${preset}), on separate policies and any thread count`, async () => {
      const reference = actBits(preset, 1, 7);
      expect(actBits(preset, 1, 7)).toBe(reference);
      expect(actBits(preset, 1, 8)).not.toBe(reference);
      expect(actBits(preset, 2, 7)).not.toBe(reference);
      const policy = Policy.create({ preset, tokenizer, seed: 1 });
      expect(bits((await policy.actAsync(observations(policy, 3), { seed: 7 })).data)).toBe(reference);
      for (const threads of [1, 2]) {
        setNumThreads(threads);
        expect(actBits(preset, 1, 7), `${threads} thread(s)`).toBe(reference);
      }
      setNumThreads(threadsAtStart);
    });
  }

  it('repeats the trainStep loss sequence and the trained weights exactly', () => {
    const a = trainLosses(3, 9, 8);
    const b = trainLosses(3, 9, 8);
    expect(b.losses).toEqual(a.losses);
    expect(b.params).toBe(a.params);
    for (const l of a.losses) expect(Number.isFinite(l)).toBe(true);
    const otherDraws = trainLosses(3, 10, 8);
    expect(otherDraws.losses).not.toEqual(a.losses);
    setNumThreads(1);
    const oneThread = trainLosses(3, 9, 8);
    setNumThreads(threadsAtStart);
    expect(oneThread.losses).toEqual(a.losses);
    expect(oneThread.params).toBe(a.params);
  });

  it('repeats optimizePrompt exactly: loss curve and adapted prompts', async () => {
    const a = await promptRun(4);
    const b = await promptRun(4);
    expect(b.curve).toEqual(a.curve);
    expect(b.prompts).toEqual(a.prompts);
    const other = await promptRun(5);
    expect(other.curve).not.toEqual(a.curve);
    expect(other.prompts).not.toEqual(a.prompts);
  });
});
