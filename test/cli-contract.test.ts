// The CLI contract of issue #9 beyond eval: `vla-ttt bench` (table and JSON), `--device` on every
// command that runs a model (one shared resolution; cuda refused with the reason), and
// `vla-ttt adapt --method lpo|evolve --checkpoint FILE --json OUT` writing the same fields for
// both methods.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { resolveCpuDevice, resolveDevice } from '../lib/cli/device.js';
import { runCli } from '../lib/cli/main.js';
import { Policy } from '../lib/model/policy.js';
import { cudaStatus } from '../lib/system.js';
import { benchmarkTokenizer } from '../lib/tabletop/vocabulary.js';
import { Normalization } from '../lib/train/normalization.js';

const dir = mkdtempSync(join(tmpdir(), 'vla-ttt-contract-'));
const checkpoint = join(dir, 'tiny.safetensors');

async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { io: { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) }, renderer: 'native' });
  return { code, stdout, stderr };
}

beforeAll(() => {
  // An untrained tiny policy on 16x16 images, saved as `vla-ttt train` would (with normalization).
  const policy = Policy.create({ preset: 'tiny', tokenizer: benchmarkTokenizer(), config: { image_size: 16, patch_size: 8 }, seed: 3 });
  const c = policy.config;
  const unit = (n: number) => ({ mean: new Array<number>(n).fill(0), std: new Array<number>(n).fill(1) });
  policy.save(checkpoint, { normalization: new Normalization(unit(c.state_dim), unit(c.action_dim)).toJSON() });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('vla-ttt bench', () => {
  it('--quick --what act prints a table and writes the JSON report with positive figures', async () => {
    const file = join(dir, 'bench.json');
    const r = await cli('bench', '--quick', '--what', 'act', '--threads', '1', '--json', file);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^vla-ttt bench --quick: device cpu, 1 native thread, seed 0\nmachine: .*SIMD (generic|avx2|avx512).*GEMM /);
    expect(r.stdout).toMatch(/act \(small\)\s+batch 1\s+[0-9.]+ ms\s+[0-9.]+ chunks\/s/);
    expect(r.stdout).toMatch(/act \(small\)\s+batch 8\s+/);
    const report = JSON.parse(readFileSync(file, 'utf8')) as {
      benchmark: string; quick: boolean; what: string[]; device: string; threads: number; repeats: { model: number; env: number };
      machine: { cpus: number; isa: string; gemm: string; cuda: { available: boolean } };
      act: Array<{ op: string; preset: string; batch: number; medianMs: number; perSecond: number; unit: string; repeatMedianMs: number[]; p90Ms: number }>;
      train: unknown; prompt: unknown; env: unknown; seconds: number;
    };
    expect(report).toMatchObject({ benchmark: 'vla-ttt bench', quick: true, what: ['act'], device: 'cpu', threads: 1, train: null, prompt: null, env: null });
    expect(report.machine.cpus).toBeGreaterThan(0);
    expect(report.machine.gemm).toMatch(/own|openblas/);
    expect(report.act.map((a) => a.batch)).toEqual([1, 8]);
    for (const a of report.act) {
      expect(a).toMatchObject({ op: 'act', preset: 'small', unit: 'chunks/s' });
      expect(a.medianMs).toBeGreaterThan(0);
      expect(a.perSecond).toBeCloseTo((1000 * a.batch) / a.medianMs, 6);
      expect(a.repeatMedianMs).toHaveLength(report.repeats.model);
      expect(a.p90Ms).toBeGreaterThanOrEqual(Math.min(...a.repeatMedianMs));
    }
    expect(report.seconds).toBeGreaterThan(0);
  }, 60_000);

  it('refuses an unknown measurement and documents the options', async () => {
    const r = await cli('bench', '--what', 'act,fly');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^vla-ttt bench: --what must be a comma-separated list of act, train, env, prompt, got 'act,fly'\n$/);
    const help = await cli('bench', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--quick/);
    expect(help.stdout).toMatch(/--device <device>/);
    expect(help.stdout).toMatch(/Example:\n {2}vla-ttt bench --quick/);
  });
});

