// The policy through the TypeScript API: acting, gradients (float64 finite differences through
// the whole model, per parameter group), checkpoints, training and prompt steps, errors.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { ArgumentError, Policy, RangeValueError, Tensor, Tokenizer, type ObservationBatch, type PolicyObservation } from '../lib/index.js';

import { observations, policyTokenizer } from './helpers/policy-inputs.js';

const require = createRequire(import.meta.url);
const tokenizer = policyTokenizer();

function flowTargets(policy: Policy, B: number, seed: number) {
  const c = policy.config;
  const n = B * c.horizon * c.action_dim;
  const dt = policy.dtype;
  const time = Tensor.rand([B], { seed, stream: 3, dtype: dt });
  const stime = Tensor.rand([B], { seed, stream: 6, dtype: dt });
  for (let i = 0; i < B; i++) {
    time.data[i] = 0.05 + 0.9 * time.data[i]!;
    stime.data[i] = 0.05 + 0.9 * stime.data[i]!;
  }
  return {
    actions: Tensor.randn([n], { seed, stream: 2, dtype: dt }).data,
    actionNoise: Tensor.randn([n], { seed, stream: 4, dtype: dt }).data,
    actionTime: time.data,
    stateNoise: Tensor.randn([B * c.state_dim], { seed, stream: 5, dtype: dt }).data,
    stateTime: stime.data,
  };
}

