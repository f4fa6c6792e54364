// Pretraining: demonstration sampling, normalization, schedule, the trainer end to end (loss
// falls, files written, an interrupted run resumes bit-exactly), and the policy controller.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { runCli } from '../lib/cli/main.js';
import { criticFrame, loadCriticEpisodes } from '../lib/evolve/critic-data.js';
import { runEvolve } from '../lib/evolve/evolve-loop.js';
import { ProgressCritic } from '../lib/evolve/progress-critic.js';
import { Policy } from '../lib/index.js';
import { evaluate } from '../lib/tabletop/eval.js';
import { PolicyController, loadController } from '../lib/tabletop/policy-controller.js';
import { DemoSet } from '../lib/train/demo-set.js';
import { Normalization } from '../lib/train/normalization.js';
import { learningRate } from '../lib/train/schedule.js';
import { train } from '../lib/train/trainer.js';
import { Rng } from '../lib/util/random.js';
import { benchmarkTokenizer } from '../lib/tabletop/vocabulary.js';

const dir = mkdtempSync(join(tmpdir(), 'vla-ttt-train-'));
const data = join(dir, 'demos');
const tiny = { image_size: 16, patch_size: 8 } as const;

beforeAll(async () => {
  const out: string[] = [];
  const code = await runCli(
    ['collect-demos', '--tasks', 'carrot-on-plate,stack-cube', '--episodes', '2', '--out', data, '--width', '16', '--height', '16', '--workers', '1'],
    { io: { stdout: (s) => out.push(s), stderr: (s) => out.push(s) }, renderer: 'native' },
  );
  expect(code, out.join('')).toBe(0);
}, 120_000);

describe('demonstrations for training', () => {
  it('samples normalized observations and action chunks padded with the last action', async () => {
    const demos = await DemoSet.load([data]);
    expect(demos.episodes.length).toBe(4);
    expect(demos.samples).toBe(demos.episodes.reduce((s, e) => s + e.steps, 0));
    const norm = demos.fitNormalization();
    const tok = benchmarkTokenizer();
    const b = demos.sample(8, new Rng(1), { horizon: 5, textLength: 6, tokenizer: tok, normalization: norm, augment: null });
    expect(b.observations.images.length).toBe(8 * 16 * 16 * 3);
    expect(b.actions.length).toBe(8 * 5 * 7);
    const again = demos.sample(8, new Rng(1), { horizon: 5, textLength: 6, tokenizer: tok, normalization: norm, augment: null });
    expect(Array.from(again.actions)).toEqual(Array.from(b.actions));
    // The chunk of an episode's last step repeats its last action.
    const e = demos.episodes[0]!;
    const last = Array.from(e.actions.subarray((e.steps - 1) * 7, e.steps * 7));
    const chunk = new Float32Array(35);
    for (let k = 0; k < 5; k++) chunk.set(last, k * 7);
    norm.normalizeAction(chunk);
    norm.denormalizeAction(chunk);
    for (let i = 0; i < 35; i++) expect(chunk[i]).toBeCloseTo(last[i % 7]!, 5);
  });

  it('normalization fits mean and std, round-trips, and validates its JSON', () => {
    const s = Float32Array.from([1, 10, 3, 10, 5, 10]);
    const a = Float32Array.from([0, 2, 4]);
    const n = Normalization.fit(s, a, 2, 1);
    expect(n.state.mean).toEqual([3, 10]);
    expect(n.state.std[0]).toBeCloseTo(Math.sqrt(8 / 3), 6);
    expect(n.state.std[1]).toBe(1e-3); // constant column: not blown up
    const back = Normalization.fromJSON(n.toJSON(), 'x');
    expect(back.action).toEqual(n.action);
    expect(() => Normalization.fromJSON('{"state":{"mean":[0],"std":[0]},"action":{"mean":[0],"std":[1]}}', 'ckpt')).toThrow(/ckpt: normalization metadata/);
  });

  it('warms up linearly and decays by cosine to the floor', () => {
    const s = { peak: 1, warmupSteps: 10, totalSteps: 110, minRatio: 0.1 };
    expect(learningRate(s, 0)).toBeCloseTo(0.1);
    expect(learningRate(s, 9)).toBeCloseTo(1);
    expect(learningRate(s, 60)).toBeCloseTo(0.55);
    expect(learningRate(s, 110)).toBeCloseTo(0.1);
  });
});

