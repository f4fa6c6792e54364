// The pairwise progress critic through the TypeScript API: scores (shape, range, frame order),
// training on a fixed set of pairs, checkpoints, clones, async calls and typed errors for bad
// input. The gradients themselves are checked in float64 by the native tests (test_progress.cc).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { expectRowError, type ErrorRow } from './helpers/error-rows.js';

import {
  ArgumentError,
  DTypeError,
  fromNativeError,
  Policy,
  ProgressCritic,
  RangeValueError,
  ShapeError,
  Tensor,
  Tokenizer,
  UnsupportedError,
  type CriticBatch,
  type CriticPair,
} from '../lib/index.js';
import { addon } from '../lib/native/loader.js';

const texts = ['put the carrot on the plate', 'stack the green cube on the yellow cube', 'put the eggplant in the basket'];
const tokenizer = Tokenizer.fromTexts(texts);
const vocabulary = tokenizer.vocabulary;

/** B pairs of random frames (seeded), instructions cycling through `texts`. */
function pairs(S: number, B: number, seed: number): CriticPair[] {
  const frame = S * S * 3;
  const px = Tensor.rand([B * 2 * frame], { seed, scale: 255 }).data;
  const bytes = Uint8Array.from(px, (v) => Math.floor(v));
  return Array.from({ length: B }, (_, b) => ({
    before: bytes.slice(2 * b * frame, (2 * b + 1) * frame),
    after: bytes.slice((2 * b + 1) * frame, (2 * b + 2) * frame),
    instruction: texts[b % texts.length]!,
  }));
}

function tinyCritic(seed: number, dtype: 'float32' | 'float64' = 'float32'): ProgressCritic {
  return ProgressCritic.create({ preset: 'critic-tiny', vocabulary, seed, dtype });
}

describe('ProgressCritic', () => {
  it('scores pairs: one value per pair in [-100, 100], packed or not, and the frame order matters', () => {
    const critic = tinyCritic(1);
    expect(critic.config.head).toBe('progress');
    expect(critic.config.frames).toBe(2);
    expect(critic.imageSize).toBe(16);
    expect(critic.numParams).toBeGreaterThan(0);
    const ps = pairs(critic.imageSize, 5, 2);
    const c = critic.score(ps);
    expect(c).toBeInstanceOf(Float64Array);
    expect(c.length).toBe(5);
    for (const v of c) {
      expect(Number.isFinite(v)).toBe(true);
      expect(Math.abs(v)).toBeLessThanOrEqual(100);
    }
    const batch = critic.pack(ps);
    expect(batch.B).toBe(5);
    expect(batch.images.length).toBe(5 * 2 * 16 * 16 * 3);
    expect(batch.text.length).toBe(5 * critic.config.max_text_len);
    expect(Array.from(critic.score(batch))).toEqual(Array.from(c));
    // pack into a reused batch fills the same buffers.
    const again = critic.pack(ps, batch);
    expect(again).toBe(batch);
    const swapped = critic.score(ps.map((p) => ({ ...p, before: p.after, after: p.before })));
    for (let b = 0; b < 5; b++) expect(swapped[b]).not.toBe(c[b]);
    // The instruction is read too.
    const other = critic.score(ps.map((p) => ({ ...p, instruction: 'stack the yellow cube' })));
    expect(Array.from(other)).not.toEqual(Array.from(c));
  });

  it('async calls equal sync ones', async () => {
    const critic = tinyCritic(3);
    const twin = critic.clone();
    const batch = critic.pack(pairs(critic.imageSize, 4, 4));
    expect(Array.from(await critic.scoreAsync(batch))).toEqual(Array.from(critic.score(batch)));
    const targets = [10, -40, 90, 0];
    const a = critic.trainStep(batch, targets, { lr: 1e-3, weights: [1, 2, 0.5, 1] });
    const b = await twin.trainStepAsync(batch, targets, { lr: 1e-3, weights: [1, 2, 0.5, 1] });
    expect(b.loss).toBe(a.loss);
    expect(b.gradNorm).toBe(a.gradNorm);
    expect(b.clipped).toBe(a.clipped);
    expect(b.step).toBe(1);
    expect(Array.from(twin.getParams())).toEqual(Array.from(critic.getParams()));
    // While an async call runs, sync calls refuse instead of blocking.
    const pending = critic.trainStepAsync(batch, targets);
    expect(() => critic.score(batch)).toThrow(/busy with an asynchronous call/);
    await pending;
  });

  it('fits 8 pairs with targets across [-100, 100]: the loss falls 10x within a few hundred steps', () => {
    const critic = tinyCritic(5);
    const batch = critic.pack(pairs(critic.imageSize, 8, 6));
    const targets = [-100, -70, -30, -5, 10, 40, 75, 100];
    const first = critic.trainStep(batch, targets, { lr: 3e-3 });
    let last = first;
    let steps = 1;
    while (steps < 400 && last.loss > first.loss / 10) {
      last = critic.trainStep(batch, targets, { lr: 3e-3 });
      steps++;
    }
    expect(last.loss, `after ${steps} steps`).toBeLessThan(first.loss / 10);
    expect(last.step).toBe(steps);
    expect(last.perSample.length).toBe(8);
    const c = critic.score(batch);
    // The scores now follow the targets' order.
    for (let b = 1; b < 8; b++) expect(c[b]!).toBeGreaterThan(c[b - 1]! - 20);
  });

  it('saves and loads exactly (bitwise scores), keeps metadata, and resumes training exactly', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vla-critic-'));
    const critic = tinyCritic(7);
    const batch = critic.pack(pairs(critic.imageSize, 3, 8));
    const targets = [20, -20, 60];
    for (let s = 0; s < 3; s++) critic.trainStep(batch, targets, { lr: 1e-3 });
    const path = join(dir, 'critic.safetensors');
    critic.save(path, { note: 'critic' });
    const back = ProgressCritic.load(path);
    expect(back.metadata['note']).toBe('critic');
    expect(back.tokenizer.vocabulary).toEqual(vocabulary);
    expect(back.config).toEqual(critic.config);
    expect(Array.from(back.getParams())).toEqual(Array.from(critic.getParams()));
    expect(Array.from(back.score(batch))).toEqual(Array.from(critic.score(batch)));
    back.setOptimizerState(critic.getOptimizerState());
    critic.trainStep(batch, targets, { lr: 1e-3 });
    back.trainStep(batch, targets, { lr: 1e-3 });
    expect(Array.from(back.getParams())).toEqual(Array.from(critic.getParams()));
    expect(() => critic.save(join(dir, 'x.safetensors'), { vocab: 'no' })).toThrow(/ProgressCritic.save: metadata key 'vocab' is reserved/);
    expect(() => critic.save(join(dir, 'x.safetensors'), { format: 'no' })).toThrow(/reserved/);
  });

  it('clones are independent', () => {
    const critic = tinyCritic(9);
    const batch = critic.pack(pairs(critic.imageSize, 2, 10));
    const before = critic.score(batch);
    const copy = critic.clone();
    expect(Array.from(copy.score(batch))).toEqual(Array.from(before));
    for (let s = 0; s < 3; s++) copy.trainStep(batch, [50, -50], { lr: 1e-2 });
    expect(Array.from(copy.score(batch))).not.toEqual(Array.from(before));
    expect(Array.from(critic.score(batch))).toEqual(Array.from(before));
    expect(copy.getOptimizerState().step).toBe(3);
    expect(critic.getOptimizerState().step).toBe(0);
  });

  it('float64 critics score like float32 ones', () => {
    const c32 = tinyCritic(11);
    const c64 = tinyCritic(11, 'float64');
    c64.setParams(Float64Array.from(c32.getParams()));
    const batch = c32.pack(pairs(c32.imageSize, 3, 12));
    const a = c32.score(batch);
    const b = c64.score(batch);
    for (let i = 0; i < 3; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-3);
  });
});