describe('Policy', () => {
  it('acts: chunk shapes, seeded noise, async equals sync', async () => {
    const policy = Policy.create({ preset: 'tiny', tokenizer, seed: 1 });
    const batch = policy.pack(observations(policy, 3, 7));
    const a = policy.act(batch, { seed: 5 });
    expect(a.data).toBeInstanceOf(Float32Array);
    expect(a.data.length).toBe(3 * policy.config.horizon * policy.config.action_dim);
    expect(a.action(2, 1).length).toBe(policy.config.action_dim);
    expect(Array.from(policy.act(batch, { seed: 5 }).data)).toEqual(Array.from(a.data));
    expect(Array.from(policy.act(batch, { seed: 6 }).data)).not.toEqual(Array.from(a.data));
    const b = await policy.actAsync(batch, { seed: 5 });
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
    for (const v of a.data) expect(Number.isFinite(v)).toBe(true);
  });

  it('gradients match float64 finite differences through the whole model, per group', () => {
    const policy = Policy.create({ preset: 'tiny', tokenizer, seed: 2, dtype: 'float64' });
    const B = 2;
    const batch = policy.pack(observations(policy, B, 11));
    const t = flowTargets(policy, B, 12);
    const layout = policy.layout();
    const check = (opts: { actionLoss: boolean; stateLoss: boolean; actionToPrompt?: boolean }, groups: string[], dropAll: boolean) => {
      const targets = { ...t, dropPrompt: new Uint8Array(B).fill(dropAll ? 1 : 0) };
      policy.lossAndGrads(batch, targets, { ...opts, groups: ['embed', 'prompt', 'backbone', 'action', 'state'] });
      const g = policy.getGrads();
      const params = policy.getParams();
      const loss = () => policy.lossAndGrads(batch, targets, { ...opts, grads: false }).total;
      let probes = 0;
      for (const p of layout.filter((x) => groups.includes(x.group))) {
        for (let k = 0; k < 2; k++) {
          const i = p.offset + ((k * 7919 + p.offset) % p.size);
          const saved = params[i]!;
          params[i] = saved + 1e-5;
          policy.setParams(params);
          const lp = loss();
          params[i] = saved - 1e-5;
          policy.setParams(params);
          const lm = loss();
          params[i] = saved;
          policy.setParams(params);
          const numeric = (lp - lm) / 2e-5;
          const analytic = g[i]!;
          expect(Math.abs(analytic - numeric), `${p.name}[${i - p.offset}] ${analytic} vs ${numeric}`).toBeLessThanOrEqual(1e-7 + 1e-5 * Math.max(Math.abs(analytic), Math.abs(numeric)));
          probes++;
        }
      }
      return probes;
    };
    expect(check({ actionLoss: true, stateLoss: false }, ['embed', 'backbone', 'action'], true)).toBeGreaterThan(50);
    expect(check({ actionLoss: false, stateLoss: true }, ['prompt', 'state'], false)).toBeGreaterThan(20);
    expect(check({ actionLoss: true, stateLoss: false, actionToPrompt: true }, ['prompt'], false)).toBe(2);
  });

  it('saves and loads checkpoints exactly, and rejects damaged files with a clear error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vla-ttt-policy-'));
    const policy = Policy.create({ preset: 'tiny', tokenizer, seed: 3 });
    const path = join(dir, 'p.safetensors');
    policy.save(path, { note: 'test' });
    const back = Policy.load(path);
    expect(back.metadata['note']).toBe('test');
    expect(back.tokenizer.vocabulary).toEqual(tokenizer.vocabulary);
    expect(Array.from(back.getParams())).toEqual(Array.from(policy.getParams()));
    const batch = policy.pack(observations(policy, 2, 4));
    expect(Array.from(back.act(batch, { seed: 1 }).data)).toEqual(Array.from(policy.act(batch, { seed: 1 }).data));
    const bytes = readFileSync(path);
    writeFileSync(join(dir, 'truncated.safetensors'), bytes.subarray(0, bytes.length - 10));
    expect(() => Policy.load(join(dir, 'truncated.safetensors'))).toThrow(RangeValueError);
    expect(() => Policy.load(join(dir, 'missing.safetensors'))).toThrow(/cannot open/);
    expect(() => policy.save(join(dir, 'x.safetensors'), { format: 'no' })).toThrow(/reserved/);
  });

  it('saves float16 weights for shipping: half the bytes, each weight within float16 rounding, same metadata', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vla-ttt-policy-f16-'));
    const policy = Policy.create({ preset: 'tiny', tokenizer, seed: 13 });
    const full = join(dir, 'full.safetensors');
    const half = join(dir, 'half.safetensors');
    policy.save(full, { note: 'f16' });
    policy.save(half, { note: 'f16' }, { weights: 'float16' });
    const fullBytes = readFileSync(full).length;
    const halfBytes = readFileSync(half).length;
    const weightBytes = policy.numParams * 4;
    // The weights shrink by half; the JSON headers differ by a few characters (dtype names, offsets).
    expect(Math.abs(fullBytes - halfBytes - weightBytes / 2)).toBeLessThan(2048);
    const back = Policy.load(half);
    expect(back.metadata['note']).toBe('f16');
    const a = policy.getParams();
    const b = back.getParams();
    let worst = 0;
    let changed = 0;
    for (let i = 0; i < a.length; i++) {
      // float16 keeps 11 significant bits: relative error <= 2^-11 for normals, 2^-25 absolute below.
      const err = Math.abs(a[i]! - b[i]!);
      worst = Math.max(worst, err / Math.max(Math.abs(a[i]!), 2 ** -14));
      if (err > 0) changed++;
    }
    expect(worst).toBeLessThanOrEqual(2 ** -11);
    expect(changed).toBeGreaterThan(a.length / 2);
    expect(() => policy.save(join(dir, 'bad.safetensors'), {}, { weights: 'bfloat16' as 'float16' })).toThrow(/float32' or 'float16/);
  });

  it('trains: loss falls on a fixed batch; prompt steps move only the batch embodiments prompt', () => {
    const policy = Policy.create({ preset: 'tiny', tokenizer, seed: 4 });
    const B = 4;
    const obs = policy.pack(observations(policy, B, 21));
    const actions = Tensor.randn([B * policy.config.horizon * policy.config.action_dim], { seed: 22, scale: 0.5 }).data;
    const first = policy.trainStep({ observations: obs, actions }, { lr: 3e-3, seed: 1, step: 0 });
    let last = first;
    for (let s = 1; s < 150; s++) last = policy.trainStep({ observations: obs, actions }, { lr: 3e-3, seed: 1, step: s % 4 });
    expect(last.step).toBe(150);
    expect(last.total).toBeLessThan(first.total * 0.7);

    policy.resetOptimizer();
    const one: ObservationBatch = policy.pack(observations(policy, 2, 23).map((o) => ({ ...o, embodimentId: 1 })));
    const before0 = policy.getPrompt(0);
    const before1 = policy.getPrompt(1);
    const params = policy.getParams();
    const r = policy.promptStep(one, { lr: 1e-2, seed: 0, step: 0 });
    expect(r.step).toBe(1);
    expect(Array.from(policy.getPrompt(0))).toEqual(Array.from(before0));
    expect(Array.from(policy.getPrompt(1))).not.toEqual(Array.from(before1));
    const after = policy.getParams();
    const prompt = policy.layout().find((p) => p.name === 'prompt')!;
    let changedOutside = 0;
    for (let i = 0; i < after.length; i++) if ((i < prompt.offset || i >= prompt.offset + prompt.size) && after[i] !== params[i]) changedOutside++;
    expect(changedOutside).toBe(0);
  });

  it('resumes training exactly from saved parameters and optimizer state', () => {
    const a = Policy.create({ preset: 'tiny', tokenizer, seed: 8 });
    const B = 2;
    const obs = a.pack(observations(a, B, 51));
    const actions = Tensor.randn([B * a.config.horizon * a.config.action_dim], { seed: 52 }).data;
    for (let s = 0; s < 3; s++) a.trainStep({ observations: obs, actions }, { lr: 1e-3, seed: 9, step: s });
    const b = Policy.create({ preset: 'tiny', tokenizer, seed: 99 });
    b.setParams(a.getParams());
    b.setOptimizerState(a.getOptimizerState());
    expect(b.optimizerStep).toBe(3);
    a.trainStep({ observations: obs, actions }, { lr: 1e-3, seed: 9, step: 3 });
    b.trainStep({ observations: obs, actions }, { lr: 1e-3, seed: 9, step: 3 });
    expect(Array.from(b.getParams())).toEqual(Array.from(a.getParams()));
    const bad = a.getOptimizerState();
    bad.v[0] = -1;
    expect(() => b.setOptimizerState(bad)).toThrow(/not finite \(or v < 0\)/);
  });

  it('keeps the event loop running during async steps, and refuses sync calls meanwhile', async () => {
    const policy = Policy.create({ preset: 'small', tokenizer, seed: 5 });
    const B = 16;
    const obs = policy.pack(observations(policy, B, 31));
    const actions = new Float32Array(B * policy.config.horizon * policy.config.action_dim);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const pending = policy.trainStepAsync({ observations: obs, actions }, { lr: 1e-4 });
    expect(() => policy.act(obs)).toThrow(/busy with an asynchronous call/);
    const r = await pending;
    clearInterval(timer);
    expect(Number.isFinite(r.total)).toBe(true);
    expect(ticks).toBeGreaterThan(0);
  });

  it('survives the addon being loaded and unloaded by a worker thread', async () => {
    // Each JS environment (main thread, worker threads) holds its own class data; a worker that
    // exits must not leave the main thread's NativePolicy pointing at freed memory.
    const { Worker } = await import('node:worker_threads');
    const code = `const ngb = require(${JSON.stringify(require.resolve('node-gyp-build'))}); const a = ngb(${JSON.stringify(process.cwd())});
      const cfg = a.NativePolicy.preset('tiny', 9); new a.NativePolicy({ config: cfg, seed: 1 }); require('node:worker_threads').parentPort.postMessage('ok');`;
    const worker = new Worker(code, { eval: true });
    await new Promise<void>((resolve, reject) => {
      worker.on('message', () => resolve());
      worker.on('error', reject);
    });
    await worker.terminate();
    const dir = mkdtempSync(join(tmpdir(), 'vla-ttt-worker-'));
    const p = Policy.create({ preset: 'tiny', tokenizer, seed: 9 });
    p.save(join(dir, 'w.safetensors'));
    expect(Policy.load(join(dir, 'w.safetensors')).numParams).toBe(p.numParams);
  });

  it('rejects bad input with errors that name the field', () => {
    const policy = Policy.create({ preset: 'tiny', tokenizer, seed: 6 });
    const obs = observations(policy, 2, 41);
    expect(() => policy.act([{ ...obs[0]!, image: { width: 8, height: 8, data: new Uint8Array(192) } }])).toThrow(/takes 16x16 RGB/);
    expect(() => policy.act([{ ...obs[0]!, image: null }])).toThrow(ArgumentError);
    expect(() => policy.act([{ ...obs[0]!, state: [1, 2, 3] }])).toThrow(/state has 3 numbers, expected 4/);
    expect(() => policy.act([{ ...obs[0]!, state: [1, NaN, 3, 4] }])).toThrow(/state\[1\] is NaN/);
    expect(() => policy.act([{ ...obs[0]!, embodimentId: 9 }])).toThrow(/observation 0 embodimentId 9 is not in \[0, 2\)/);
    const packed = policy.pack(obs);
    expect(() => policy.act({ ...packed, text: new Int32Array(3) })).toThrow(/'text' has 3 elements, expected batch \* max_text_len = 8/);
    expect(() => policy.act({ ...packed, state: new Float64Array(8) })).toThrow(/'state' must be a Float32Array/);
    expect(() => policy.trainStep({ observations: packed, actions: new Float32Array(5) })).toThrow(/'actions' has 5 elements/);
    expect(() => policy.trainStep({ observations: packed, actions: new Float32Array(2 * 3 * 7) }, { groups: ['nope' as never] })).toThrow(/unknown parameter group 'nope'/);
    expect(() => policy.trainStep({ observations: packed, actions: new Float32Array(2 * 3 * 7) }, { lr: -1 })).toThrow(/'lr' = -1 is not in/);
    expect(() => policy.setPrompt(0, [1, 2])).toThrow(/2 values, expected K \* width = 32/);
    expect(() => Policy.create({ preset: 'nope' as never, tokenizer })).toThrow(/unknown preset 'nope'/);
  });
});