describe('trainer', () => {
  const base = { data: [data], preset: 'tiny' as const, config: tiny, batch: 4, lr: 3e-3, seed: 3, checkpointEvery: 3, logEvery: 1 };

  it('lowers the loss, writes checkpoint, optimizer state and loss curve', async () => {
    const out = join(dir, 'a.safetensors');
    const r = await train({ ...base, out, steps: 40 });
    expect(r.lossCurve.length).toBe(40);
    const first = r.lossCurve.slice(0, 5).reduce((s, p) => s + p.loss, 0) / 5;
    const last = r.lossCurve.slice(-5).reduce((s, p) => s + p.loss, 0) / 5;
    expect(last).toBeLessThan(first);
    for (const f of [out, `${out}.optimizer.bin`, `${out}.loss.svg`, `${out}.loss.json`]) expect(existsSync(f)).toBe(true);
    expect(readFileSync(`${out}.loss.svg`, 'utf8')).toMatch(/^<svg/);
    const p = Policy.load(out);
    expect(p.metadata['trainingStep']).toBe('40');
    expect(JSON.parse(p.metadata['training']!).variant).toBe('sglp');
  }, 120_000);

  it('resumes an interrupted run exactly', async () => {
    const straight = join(dir, 'straight.safetensors');
    const resumed = join(dir, 'resumed.safetensors');
    await train({ ...base, out: straight, steps: 6 });
    // Interrupt after the step-3 checkpoint: stop the run by throwing from the progress callback.
    await expect(
      train({ ...base, out: resumed, steps: 6, onProgress: (pr) => {
        if (pr.step === 4) throw new Error('interrupted');
      } }),
    ).rejects.toThrow('interrupted');
    expect(Policy.load(resumed).metadata['trainingStep']).toBe('3');
    const r = await train({ ...base, out: resumed, steps: 6, resume: true });
    expect(r.resumedFrom).toBe(3);
    expect(Array.from(Policy.load(resumed).getParams())).toEqual(Array.from(Policy.load(straight).getParams()));
    await expect(train({ ...base, out: resumed, steps: 6, seed: 4, resume: true })).rejects.toThrow(/trained with other options/);
  }, 120_000);

  it('trains the baseline without prompt or state expert', async () => {
    const out = join(dir, 'baseline.safetensors');
    await train({ ...base, out, steps: 3, variant: 'baseline' });
    const p = Policy.load(out);
    expect(p.config.use_prompt).toBe(false);
    expect(p.layout().some((x) => x.group === 'prompt' || x.group === 'state')).toBe(false);
  }, 60_000);

  it('fine-tunes from a checkpoint (--init), switching observation rows to attend the prompt', async () => {
    const from = join(dir, 'init-from.safetensors');
    await train({ ...base, out: from, steps: 3 });
    const out = join(dir, 'seeing.safetensors');
    // One step at a negligible lr shows the weights start from `from`.
    await train({ ...base, out, steps: 1, lr: 1e-9, init: from, config: { obs_attends_prompt: true } });
    const seeing = Policy.load(out);
    expect(seeing.config.obs_attends_prompt).toBe(true);
    expect(JSON.parse(seeing.metadata['training']!).init).toBe(from);
    const a = seeing.getParams(), b = Policy.load(from).getParams();
    expect(a.length).toBe(b.length);
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    expect(worst).toBeLessThan(1e-6);
    // A prompt-seeing model learns through its observation rows.
    const r = await train({ ...base, out: join(dir, 'seeing-2.safetensors'), steps: 20, init: from, config: { obs_attends_prompt: true } });
    expect(r.lossCurve.at(-1)!.loss).toBeLessThan(r.lossCurve[0]!.loss);
    // Overrides that change tensor shapes are refused, naming the problem.
    await expect(train({ ...base, out: join(dir, 'bad.safetensors'), steps: 1, init: from, config: { num_prompt_tokens: 3 } })).rejects.toThrow(/change the model's size/);
  }, 120_000);
});

describe('policy controller', () => {
  it('acts in the tabletop world; an episode does not depend on its batch mates', async () => {
    const ckpt = join(dir, 'a.safetensors');
    const controller = loadController(ckpt, { executeSteps: 2 });
    expect(controller.policy.config.image_size).toBe(16);
    const common = { tasks: ['carrot-on-plate'], shift: 'source', seed: 0, imageSize: { width: 16, height: 16 } } as const;
    const record = (into: Map<string, number[]>) => (t: { episode: { episodeIndex: number }; step: number; action: Float64Array }) => {
      into.set(`${t.episode.episodeIndex}/${t.step}`, Array.from(t.action));
    };
    const a = new Map<string, number[]>();
    const b = new Map<string, number[]>();
    const one = await evaluate({ ...common, episodesPerTask: 2, workers: 1, envsPerWorker: 1, policy: controller.batchPolicy, policyName: 'ckpt', onTransition: record(a) });
    const batched = await evaluate({ ...common, episodesPerTask: 2, workers: 1, envsPerWorker: 2, policy: loadController(ckpt, { executeSteps: 2 }).batchPolicy, policyName: 'ckpt', onTransition: record(b) });
    expect(one.episodes.map((e) => e.success)).toEqual(batched.episodes.map((e) => e.success));
    expect(a.size).toBe(120);
    expect([...a.entries()].sort()).toEqual([...b.entries()].sort());
    expect(() => new PolicyController(controller.policy, controller.normalization, { executeSteps: 99 })).toThrow(/executeSteps must be an integer in \[1, 3\]/);
  }, 120_000);
});

describe('shipping and sweeping a checkpoint (vla-ttt export, vla-ttt sweep)', () => {
  async function cli(...argv: string[]): Promise<{ code: number; out: string }> {
    let out = '';
    const code = await runCli(argv, { io: { stdout: (s) => (out += s), stderr: (s) => (out += s) }, renderer: 'native' });
    return { code, out };
  }

  it('export writes float16 weights with the metadata kept, and refuses to overwrite its source', async () => {
    const ckpt = join(dir, 'a.safetensors');
    const half = join(dir, 'a.f16.safetensors');
    const r = await cli('export', '--checkpoint', ckpt, '--out', half);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/float16 weights/);
    const a = Policy.load(ckpt);
    const b = Policy.load(half);
    expect(b.metadata['normalization']).toBe(a.metadata['normalization']);
    expect(b.metadata['trainingStep']).toBe('40');
    expect(readFileSync(half).length).toBeLessThan(readFileSync(ckpt).length);
    const same = await cli('export', '--checkpoint', ckpt, '--out', ckpt);
    expect(same.code).toBe(1);
    expect(same.out).toMatch(/--out must differ from --checkpoint/);
  }, 60_000);

  it('adapt --method lpo evaluates, fills the buffer, optimizes the prompt and compares the same episodes', async () => {
    const out = join(dir, 'adapt');
    const r = await cli('adapt', '--method', 'lpo', '--policy', join(dir, 'a.safetensors'), '--shift', 'lighting', '--out', out, '--tasks', 'carrot-on-plate,stack-cube', '--episodes', '2', '--buffer-trajectories', '4', '--steps', '3', '--batch', '4', '--workers', '1', '--save-buffer');
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/overall\s+\d+\/4\s+\d+\/4/);
    const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as { comparison: { overall: { total: number } }; buffer: { trajectories: number; transitions: number }; optimizations: Array<{ steps: number; lossCurve: unknown[] }>; settings: { bufferSeed: number } };
    expect(result.comparison.overall.total).toBe(4);
    expect(result.buffer.trajectories).toBe(4);
    expect(result.buffer.transitions).toBe(4 * 60);
    expect(result.optimizations[0]!.lossCurve).toHaveLength(3);
    const before = JSON.parse(readFileSync(join(out, 'before.json'), 'utf8')) as { episodes: Array<{ seed: number }> };
    const after = JSON.parse(readFileSync(join(out, 'after.json'), 'utf8')) as { episodes: Array<{ seed: number }> };
    expect(after.episodes.map((e) => e.seed)).toEqual(before.episodes.map((e) => e.seed));
    expect(readFileSync(join(out, 'loss.svg'), 'utf8')).toMatch(/^<svg/);
    expect(existsSync(join(out, 'buffer', 'manifest.json'))).toBe(true);
    const prompt = JSON.parse(readFileSync(join(out, 'prompt.json'), 'utf8')) as { shape: number[]; prompts: Record<string, Record<string, number[]>> };
    expect(prompt.prompts['all']!['0']).toHaveLength(prompt.shape[0]! * prompt.shape[1]!);
    const again = await cli('adapt', '--method', 'lpo', '--policy', join(dir, 'a.safetensors'), '--shift', 'lighting', '--out', out);
    expect(again.code).toBe(1);
    expect(again.out).toMatch(/is not empty/);
    const same = await cli('adapt', '--method', 'lpo', '--policy', join(dir, 'a.safetensors'), '--shift', 'lighting', '--out', join(dir, 'adapt2'), '--buffer-seed', '0');
    expect(same.code).toBe(1);
    expect(same.out).toMatch(/buffer seed \(0\) equals the evaluation seed/);
  }, 120_000);

  it('sweep evaluates every listed shift on the same episodes, resumes, and refuses other settings', async () => {
    const out = join(dir, 'sweep.json');
    const args = ['sweep', '--policy', join(dir, 'a.safetensors'), '--tasks', 'carrot-on-plate', '--episodes', '2', '--workers', '1', '--shifts', 'source,latency', '--out', out];
    const first = await cli(...args);
    expect(first.code, first.out).toBe(0);
    const file = JSON.parse(readFileSync(out, 'utf8')) as { results: Record<string, { episodes: Array<{ seed: number }>; shift: string }> };
    expect(Object.keys(file.results)).toEqual(['source', 'latency']);
    expect(file.results['latency']!.shift).toBe('latency:1');
    expect(file.results['source']!.episodes.map((e) => e.seed)).toEqual(file.results['latency']!.episodes.map((e) => e.seed));
    const again = await cli(...args);
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/source\s+mean [0-9.]+ \(already in/);
    const other = await cli(...args.slice(0, -2), '--seed', '5', '--out', out);
    expect(other.code).toBe(1);
    expect(other.out).toMatch(/holds a sweep with seed = 0, not 5/);
    const unknown = await cli('sweep', '--policy', 'expert', '--shifts', 'source,fog', '--out', join(dir, 'x.json'));
    expect(unknown.code).toBe(1);
    expect(unknown.out).toMatch(/unknown shift preset 'fog'/);
  }, 120_000);
  it('adapt --before reuses the frozen evaluation from a sweep file, and refuses one with other settings', async () => {
    const sweep = join(dir, 'sweep.json');
    const base = ['adapt', '--method', 'lpo', '--policy', join(dir, 'a.safetensors'), '--shift', 'latency', '--tasks', 'carrot-on-plate', '--buffer-trajectories', '2', '--steps', '2', '--batch', '4', '--workers', '1', '--before', sweep];
    const r = await cli(...base, '--episodes', '2', '--out', join(dir, 'adapt-before'));
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/reusing the frozen policy's evaluation under 'latency:1'/);
    const before = JSON.parse(readFileSync(join(dir, 'adapt-before', 'before.json'), 'utf8')) as { episodes: unknown[] };
    const swept = JSON.parse(readFileSync(sweep, 'utf8')) as { results: Record<string, { episodes: unknown[] }> };
    expect(before.episodes).toEqual(swept.results['latency']!.episodes);
    const other = await cli(...base, '--episodes', '3', '--out', join(dir, 'adapt-before-3'));
    expect(other.code).toBe(1);
    expect(other.out).toMatch(/has 2 episodes per task, not 3/);
    const missing = await cli(...base.map((a) => (a === 'latency' ? 'camera' : a)), '--episodes', '2', '--out', join(dir, 'adapt-before-camera'));
    expect(missing.code).toBe(1);
    expect(missing.out).toMatch(/has no evaluation under 'camera:1'/);
  }, 120_000);
  it('adapt --buffer reuses a saved buffer of the same world and refuses one from another', async () => {
    const saved = join(dir, 'adapt', 'buffer');
    const base = ['adapt', '--method', 'lpo', '--policy', join(dir, 'a.safetensors'), '--tasks', 'carrot-on-plate,stack-cube', '--episodes', '2', '--steps', '2', '--batch', '4', '--workers', '1', '--buffer', saved];
    const r = await cli(...base, '--shift', 'lighting', '--out', join(dir, 'adapt-buffer'));
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/using the given buffer \(4 trajectories, 240 transitions\)/);
    const other = await cli(...base, '--shift', 'camera', '--out', join(dir, 'adapt-buffer-camera'));
    expect(other.code).toBe(1);
    expect(other.out).toMatch(/was collected under 'lighting:1', not 'camera:1'/);
  }, 120_000);

  it('adapt --online streams the buffer in micro-batches with the stabilizers and records them', async () => {
    const saved = join(dir, 'adapt', 'buffer');
    const out = join(dir, 'adapt-online');
    const r = await cli('adapt', '--method', 'lpo', '--policy', join(dir, 'a.safetensors'), '--tasks', 'carrot-on-plate,stack-cube', '--episodes', '2', '--workers', '1', '--buffer', saved, '--shift', 'lighting', '--out', out, '--online', '--micro-batch', '60', '--trust-radius', '0.05', '--ema', '0.5');
    expect(r.code, r.out).toBe(0);
    const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as { online: { microBatch: number; trustRadius: number }; optimizations: Array<{ steps: number; online: { steps: number } }> };
    expect(result.online).toMatchObject({ microBatch: 60, trustRadius: 0.05, emaDecay: 0.5 });
    expect(result.optimizations[0]!.steps).toBe(4); // 240 transitions / 60
    expect(result.optimizations[0]!.online.steps).toBe(4);
    const bad = await cli('adapt', '--method', 'lpo', '--policy', join(dir, 'a.safetensors'), '--shift', 'lighting', '--out', join(dir, 'adapt-online-bad'), '--online', '--ema', '1');
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/--ema.*must be a number in \[0, 0\.999999\]/);
  }, 120_000);

  it('adapt starts an embodiment without training data from a trained block (auto), or as told', async () => {
    const base = ['adapt', '--method', 'lpo', '--policy', join(dir, 'a.safetensors'), '--shift', 'finger-length', '--tasks', 'carrot-on-plate', '--episodes', '1', '--buffer-trajectories', '1', '--steps', '1', '--batch', '4', '--workers', '1'];
    const auto = await cli(...base, '--out', join(dir, 'adapt-init-auto'));
    expect(auto.code, auto.out).toBe(0);
    expect(auto.out).toMatch(/embodiment 1 had no training data .* starting it from embodiment 0's block/);
    expect(JSON.parse(readFileSync(join(dir, 'adapt-init-auto', 'result.json'), 'utf8')).initPromptFrom).toBe(0);
    const none = await cli(...base, '--out', join(dir, 'adapt-init-none'), '--init-prompt-from', 'none');
    expect(none.code, none.out).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'adapt-init-none', 'result.json'), 'utf8')).initPromptFrom).toBeNull();
    const bad = await cli(...base, '--out', join(dir, 'adapt-init-bad'), '--init-prompt-from', 'first');
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/--init-prompt-from.*must be 'auto', 'none' or an embodiment id/);
  }, 120_000);

  it('divergence runs the episodes with the trained and the adapted prompt and reports where they part', async () => {
    const out = join(dir, 'divergence');
    const r = await cli('divergence', '--policy', join(dir, 'a.safetensors'), '--prompt', join(dir, 'adapt', 'prompt.json'), '--shift', 'lighting', '--tasks', 'carrot-on-plate', '--episodes', '2', '--workers', '1', '--out', out);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/\d\/2 episodes parted/);
    const d = JSON.parse(readFileSync(join(out, 'divergence.json'), 'utf8')) as { episodes: Array<{ steps: number; firstDivergence: number | null }>; summary: { episodes: number } };
    expect(d.summary.episodes).toBe(2);
    for (const e of d.episodes) expect(e.steps).toBeGreaterThan(0);
    const bad = await cli('divergence', '--policy', join(dir, 'a.safetensors'), '--prompt', join(dir, 'a.safetensors'), '--shift', 'lighting', '--out', out);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/--prompt .*not a prompt.json/);
  }, 120_000);
});