describe('--device', () => {
  it('resolves auto and cpu to the CPU kernels, cuda to the device where one is usable, and refuses it with the reason otherwise', () => {
    const none = { available: false, deviceCount: 0, deviceName: '', reason: 'this build has no CUDA backend (CUDA off)' };
    const gpu = { available: true, deviceCount: 1, deviceName: 'NVIDIA H100', reason: 'NVIDIA H100, sm_90' };
    expect(resolveDevice('auto', none)).toBe('cpu');
    expect(resolveDevice('cpu', gpu)).toBe('cpu');
    expect(resolveDevice('auto', gpu)).toBe('cpu');
    expect(resolveDevice('cuda', gpu)).toBe('cuda');
    expect(() => resolveDevice('cuda', none)).toThrow(/^--device cuda: no usable CUDA device: this build has no CUDA backend \(CUDA off\); use --device cpu or auto$/);
    // The CPU-only commands: the missing device first, then themselves.
    expect(resolveCpuDevice('auto', 'vla-ttt train', 'why', gpu)).toBe('cpu');
    expect(() => resolveCpuDevice('cuda', 'vla-ttt train', 'why', none)).toThrow(/^--device cuda: no usable CUDA device: this build has no CUDA backend/);
    expect(() => resolveCpuDevice('cuda', 'vla-ttt train', 'the reason', gpu)).toThrow(/^--device cuda: NVIDIA H100 is usable, but vla-ttt train runs on the CPU only: the reason \(the device runs a policy's act, prompt step and training step\); use --device cpu or auto$/);
  });

  const out = join(dir, 'never');
  const commands: Array<[string, string[]]> = [
    ['bench', ['bench', '--quick']],
    ['eval', ['eval', '--policy', checkpoint]],
    ['sweep', ['sweep', '--policy', checkpoint, '--out', join(out, 'sweep.json')]],
    ['adapt', ['adapt', '--method', 'lpo', '--checkpoint', checkpoint, '--shift', 'camera', '--json', join(out, 'a.json')]],
    ['adapt', ['adapt', '--method', 'evolve', '--checkpoint', checkpoint, '--shift', 'camera', '--out', out]],
    ['evolve', ['evolve', '--policy', checkpoint, '--critic', 'oracle', '--out', out]],
    ['train', ['train', '--data', join(dir, 'no-demos'), '--out', join(out, 'p.safetensors')]],
    ['train-critic', ['train-critic', '--data', join(dir, 'no-data'), '--out', join(out, 'c.safetensors')]],
    ['critic-quality', ['critic-quality', '--critic', join(dir, 'c.safetensors'), '--data', join(dir, 'no-data')]],
    ['collect-demos', ['collect-demos', '--policy', checkpoint, '--out', out]],
    ['divergence', ['divergence', '--policy', checkpoint, '--prompt', join(dir, 'prompt.json'), '--shift', 'camera', '--out', out]],
    ['demo', ['demo', '--quick', '--out', out]],
  ];
  const cuda = cudaStatus();
  // Where a device is usable, these run on it (test/device-emulated.test.ts runs eval so).
  const onDevice = new Set(['eval', 'sweep', 'collect-demos', 'demo', 'adapt --method lpo']);
  for (const [name, argv] of commands) {
    const runsOnDevice = onDevice.has(name) || onDevice.has(argv.slice(0, 3).join(' '));
    it.skipIf(cuda.available && runsOnDevice)(`${argv.slice(0, 3).join(' ')}: cuda exits 1 with the reason before any work; nonsense exits 1 naming the option`, async () => {
      const r = await cli(...argv, '--device', 'cuda');
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(new RegExp(`^vla-ttt ${name}: --device cuda: ${cuda.available ? '.* is usable, but' : 'no usable CUDA device: '}[^\\n]*\\n$`));
      if (!cuda.available) expect(r.stderr).toContain(cuda.reason);
      expect(existsSync(out)).toBe(false);
      const bad = await cli(...argv, '--device', 'nonsense');
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(new RegExp(`^vla-ttt ${name}: --device Invalid option: expected one of "auto"\\|"cpu"\\|"cuda"\\n$`));
    });
  }

  it('collect-demos with the scripted expert runs no model, so the device is not checked', async () => {
    const r = await cli('collect-demos', '--tasks', 'carrot-on-plate', '--episodes', '1', '--no-images', '--workers', '1', '--out', join(dir, 'expert'), '--device', 'cpu');
    expect(r.code, r.stderr).toBe(0);
  }, 60_000);
});

interface Contract {
  method: string;
  checkpoint: string;
  shift: string;
  tasks: string[];
  episodesPerTask: number;
  device: string;
  before: { mean: number; tasks: Record<string, { episodes: number; successes: number; rate: number; ci95: [number, number] }> };
  after: Contract['before'];
  flips: { overall: { total: number; failToSucc: number; succToFail: number; pValue: number }; tasks: Record<string, { total: number }> };
  lossCurve: Array<{ step: number; loss: number | null }>;
  wallSeconds: number;
}

function expectContract(c: Contract, method: string, episodes: number): void {
  expect(c).toMatchObject({ method, checkpoint, shift: 'lighting:1', tasks: ['carrot-on-plate'], episodesPerTask: episodes, device: 'cpu' });
  for (const e of [c.before, c.after]) {
    expect(Object.keys(e.tasks)).toEqual(['carrot-on-plate']);
    const t = e.tasks['carrot-on-plate']!;
    expect(Object.keys(t).sort()).toEqual(['ci95', 'episodes', 'rate', 'successes']);
    expect(t.episodes).toBe(episodes);
    expect(t.rate).toBe(t.successes / episodes);
    expect(e.mean).toBe(t.rate);
    expect(t.ci95[0]).toBeLessThanOrEqual(t.rate);
    expect(t.ci95[1]).toBeGreaterThanOrEqual(t.rate);
  }
  expect(c.flips.overall.total).toBe(episodes);
  expect(c.flips.tasks['carrot-on-plate']!.total).toBe(episodes);
  expect(c.wallSeconds).toBeGreaterThan(0);
}

describe('vla-ttt adapt --method lpo|evolve: the same contract', () => {
  it('--method evolve runs the evolve path and writes before, after, flips, lossCurve (per iteration) and wallSeconds', async () => {
    const json = join(dir, 'evolve.json');
    const out = join(dir, 'adapt-evolve');
    const r = await cli(
      'adapt', '--method', 'evolve', '--checkpoint', checkpoint, '--shift', 'lighting', '--episodes', '2', '--json', json, '--out', out,
      '--critic', 'oracle', '--tasks', 'carrot-on-plate', '--iterations', '2', '--group-size', '2', '--horizon', '6:1,10:2', '--workers', '1',
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/adapt: iteration 2\/2 \(stage 1, H_max 10\)/);
    expect(r.stdout).toMatch(/overall\s+\d+\/2\s+\d+\/2/);
    expect(r.stdout).toMatch(/^evolve: mean [0-9.]+% -> [0-9.]+%; 2 iterations .*; device cpu; wrote /m);
    const c = JSON.parse(readFileSync(json, 'utf8')) as Contract & { settings: { critic: string; iterations: number; lr: number; batch: number }; iterations: unknown[] };
    expectContract(c, 'evolve', 2);
    expect(c.lossCurve.map((p) => p.step)).toEqual([1, 2]);
    for (const p of c.lossCurve) expect(p.loss === null || Number.isFinite(p.loss)).toBe(true);
    // The evolve command's defaults where adapt's options are unset.
    expect(c.settings).toMatchObject({ critic: 'oracle', iterations: 2, lr: 1e-4, batch: 64 });
    // Every shared evolve knob is recorded, the ones not given too (replay off: null).
    expect(c.settings).toMatchObject({ groupSize: 2, horizon: '6:1,10:2', replay: null, replayWeight: 1 });
    expect(c.iterations).toHaveLength(2);
    expect(JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'))).toEqual(c);
    expect(Policy.load(join(out, 'evolved.safetensors')).metadata['evolvedFrom']).toBe(checkpoint);
    for (const f of ['before.json', 'after.json', 'iterations.svg', 'value.svg']) expect(existsSync(join(out, f)), f).toBe(true);
  }, 120_000);

  it('--method lpo writes the same fields, its loss curve per prompt step', async () => {
    const json = join(dir, 'lpo.json');
    const r = await cli('adapt', '--method', 'lpo', '--checkpoint', checkpoint, '--shift', 'lighting', '--episodes', '2', '--json', json, '--tasks', 'carrot-on-plate', '--buffer-trajectories', '2', '--steps', '3', '--batch', '4', '--workers', '1');
    expect(r.code, r.stderr).toBe(0);
    const c = JSON.parse(readFileSync(json, 'utf8')) as Contract & { buffer: { trajectories: number } };
    expectContract(c, 'lpo', 2);
    expect(c.lossCurve.map((p) => p.step)).toEqual([1, 2, 3]);
    expect(c.buffer.trajectories).toBe(2);
  }, 120_000);

  it('refuses the other method\'s options, a missing destination, and two different checkpoints', async () => {
    const base = ['adapt', '--checkpoint', checkpoint, '--shift', 'lighting', '--json', join(dir, 'x.json')];
    const lpoWithEvolve = await cli(...base, '--method', 'lpo', '--iterations', '3', '--critic', 'oracle');
    expect(lpoWithEvolve.code).toBe(1);
    expect(lpoWithEvolve.stderr).toMatch(/^vla-ttt adapt: --critic, --iterations: only with --method evolve\n$/);
    const evolveWithLpo = await cli(...base, '--method', 'evolve', '--steps', '3');
    expect(evolveWithLpo.code).toBe(1);
    expect(evolveWithLpo.stderr).toMatch(/^vla-ttt adapt: --steps: only with --method lpo\n$/);
    const nowhere = await cli('adapt', '--method', 'evolve', '--checkpoint', checkpoint, '--shift', 'lighting');
    expect(nowhere.code).toBe(1);
    expect(nowhere.stderr).toMatch(/one of --out DIR or --json FILE is required/);
    const two = await cli(...base, '--method', 'evolve', '--policy', join(dir, 'other.safetensors'));
    expect(two.code).toBe(1);
    expect(two.stderr).toMatch(/--policy and --checkpoint name different policies/);
    const method = await cli(...base, '--method', 'grpo');
    expect(method.code).toBe(1);
    expect(method.stderr).toMatch(/^vla-ttt adapt: --method Invalid option: expected one of "lpo"\|"evolve"/);
    const anchor = await cli(...base, '--method', 'evolve', '--anchor', '2', '--critic', 'oracle');
    expect(anchor.code).toBe(1);
    expect(anchor.stderr).toMatch(/--anchor 2: with --method evolve a fraction in \[0, 1\]/);
    expect(existsSync(join(dir, 'x.json'))).toBe(false);
  });
});

describe('the CLI process', () => {
  it('stops quietly when its reader closes early (vla-ttt ... | head), without an EPIPE stack', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join('lib', 'cli', 'main.ts'), 'eval', '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy(); // the reader is gone before the first write
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(stderr).not.toMatch(/EPIPE|Unhandled/);
    expect(code).toBe(0);
  }, 60_000);
});