describe('observation encodings', () => {
  it('come out of act for free and make prompt steps identical without recomputing observations', () => {
    const policy = Policy.create({ preset: 'tiny', tokenizer, seed: 10 });
    const twin = Policy.create({ preset: 'tiny', tokenizer, seed: 10 });
    const B = 3;
    const obs = policy.pack(observations(policy, B, 61));
    const encodingsOut = new Float32Array(B * policy.encodingSize);
    policy.act(obs, { seed: 1, encodingsOut });
    expect(Array.from(policy.encode(obs))).toEqual(Array.from(encodingsOut));
    const encoded = { batch: B, encodings: encodingsOut, text: obs.text, state: obs.state, embodiment: obs.embodiment };
    const r1 = policy.promptStep(obs, { lr: 1e-2, seed: 4, step: 0 });
    const r2 = twin.promptStep(encoded, { lr: 1e-2, seed: 4, step: 0 });
    expect(r2.total).toBe(r1.total);
    expect(Array.from(twin.getPrompt(0))).toEqual(Array.from(policy.getPrompt(0)));
    expect(() => policy.trainStep({ observations: encoded, actions: new Float32Array(B * 3 * 7) })).toThrow(/cannot train the embeddings or the backbone/);
    expect(() => policy.promptStep({ ...encoded, encodings: new Float32Array(5) })).toThrow(/'encodings' has 5 elements, expected batch \* encodingSize\(\)/);
  });
});

describe('action_sees_state: false', () => {
  it('acts without looking at the robot state, and the switch survives save and load', () => {
    const blind = Policy.create({ preset: 'tiny', tokenizer, seed: 3, config: { action_sees_state: false } });
    const seeing = Policy.create({ preset: 'tiny', tokenizer, seed: 3 });
    const obs = observations(blind, 2, 41);
    const moved = obs.map((o) => ({ ...o, state: Array.from(o.state, (x) => x + 0.5) }));
    expect(Array.from(blind.act(moved, { seed: 1 }).data)).toEqual(Array.from(blind.act(obs, { seed: 1 }).data));
    expect(Array.from(seeing.act(moved, { seed: 1 }).data)).not.toEqual(Array.from(seeing.act(obs, { seed: 1 }).data));
    const file = join(mkdtempSync(join(tmpdir(), 'vla-blind-')), 'blind.safetensors');
    blind.save(file);
    expect(Policy.load(file).config.action_sees_state).toBe(false);
    expect(seeing.config.action_sees_state ?? true).toBe(true);
  });
});