describe('the EVOLVE command line (collect-demos --progress, train-critic, critic-quality, evolve)', () => {
  async function cli(...argv: string[]): Promise<{ code: number; out: string }> {
    let out = '';
    const code = await runCli(argv, { io: { stdout: (s) => (out += s), stderr: (s) => (out += s) }, renderer: 'native' });
    return { code, out };
  }
  const criticData = join(dir, 'critic-data');
  const critic = join(dir, 'critic.safetensors');

  it('records progress, trains a critic with a quality report, and evolves a checkpoint with it', async () => {
    const c = await cli('collect-demos', '--progress', '--expert-noise', '6', '--tasks', 'carrot-on-plate', '--episodes', '4', '--width', '16', '--height', '16', '--workers', '1', '--out', criticData);
    expect(c.code, c.out).toBe(0);
    expect(c.out).toMatch(/scripted expert \(noise 6\), with task progress/);
    const t = await cli('train-critic', '--data', criticData, '--out', critic, '--preset', 'critic-tiny', '--steps', '6', '--batch', '4', '--checkpoint-every', '3', '--eval-data', criticData, '--json', join(dir, 'critic.json'));
    expect(t.code, t.out).toBe(0);
    expect(t.out).toMatch(/trained .*critic\.safetensors: 6 steps/);
    expect(t.out).toMatch(/carrot-on-plate .*\n.*mean: pair MAE/);
    const report = JSON.parse(readFileSync(join(dir, 'critic.json'), 'utf8')) as { quality: { tasks: Record<string, { episodes: number }> }; trainTasks: string[] };
    expect(report.quality.tasks['carrot-on-plate']!.episodes).toBe(4);
    expect(report.trainTasks).toEqual(['carrot-on-plate']);
    const half = join(dir, 'critic.f16.safetensors');
    const x = await cli('export', '--checkpoint', critic, '--out', half);
    expect(x.code, x.out).toBe(0);
    const [full, shipped] = [ProgressCritic.load(critic), ProgressCritic.load(half)];
    expect(shipped.metadata['trainingStep']).toBe('6');
    const frames = (await loadCriticEpisodes([criticData]))[0]!;
    const pair = [{ before: criticFrame(frames, 0), after: criticFrame(frames, 10), instruction: frames.instruction }];
    expect(Math.abs(shipped.score(pair)[0]! - full.score(pair)[0]!)).toBeLessThan(0.5);
    expect(readFileSync(half).length).toBeLessThan(readFileSync(critic).length);
    const q = await cli('critic-quality', '--critic', critic, '--data', criticData);
    expect(q.code, q.out).toBe(0);
    expect(q.out).not.toMatch(/unseen/);
    const out = join(dir, 'evolve');
    const e = await cli('evolve', '--policy', join(dir, 'a.safetensors'), '--critic', critic, '--tasks', 'carrot-on-plate', '--iterations', '2', '--group-size', '2', '--eval-episodes', '2', '--horizon', '6:1,10:2', '--workers', '1', '--out', out);
    expect(e.code, e.out).toBe(0);
    expect(e.out).toMatch(/iteration 2\/2 \(stage 1, H_max 10\)/);
    expect(e.out).toMatch(/on 2 paired episodes/);
    const r = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as { iterations: Array<{ episodes: unknown[] }>; comparison: { overall: { total: number } } };
    expect(r.iterations.length).toBe(2);
    expect(r.comparison.overall.total).toBe(2);
    expect(Policy.load(join(out, 'evolved.safetensors')).metadata['evolvedFrom']).toBe(join(dir, 'a.safetensors'));
    expect(readFileSync(join(out, 'value.svg'), 'utf8')).toMatch(/^<svg/);
    // Replaying demonstrations beside the rollouts: one CFM step on them after every update step.
    const replayOut = join(dir, 'evolve-replay');
    const rp = await cli('evolve', '--policy', join(dir, 'a.safetensors'), '--critic', 'oracle', '--tasks', 'carrot-on-plate', '--iterations', '1', '--group-size', '2', '--horizon', '6:1', '--no-eval', '--workers', '1', '--replay', data, '--replay-episodes-per-task', '1', '--out', replayOut);
    expect(rp.code, rp.out).toBe(0);
    expect(rp.out).toMatch(/replaying 2 demonstration episode\(s\)/);
    const rr = JSON.parse(readFileSync(join(replayOut, 'result.json'), 'utf8')) as { settings: { replay: string }; iterations: Array<{ updateSteps: number; replayLoss: number | null }> };
    expect(rr.settings.replay).toBe(data);
    expect(rr.iterations[0]!.updateSteps).toBeGreaterThan(0);
    expect(rr.iterations[0]!.replayLoss).toBeGreaterThan(0);
    // The library refuses replayed demonstrations of another image size, and bad replay settings, by name.
    const demos = await DemoSet.load([data]);
    const policy64 = Policy.create({ preset: 'tiny', tokenizer: benchmarkTokenizer(), seed: 1, config: { image_size: 32, patch_size: 8 } });
    const base = { normalization: demos.fitNormalization(), critic: 'oracle' as const, tasks: ['carrot-on-plate'], iterations: 1, seed: 0 };
    await expect(runEvolve({ ...base, policy: policy64, update: { replay: demos } })).rejects.toThrow(/replayed demonstrations have 16px images, the policy takes 32px/);
    const policy16 = Policy.create({ preset: 'tiny', tokenizer: benchmarkTokenizer(), seed: 1, config: tiny });
    await expect(runEvolve({ ...base, policy: policy16, update: { replay: demos, replayWeight: 0 } })).rejects.toThrow(/replayWeight must be in \(0, 100\]/);
    await expect(runEvolve({ ...base, policy: policy16, update: { replay: demos, replayBatch: 0 } })).rejects.toThrow(/replayBatch must be a positive integer/);
    const noReplay = await cli('evolve', '--policy', join(dir, 'a.safetensors'), '--critic', 'oracle', '--no-eval', '--replay', join(dir, 'no-such-demos'), '--out', join(dir, 'evolve-bad3'));
    expect(noReplay.code).toBe(1);
    expect(noReplay.out).toMatch(/no-such-demos/);
    const again = await cli('evolve', '--policy', join(dir, 'a.safetensors'), '--critic', critic, '--out', out);
    expect(again.code).toBe(1);
    expect(again.out).toMatch(/already holds a result.json/);
    const badHorizon = await cli('evolve', '--policy', join(dir, 'a.safetensors'), '--critic', 'oracle', '--horizon', '40-4', '--out', join(dir, 'evolve-bad'));
    expect(badHorizon.code).toBe(1);
    expect(badHorizon.out).toMatch(/--horizon: '40-4' is not MAXSTEPS:UNTIL_ITERATION/);
    const wrongKind = await cli('evolve', '--policy', join(dir, 'a.safetensors'), '--critic', join(dir, 'a.safetensors'), '--out', join(dir, 'evolve-bad2'));
    expect(wrongKind.code).toBe(1);
    expect(wrongKind.out).toMatch(/ProgressCritic|critic/);
  }, 300_000);
});
