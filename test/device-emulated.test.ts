// `device: 'cuda'` end to end without a GPU: the test addon (VLA_TTT_CUDA_EMULATED_ADDON, built by
// `npm test` into build/emulated/) runs the CUDA kernels on the CPU emulator, so the whole Node
// path (Policy.to / load / create, the N-API device twin, weight sync both ways, async workers,
// the refusals, the CLI's --device cuda) is checked against the CPU policy of the same addon.
// Parity tolerance as in the native tests: max |device - cpu| / max(1e-3, max |cpu|) < 1e-4.
//
// The addon is chosen before anything loads one (VLA_TTT_ADDON_PATH, then the library imported
// dynamically). Without the test addon the file skips, saying how to build it, unless
// VLA_TTT_REQUIRE_EMULATED_ADDON=1 (set by `npm test`), where that fails instead.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Policy as PolicyT } from '../lib/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const emulatedAddon = resolve(process.env['VLA_TTT_EMULATED_ADDON_PATH'] ?? join(root, 'build', 'emulated', 'vla_ttt_cuda_emulated.node'));
const present = existsSync(emulatedAddon);
const required = process.env['VLA_TTT_REQUIRE_EMULATED_ADDON'] === '1';
process.env['VLA_TTT_ADDON_PATH'] = emulatedAddon;

const lib = await import('../lib/index.js');
const { observations, policyTokenizer } = await import('./helpers/policy-inputs.js');
const { runCli } = await import('../lib/cli/main.js');
const { loadController } = await import('../lib/tabletop/policy-controller.js');
const { benchmarkTokenizer } = await import('../lib/tabletop/vocabulary.js');
const { Normalization } = await import('../lib/train/normalization.js');
const { Policy, UnsupportedError, ArgumentError } = lib;

/** The parity measure of native/tests/cuda (b is the CPU reference). */
function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let scale = 1e-3;
  let worst = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Number.isNaN(a[i]! - b[i]!) ? Infinity : Math.abs(a[i]! - b[i]!));
  return worst / scale;
}
const near = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThan(1e-4 * Math.max(1, Math.abs(b)));

// The largest error of each comparison, printed at the end (the figures docs/cuda.md quotes).
const worst: Record<string, number> = {};
function parity(what: string, a: ArrayLike<number>, b: ArrayLike<number>): void {
  const e = relError(a, b);
  worst[what] = Math.max(worst[what] ?? 0, e);
  expect(e, `${what}: relative error ${e}`).toBeLessThan(1e-4);
}

/** A CPU policy and its copy on the (emulated) device, same weights. */
function pair(seed: number, config: Record<string, number | boolean> = {}): { cpu: PolicyT; dev: PolicyT } {
  const cpu = Policy.create({ preset: 'tiny', tokenizer: policyTokenizer(), seed, config: { num_embodiments: 2, ...config } });
  return { cpu, dev: cpu.clone().to('cuda') };
}