describe('ProgressCritic and Policy refuse each other', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vla-critic-kinds-'));
  const critic = tinyCritic(13);
  const criticPath = join(dir, 'critic.safetensors');
  critic.save(criticPath);
  const policy = Policy.create({ preset: 'tiny', tokenizer, seed: 1 });
  const policyPath = join(dir, 'policy.safetensors');
  policy.save(policyPath);

  const S = critic.imageSize;
  const good = pairs(S, 2, 14);
  const batch = critic.pack(good);
  const rows: ErrorRow[] = [
    { what: 'a frame of the wrong size', call: () => critic.score([good[0]!, { ...good[1]!, after: new Uint8Array(10) }]), error: ShapeError, message: /pack: pair 1 after has 10 bytes; the critic takes 16x16 RGB frames \(768 bytes\)/ },
    { what: 'a frame that is not bytes', call: () => critic.pack([{ ...good[0]!, before: new Float32Array(768) as unknown as Uint8Array }]), error: DTypeError, message: /pack: pair 0 before is a Float32Array; expected a Uint8Array/ },
    { what: 'a missing frame', call: () => critic.pack([{ ...good[0]!, before: undefined as unknown as Uint8Array }]), error: ArgumentError, message: /pack: pair 0 has no 'before' frame/ },
    { what: 'a missing instruction', call: () => critic.pack([{ ...good[0]!, instruction: 3 as unknown as string }]), error: ArgumentError, message: /pack: pair 0 instruction must be a string/ },
    { what: 'no pairs', call: () => critic.score([]), error: ArgumentError, message: /pack: no pairs \(the batch is empty\)/ },
    { what: 'an empty batch', call: () => critic.score({ ...batch, B: 0 }), error: RangeValueError, message: /score: batch.B = 0 is not a positive integer/ },
    { what: 'batch images of the wrong length', call: () => critic.score({ ...batch, images: new Uint8Array(5) }), error: ShapeError, message: /progress: 'images' has 5 elements, expected batch \* frames \* 16 \* 16 \* 3 = 3072/ },
    { what: 'text ids outside the vocabulary', call: () => critic.score({ ...batch, text: new Int32Array(batch.text.length).fill(99) }), error: RangeValueError, message: /progress: text\[0, 0\] = 99 is outside the vocabulary/ },
    { what: 'a NaN target', call: () => critic.trainStep(batch, [1, NaN]), error: RangeValueError, message: /trainStep: targets\[1\] is NaN/ },
    { what: 'a target beyond 100', call: () => critic.trainStep(batch, [150, 0]), error: RangeValueError, message: /trainStep: targets\[0\] = 150 is not in \[-100, 100\]/ },
    { what: 'a target per pair', call: () => critic.trainStep(batch, [1, 2, 3]), error: ShapeError, message: /trainStep: targets has 3 values, expected one per pair \(B = 2\)/ },
    { what: 'a negative weight', call: () => critic.trainStep(batch, [1, 2], { weights: [1, -1] }), error: RangeValueError, message: /trainStep: weights\[1\] = -1 is not in \[0, Infinity\)/ },
    { what: 'all-zero weights', call: () => critic.trainStep(batch, [1, 2], { weights: [0, 0] }), error: RangeValueError, message: /trainStep: weights are all 0/ },
    { what: 'a negative learning rate', call: () => critic.trainStep(batch, [1, 2], { lr: -1 }), error: RangeValueError, message: /progressStep: 'lr' = -1 is not in/ },
    { what: 'a policy checkpoint loaded as a critic', call: () => ProgressCritic.load(policyPath), error: ArgumentError, message: /ProgressCritic.load\(.*policy.safetensors\): this is a policy \(head 'policy'\), not a progress critic; use Policy/ },
    { what: 'a critic checkpoint loaded as a policy', call: () => Policy.load(criticPath), error: ArgumentError, message: /Policy.load\(.*critic.safetensors\): this is a progress critic \(head 'progress'\), not a policy; use ProgressCritic/ },
    { what: 'a critic config given to Policy.create', call: () => Policy.create({ preset: 'critic-tiny' as 'tiny', tokenizer }), error: ArgumentError, message: /Policy.create: this is a progress critic/ },
    { what: 'several frames for the TS policy', call: () => Policy.create({ preset: 'tiny', tokenizer, config: { frames: 2 } }), error: UnsupportedError, message: /Policy.create: frames = 2 is not supported by the TypeScript Policy API yet/ },
    { what: 'a policy preset for the critic', call: () => ProgressCritic.create({ preset: 'tiny' as 'critic-tiny', vocabulary }), error: ArgumentError, message: /preset 'tiny' is not a critic preset/ },
    { what: 'three frames for the critic', call: () => ProgressCritic.create({ preset: 'critic-tiny', vocabulary, config: { frames: 3 } }), error: UnsupportedError, message: /frames = 3; ProgressCritic compares two frames/ },
    { what: 'a critic with a prompt', call: () => ProgressCritic.create({ preset: 'critic-tiny', vocabulary, config: { use_prompt: true } }), error: RangeValueError, message: /use_prompt = 1 violates use_prompt = false for a progress critic/ },
    { what: 'a vocabulary without the special words', call: () => ProgressCritic.create({ preset: 'critic-tiny', vocabulary: ['put', 'the'] }), error: ArgumentError, message: /vocabulary must start with '<pad>', '<unk>'/ },
  ];
  for (const row of rows) it(`rejects ${row.what}`, () => expectRowError(row));

  it('rejects bad input asynchronously too (a rejection, never a synchronous throw)', async () => {
    await expect(critic.scoreAsync([{ ...good[0]!, after: new Uint8Array(3) }])).rejects.toThrow(ShapeError);
    await expect(critic.trainStepAsync(batch, [0, 101])).rejects.toThrow(/targets\[1\] = 101/);
    await expect(critic.scoreAsync({ ...batch, text: new Int32Array(1) })).rejects.toThrow(/'text' has 1 elements/);
  });

  it('the native calls of each head fail on the other head with a typed error', () => {
    const native = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        throw fromNativeError(e);
      }
    };
    const Native = addon().NativePolicy;
    const p = new Native({ config: JSON.stringify(policy.config), seed: 0 });
    const c = new Native({ config: JSON.stringify(critic.config), seed: 0 });
    const obs: CriticBatch = batch;
    expect(() => native(() => p.progress({ batch: obs.B, images: obs.images, text: new Int32Array(obs.B * policy.config.max_text_len) }))).toThrow(
      /progress: this model is a policy \(head 'policy'\)/,
    );
    expect(() => native(() => c.act({ batch: 1, images: new Uint8Array(S * S * 6), text: new Int32Array(4), state: new Float32Array(4), embodiment: new Int32Array(1) }))).toThrow(
      /act: this model is a progress critic \(head 'progress'\)/,
    );
    expect(() => native(() => c.promptStep({ batch: 1, images: new Uint8Array(S * S * 6), text: new Int32Array(4), state: new Float32Array(4), embodiment: new Int32Array(1) }, {}))).toThrow(ArgumentError);
  });
});