describe.runIf(present || required)('device cuda on the CUDA emulator (test addon)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vla-ttt-device-'));
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    console.log(`device-emulated: largest relative errors vs the CPU: ${JSON.stringify(worst)}`);
  });

  it('loads the emulated test addon, which reports the emulator as the CUDA device', () => {
    expect(present, `the test addon ${emulatedAddon} is missing: build it with \`npx cmake-js configure --CDVLA_TTT_CUDA_EMULATED_ADDON=ON && npx cmake-js build\``).toBe(true);
    expect(lib.buildInfo().addonPath).toBe(emulatedAddon);
    const s = lib.cudaStatus();
    expect(s).toMatchObject({ backend: 'emulator', available: true, deviceName: 'CUDA emulator' });
  });

  it('act: device chunks equal the CPU policy\'s (seeded and given noise, dropped prompt, sync and async, two batch sizes)', async () => {
    const { cpu, dev } = pair(5);
    expect(cpu.device).toBe('cpu');
    expect(dev.device).toBe('cuda');
    const batch = cpu.pack(observations(cpu, 3, 9));
    parity('act', dev.act(batch, { seed: 7 }).data, cpu.act(batch, { seed: 7 }).data);
    const noise = lib.Tensor.randn([3 * cpu.config.horizon * cpu.config.action_dim], { seed: 21 }).data as Float32Array;
    const dropPrompt = Uint8Array.from([0, 0, 1]);
    parity('act', (await dev.actAsync(batch, { noise, dropPrompt })).data, cpu.act(batch, { noise, dropPrompt }).data);
    const one = cpu.pack(observations(cpu, 1, 10));
    parity('act', (await dev.actAsync(one, { seed: 77 })).data, cpu.act(one, { seed: 77 }).data);
    // Different seeds give different chunks on the device too (it does not return a stale buffer).
    expect(relError(dev.act(batch, { seed: 8 }).data, cpu.act(batch, { seed: 7 }).data)).toBeGreaterThan(1e-2);
  });

  it('promptStep: losses, gradient norms, clipping, step counts and the prompts equal the CPU\'s over 3 steps', async () => {
    const { cpu, dev } = pair(6);
    const batch = cpu.pack(observations(cpu, 4, 13));
    for (let step = 0; step < 3; step++) {
      const opts = { lr: 1e-2, seed: 3, step, maxGradNorm: step === 1 ? 1e-3 : 0 };
      const want = cpu.promptStep(batch, opts);
      const got = step === 2 ? await dev.promptStepAsync(batch, opts) : dev.promptStep(batch, opts);
      near(got.state, want.state);
      near(got.gradNorm, want.gradNorm);
      expect(got.clipped).toBe(want.clipped);
      expect(got.step).toBe(want.step);
      expect(dev.optimizerStep).toBe(step + 1);
      for (const e of [0, 1]) parity('promptStep prompt', dev.getPrompt(e), cpu.getPrompt(e));
    }
    // Everything else is the same too (only the prompt moved), and it reads back after acting.
    parity('promptStep params', dev.getParams(), cpu.getParams());
    parity('act after promptStep', dev.act(batch, { seed: 1 }).data, cpu.act(batch, { seed: 1 }).data);
    // resetOptimizer restarts the device's AdamW: the next step is step 1 again on both sides.
    cpu.resetOptimizer();
    dev.resetOptimizer();
    const a = cpu.promptStep(batch, { lr: 1e-2, seed: 4, step: 0 });
    const b = dev.promptStep(batch, { lr: 1e-2, seed: 4, step: 0 });
    expect([b.step, a.step]).toEqual([1, 1]);
    parity('promptStep params', dev.getParams(), cpu.getParams());
  });

  it('trainStep: both losses, every group, prompt drops and clipping equal the CPU\'s; every parameter after 2 steps', async () => {
    const { cpu, dev } = pair(8);
    const B = 3;
    const obs = cpu.pack(observations(cpu, B, 17));
    const actions = lib.Tensor.randn([B * cpu.config.horizon * cpu.config.action_dim], { seed: 60, scale: 0.5 }).data as Float32Array;
    for (let step = 0; step < 2; step++) {
      const opts = { lr: 1e-3, seed: 11, step, dropProbability: 0.5, stateWeight: 0.5, maxGradNorm: step === 1 ? 1e-2 : 0 };
      const want = cpu.trainStep({ observations: obs, actions }, opts);
      const got = step === 1 ? await dev.trainStepAsync({ observations: obs, actions }, opts) : dev.trainStep({ observations: obs, actions }, opts);
      near(got.action, want.action);
      near(got.state, want.state);
      near(got.total, want.total);
      near(got.gradNorm, want.gradNorm);
      expect(got.clipped).toBe(want.clipped);
      expect(got.step).toBe(want.step);
    }
    const p = dev.getParams();
    const q = cpu.getParams();
    for (const info of cpu.layout()) parity('trainStep params', p.subarray(info.offset, info.offset + info.size), q.subarray(info.offset, info.offset + info.size));
  });

  it('keeps the weights coherent: setParams / setPrompt reach the device, save and to(\'cpu\') carry its steps', () => {
    const { cpu, dev } = pair(9);
    const batch = cpu.pack(observations(cpu, 2, 19));
    dev.act(batch); // the device holds the first weights now
    const params = cpu.getParams();
    for (const info of cpu.layout()) for (let i = 0; i < info.size; i += 97) params[info.offset + i] = params[info.offset + i]! + 0.05;
    cpu.setParams(params);
    dev.setParams(params);
    parity('act after setParams', dev.act(batch, { seed: 2 }).data, cpu.act(batch, { seed: 2 }).data);
    const prompt = Array.from(cpu.getPrompt(1), (v) => v * 0.5);
    cpu.setPrompt(1, prompt);
    dev.setPrompt(1, prompt);
    parity('act after setPrompt', dev.act(batch, { seed: 3 }).data, cpu.act(batch, { seed: 3 }).data);

    dev.promptStep(batch, { lr: 1e-2, seed: 5, step: 0 });
    const moved = dev.getParams();
    expect(relError(moved, params)).toBeGreaterThan(0); // the device's step is visible on the host
    const file = join(dir, 'device.safetensors');
    dev.save(file);
    expect(Array.from(Policy.load(file).getParams())).toEqual(Array.from(moved));
    // A setParams after a device step wins over the device's weights.
    dev.setParams(params);
    expect(Array.from(dev.getParams())).toEqual(Array.from(params));
    dev.promptStep(batch, { lr: 1e-2, seed: 5, step: 0 });
    const clone = dev.clone();
    expect(clone.device).toBe('cuda');
    expect(Array.from(clone.getParams())).toEqual(Array.from(dev.getParams()));
    expect(dev.to('cpu')).toBe(dev);
    expect(dev.device).toBe('cpu');
    expect(Array.from(dev.getParams())).toEqual(Array.from(clone.getParams()));
    // load and create take the device too.
    expect(Policy.load(file, { device: 'cuda' }).device).toBe('cuda');
    expect(Policy.create({ preset: 'tiny', tokenizer: policyTokenizer(), device: 'cuda' }).device).toBe('cuda');
  });

  it('runs two device policies\' async calls at once (the emulator serializes them) with the CPU\'s results', async () => {
    const a = pair(12);
    const b = pair(13);
    const batch = a.cpu.pack(observations(a.cpu, 2, 23));
    const [ra, rb] = await Promise.all([a.dev.actAsync(batch, { seed: 1 }), b.dev.actAsync(batch, { seed: 1 })]);
    parity('act', ra.data, a.cpu.act(batch, { seed: 1 }).data);
    parity('act', rb.data, b.cpu.act(batch, { seed: 1 }).data);
  });

  it('refuses the ops the device lacks, naming each and saying it runs on the CPU', async () => {
    const { cpu, dev } = pair(14);
    const B = 2;
    const batch = cpu.pack(observations(cpu, B, 29));
    const n = B * cpu.config.horizon * cpu.config.action_dim;
    const targets = { actions: new Float32Array(n), actionNoise: new Float32Array(n), actionTime: new Float32Array(B).fill(0.5), actionWeights: new Float32Array(B).fill(1) };
    const encodings = cpu.encode(batch);
    const refused: Array<[string, () => unknown, RegExp]> = [
      ['encode', () => dev.encode(batch), /^encode runs on the CPU only/],
      ['act with encodings', () => dev.act({ ...batch, encodings }), /^act with observation encodings runs on the CPU only/],
      ['act with encodingsOut', () => dev.act(batch, { encodingsOut: new Float32Array(B * cpu.encodingSize) }), /^act with 'encodingsOut' \(observation encodings\) runs on the CPU only/],
      ['promptStep with encodings', () => dev.promptStep({ ...batch, encodings }), /^promptStep with observation encodings runs on the CPU only/],
      ['predict', () => dev.predict(batch, new Float32Array(n), new Float32Array(B).fill(0.5)), /^predict runs on the CPU only/],
      ['lossAndGrads', () => dev.lossAndGrads(batch, targets), /^lossAndGrads runs on the CPU only/],
      ['flowLoss', () => dev.flowLoss(batch, targets), /^flowLoss \(per-sample flow losses\) runs on the CPU only/],
      ['flowStep', () => dev.flowStep(batch, targets), /^flowStep runs on the CPU only/],
      ['getGrads', () => dev.getGrads(), /^getGrads runs on the CPU only/],
      ['getOptimizerState', () => dev.getOptimizerState(), /^getOptimizerState runs on the CPU only/],
      ['trainStep with groups', () => dev.trainStep({ observations: batch, actions: targets.actions }, { groups: ['prompt'] }), /^trainStep with 'groups' other than every group runs on the CPU only/],
      ['trainStep without the action loss', () => dev.trainStep({ observations: batch, actions: targets.actions }, { actionLoss: false }), /^trainStep with 'actionLoss: false' runs on the CPU only/],
    ];
    for (const [what, fn, message] of refused) {
      let error: unknown;
      try {
        fn();
      } catch (e) {
        error = e;
      }
      expect(error, what).toBeInstanceOf(UnsupportedError);
      expect((error as Error).message, what).toMatch(message);
      expect((error as Error).message, what).toContain("this policy is on device 'cuda' (policy.to('cpu') moves it back)");
    }
    await expect(dev.flowStepAsync(batch, targets)).rejects.toThrow(/^flowStepAsync runs on the CPU only/);
    // Models and dtypes the device does not run are refused when moving, naming why.
    expect(() => Policy.create({ preset: 'tiny', tokenizer: policyTokenizer(), dtype: 'float64', device: 'cuda' })).toThrow(/float64 policy .* runs on the CPU only/);
    expect(() => Policy.create({ preset: 'tiny', tokenizer: policyTokenizer(), config: { obs_attends_prompt: true }, device: 'cuda' })).toThrow(UnsupportedError);
    expect(() => Policy.create({ preset: 'tiny', tokenizer: policyTokenizer(), config: { obs_attends_prompt: true } }).to('cuda')).toThrow(/obs_attends_prompt\) runs on the CPU only/);
    expect(() => cpu.to('gpu' as 'cuda')).toThrow(ArgumentError);
    // After moving back every op works again.
    expect(dev.to('cpu').encode(batch).length).toBe(encodings.length);
  });

  describe('the CLI', () => {
    const checkpoint = join(dir, 'tiny-cli.safetensors');
    beforeAll(() => {
      const policy = Policy.create({ preset: 'tiny', tokenizer: benchmarkTokenizer(), config: { image_size: 16, patch_size: 8 }, seed: 3 });
      const c = policy.config;
      const unit = (k: number) => ({ mean: new Array<number>(k).fill(0), std: new Array<number>(k).fill(1) });
      policy.save(checkpoint, { normalization: new Normalization(unit(c.state_dim), unit(c.action_dim)).toJSON() });
    });
    async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
      let stdout = '';
      let stderr = '';
      const code = await runCli(argv, { io: { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) }, renderer: 'native' });
      return { code, stdout, stderr };
    }

    it('eval --device cuda evaluates on the device and records it', async () => {
      expect(loadController(checkpoint, { device: 'cuda' }).policy.device).toBe('cuda');
      const json = join(dir, 'eval.json');
      const r = await cli('eval', '--policy', checkpoint, '--tasks', 'carrot-on-plate', '--episodes', '1', '--workers', '1', '--envs-per-worker', '1', '--width', '16', '--height', '16', '--device', 'cuda', '--json', json);
      expect(r.code, r.stderr).toBe(0);
      const report = JSON.parse(readFileSync(json, 'utf8')) as { device: string; tasks: Record<string, { episodes: number }> };
      expect(report.device).toBe('cuda');
      expect(report.tasks['carrot-on-plate']!.episodes).toBe(1);
    }, 120_000);

    it('adapt --method lpo --device cuda collects, optimizes the prompt and evaluates on the device', async () => {
      const json = join(dir, 'lpo.json');
      const r = await cli('adapt', '--method', 'lpo', '--checkpoint', checkpoint, '--shift', 'lighting', '--episodes', '1', '--json', json, '--tasks', 'carrot-on-plate', '--buffer-trajectories', '1', '--steps', '2', '--batch', '2', '--workers', '1', '--device', 'cuda');
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/device cuda; wrote /);
      const c = JSON.parse(readFileSync(json, 'utf8')) as { device: string; lossCurve: Array<{ step: number; loss: number }> };
      expect(c.device).toBe('cuda');
      expect(c.lossCurve.map((p) => p.step)).toEqual([1, 2]);
      for (const p of c.lossCurve) expect(Number.isFinite(p.loss)).toBe(true);
    }, 180_000);

    it('the CPU-only commands refuse --device cuda naming themselves, with the device usable', async () => {
      const r = await cli('adapt', '--method', 'evolve', '--checkpoint', checkpoint, '--shift', 'camera', '--out', join(dir, 'never'), '--device', 'cuda');
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^vla-ttt adapt: --device cuda: CUDA emulator is usable, but adapt --method evolve runs on the CPU only: its update needs per-sample flow losses/);
      const online = await cli('adapt', '--method', 'lpo', '--online', '--checkpoint', checkpoint, '--shift', 'camera', '--json', join(dir, 'never', 'a.json'), '--device', 'cuda');
      expect(online.stderr).toMatch(/^vla-ttt adapt: --device cuda: CUDA emulator is usable, but adapt --online runs on the CPU only/);
      const t = await cli('train', '--data', join(dir, 'no-demos'), '--out', join(dir, 'never', 'p.safetensors'), '--device', 'cuda');
      expect(t.stderr).toMatch(/^vla-ttt train: --device cuda: CUDA emulator is usable, but vla-ttt train runs on the CPU only/);
      expect(existsSync(join(dir, 'never'))).toBe(false);
    });
  });
});

if (!present && !required) {
  describe('device cuda on the CUDA emulator (test addon)', () => {
    it.skip(`skipped: ${emulatedAddon} is not built (npm test builds it; or npx cmake-js configure --CDVLA_TTT_CUDA_EMULATED_ADDON=ON && npx cmake-js build)`, () => {});
  });
}
