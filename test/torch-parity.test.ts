// Parity with the PyTorch reference (bench/torch_ref.py): the same checkpoint and inputs through
// the native policy and through PyTorch, in float32 and float64, for the tiny and small presets.
// Compared: predict (one full pass), act (KV-cached Euler sampling from given noise), the action
// and state losses, the prompt gradient of the state loss, the full routed gradient of the joint
// loss, the prompt gradient of the action loss with the action -> prompt edge open, two
// promptSteps and two trainSteps (native Philox draws reproduced in Python), and the Philox draws
// themselves. Needs /usr/bin/python3 with torch and numpy (override: VLA_TTT_TORCH_PYTHON); without
// them the test is skipped and says why.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { Policy, Tensor, Tokenizer, type ModelConfig, type ObservationBatch } from '../lib/index.js';
import { readArrayDir, writeArrayDir, type NamedArray } from './helpers/array-dir.js';

const PYTHON = process.env['VLA_TTT_TORCH_PYTHON'] ?? '/usr/bin/python3';
const REF = fileURLToPath(new URL('../bench/torch_ref.py', import.meta.url));

function torchStatus(): { ok: boolean; detail: string } {
  if (!existsSync(PYTHON)) return { ok: false, detail: `${PYTHON} does not exist` };
  const r = spawnSync(PYTHON, ['-c', 'import numpy, torch; print(torch.__version__)'], { encoding: 'utf8' });
  if (r.status !== 0) return { ok: false, detail: `${PYTHON} cannot import torch and numpy (${(r.stderr || String(r.error)).trim().split('\n').pop()})` };
  return { ok: true, detail: `torch ${r.stdout.trim()}` };
}
const torch = torchStatus();
if (!torch.ok) console.warn(`torch-parity: SKIPPED: ${torch.detail}`);

const tokenizer = Tokenizer.fromTexts(['put the carrot on the plate', 'stack the green cube on the yellow cube', 'open the drawer']);
const B = 4;
const STATE_WEIGHT = 0.5;
const PROMPT_STEPS = { seed: 11, steps: 2, lr: 1e-3, weight_decay: 0 };
const TRAIN_STEPS = { seed: 13, steps: 2, lr: 3e-4, weight_decay: 0.01, max_grad_norm: 1.0, drop_probability: 0.5 };
const PHILOX = { seed: 977, stream: 12, count: 4096 };

/** Inputs (float32) that exercise the layout: padding inside and at the end of instructions, an
 * empty instruction, absent embodiments, prompt drops for some samples only. */
function parityInputs(c: ModelConfig, seed: number): Record<string, NamedArray> {
  const S = c.image_size;
  const L = c.max_text_len;
  const E = c.num_embodiments;
  const H = c.horizon;
  const A = c.action_dim;
  const images = Uint8Array.from(Tensor.rand([B * S * S * 3], { seed, stream: 1, scale: 256 }).data, (v) => Math.min(255, Math.floor(v)));
  const ids = Tensor.rand([B * L], { seed, stream: 2, scale: c.vocab_size - 1 }).data;
  const text = new Int32Array(B * L);
  for (let j = 0; j < L; j++) {
    const id = (b: number) => 1 + Math.min(c.vocab_size - 2, Math.floor(ids[b * L + j]!));
    text[0 * L + j] = j < Math.ceil(L / 2) ? id(0) : 0; // padding at the end
    text[1 * L + j] = j % 2 === 1 ? id(1) : 0; // padding between words
    text[2 * L + j] = 0; // no instruction at all
    text[3 * L + j] = id(3); // no padding
  }
  const f = (n: number, stream: number, scale = 1) => Tensor.randn([n], { seed, stream, scale }).data;
  const times = (stream: number) => Float32Array.from(Tensor.rand([B], { seed, stream }).data, (u) => 0.05 + 0.9 * u);
  const embodiment = Int32Array.from([0, Math.min(2, E - 1), Math.min(2, E - 1), 1 % E]);
  return {
    images: { data: images, shape: [B, S, S, 3] },
    text: { data: text, shape: [B, L] },
    state: { data: f(B * c.state_dim, 3, 0.5), shape: [B, c.state_dim] },
    embodiment: { data: embodiment, shape: [B] },
    predict_xt: { data: f(B * H * A, 4), shape: [B, H, A] },
    predict_t: { data: times(5), shape: [B] },
    predict_drop: { data: Uint8Array.from([1, 0, 1, 0]), shape: [B] },
    act_noise: { data: f(B * H * A, 6), shape: [B, H, A] },
    actions: { data: f(B * H * A, 7, 0.5), shape: [B, H, A] },
    action_noise: { data: f(B * H * A, 8), shape: [B, H, A] },
    action_time: { data: times(9), shape: [B] },
    state_noise: { data: f(B * c.state_dim, 10), shape: [B, c.state_dim] },
    state_time: { data: times(11), shape: [B] },
    drop_prompt: { data: Uint8Array.from([0, 1, 0, 1]), shape: [B] },
    // promptStep's batch: one embodiment only, so the other prompt blocks must not move.
    prompt_images: { data: images, shape: [B, S, S, 3] },
    prompt_text: { data: text, shape: [B, L] },
    prompt_state: { data: f(B * c.state_dim, 3, 0.5), shape: [B, c.state_dim] },
    prompt_embodiment: { data: new Int32Array(B).fill(1 % E), shape: [B] },
  };
}

function widen(inputs: Record<string, NamedArray>, dtype: 'float32' | 'float64'): Record<string, NamedArray> {
  if (dtype === 'float32') return inputs;
  const out: Record<string, NamedArray> = {};
  for (const [k, v] of Object.entries(inputs)) out[k] = v.data instanceof Float32Array ? { data: Float64Array.from(v.data), shape: v.shape } : v;
  return out;
}

type Floats = Float32Array | Float64Array;

/** max |a - b| / max |ref|: the per-tensor relative error of the parity criterion. */
function relErr(native: ArrayLike<number>, ref: ArrayLike<number>): number {
  expect(native.length).toBe(ref.length);
  let err = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    err = Math.max(err, Math.abs(native[i]! - ref[i]!));
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  return scale > 0 ? err / scale : err;
}
const scalarErr = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);

interface CaseFigures {
  case: string;
  predict: number;
  act: number;
  losses: number;
  jointGrads: Record<string, number>;
  statePromptGrad: number;
  actionPromptGrad: number;
  promptStep: { losses: number; update: number; maxUpdateDiffOverLr: number };
  trainStep: { losses: number; gradNorm: number; update: Record<string, number>; maxUpdateDiffOverLr: number; fractionUpdatesOff: number };
}

/** Runs the native side of one case and writes its inputs for PyTorch. */
function nativeCase(policy: Policy, inputs: Record<string, NamedArray>, dir: string) {
  const a = (k: string) => inputs[k]!.data;
  const obs = (p: string): ObservationBatch => ({
    batch: B,
    images: a(p + 'images') as Uint8Array,
    text: a(p + 'text') as Int32Array,
    state: a(p + 'state') as Floats,
    embodiment: a(p + 'embodiment') as Int32Array,
  });
  const batch = obs('');
  const targets = {
    actions: a('actions') as Floats,
    actionNoise: a('action_noise') as Floats,
    actionTime: a('action_time') as Floats,
    stateNoise: a('state_noise') as Floats,
    stateTime: a('state_time') as Floats,
    dropPrompt: a('drop_prompt') as Uint8Array,
  };
  const start = policy.getParams();
  const predict = policy.predict(batch, a('predict_xt') as Floats, a('predict_t') as Floats, a('predict_drop') as Uint8Array);
  const act = policy.act(batch, { noise: a('act_noise') as Floats }).data;
  const joint = policy.lossAndGrads(batch, targets, { stateWeight: STATE_WEIGHT });
  const jointGrads = policy.getGrads();
  const statePrompt = policy.lossAndGrads(batch, targets, { actionLoss: false, stateLoss: true, groups: ['prompt'] });
  const statePromptGrads = policy.getGrads();
  const actionPrompt = policy.lossAndGrads(batch, targets, { actionLoss: true, stateLoss: false, actionToPrompt: true, groups: ['prompt'] });
  const actionPromptGrads = policy.getGrads();
  policy.resetOptimizer();
  const promptReports = [];
  for (let s = 0; s < PROMPT_STEPS.steps; s++) promptReports.push(policy.promptStep(obs('prompt_'), { seed: PROMPT_STEPS.seed, step: s, lr: PROMPT_STEPS.lr, weightDecay: PROMPT_STEPS.weight_decay }));
  const afterPrompt = policy.getParams();
  policy.setParams(start);
  policy.resetOptimizer();
  const trainReports = [];
  for (let s = 0; s < TRAIN_STEPS.steps; s++) {
    trainReports.push(
      policy.trainStep(
        { observations: batch, actions: targets.actions },
        { seed: TRAIN_STEPS.seed, step: s, lr: TRAIN_STEPS.lr, weightDecay: TRAIN_STEPS.weight_decay, maxGradNorm: TRAIN_STEPS.max_grad_norm, dropProbability: TRAIN_STEPS.drop_probability },
      ),
    );
  }
  const afterTrain = policy.getParams();
  writeArrayDir(dir, inputs, {
    dtype: policy.dtype,
    checkpoint: '../policy.safetensors',
    options: { state_weight: STATE_WEIGHT, prompt_step: PROMPT_STEPS, train_step: TRAIN_STEPS },
    philox: PHILOX,
  });
  return { start, predict, act, joint, jointGrads, statePrompt, statePromptGrads, actionPrompt, actionPromptGrads, promptReports, afterPrompt, trainReports, afterTrain };
}

function compareCase(name: string, policy: Policy, n: ReturnType<typeof nativeCase>, dir: string): CaseFigures {
  const { arrays, manifest } = readArrayDir(join(dir, 'out'));
  const ref = (k: string) => {
    const x = arrays.get(k);
    if (!x) throw new Error(`the PyTorch reference wrote no '${k}'`);
    return x.data;
  };
  const values = manifest['values'] as {
    joint: { total: number; action: number; state: number };
    state_prompt: { state: number };
    action_prompt: { action: number };
    prompt_steps: { total: number; state: number; grad_norm: number }[];
    train_steps: { total: number; action: number; state: number; grad_norm: number; clipped: boolean }[];
  };
  const layout = policy.layout();
  const slice = (flat: Floats, name: string) => {
    const p = layout.find((x) => x.name === name)!;
    return flat.subarray(p.offset, p.offset + p.size);
  };
  const byGroup = (fn: (name: string) => number) => {
    const out: Record<string, number> = {};
    for (const p of layout) out[p.group] = Math.max(out[p.group] ?? 0, fn(p.name));
    return out;
  };
  const update = (after: Floats, name: string) => {
    const a = slice(after, name);
    const s = slice(n.start, name);
    return Float64Array.from(a, (v, i) => v - s[i]!);
  };
  const refUpdate = (key: string, name: string) => {
    const a = ref(key);
    const s = slice(n.start, name);
    return Float64Array.from(a, (v, i) => v - s[i]!);
  };

  // Per-element update differences in units of lr: AdamW's step is about lr * sign(g) where |g|
  // dwarfs eps, so float32 rounding of a near-zero gradient can move one element by up to ~lr.
  let trainMaxDiff = 0;
  let trainOff = 0;
  let trainElems = 0;
  const trainUpdate = byGroup((name) => {
    const u = update(n.afterTrain, name);
    const r = refUpdate(`train_step.${name}`, name);
    for (let i = 0; i < u.length; i++) {
      const d = Math.abs(u[i]! - r[i]!) / TRAIN_STEPS.lr;
      trainMaxDiff = Math.max(trainMaxDiff, d);
      if (d > 1e-3) trainOff++;
      trainElems++;
    }
    return relErr(u, r);
  });
  const promptU = update(n.afterPrompt, 'prompt');
  const promptR = refUpdate('prompt_step.prompt', 'prompt');
  let promptMaxDiff = 0;
  for (let i = 0; i < promptU.length; i++) promptMaxDiff = Math.max(promptMaxDiff, Math.abs(promptU[i]! - promptR[i]!) / PROMPT_STEPS.lr);

  return {
    case: name,
    predict: relErr(n.predict, ref('predict')),
    act: relErr(n.act, ref('act')),
    losses: Math.max(
      scalarErr(n.joint.action, values.joint.action),
      scalarErr(n.joint.state, values.joint.state),
      scalarErr(n.joint.total, values.joint.total),
      scalarErr(n.statePrompt.state, values.state_prompt.state),
      scalarErr(n.actionPrompt.action, values.action_prompt.action),
      relErr(n.joint.actionPerSample, ref('joint.action_per_sample')),
      relErr(n.joint.statePerSample, ref('joint.state_per_sample')),
    ),
    jointGrads: byGroup((name) => relErr(slice(n.jointGrads, name), ref(`joint.${name}`))),
    statePromptGrad: relErr(slice(n.statePromptGrads, 'prompt'), ref('state_prompt.prompt')),
    actionPromptGrad: relErr(slice(n.actionPromptGrads, 'prompt'), ref('action_prompt.prompt')),
    promptStep: {
      losses: Math.max(...n.promptReports.map((r, i) => Math.max(scalarErr(r.state, values.prompt_steps[i]!.state), scalarErr(r.gradNorm, values.prompt_steps[i]!.grad_norm)))),
      update: relErr(promptU, promptR),
      maxUpdateDiffOverLr: promptMaxDiff,
    },
    trainStep: {
      losses: Math.max(...n.trainReports.map((r, i) => Math.max(scalarErr(r.action, values.train_steps[i]!.action), scalarErr(r.state, values.train_steps[i]!.state)))),
      gradNorm: Math.max(...n.trainReports.map((r, i) => scalarErr(r.gradNorm, values.train_steps[i]!.grad_norm))),
      update: trainUpdate,
      maxUpdateDiffOverLr: trainMaxDiff,
      fractionUpdatesOff: trainOff / trainElems,
    },
  };
}

function format(f: CaseFigures): string {
  const e = (x: number) => x.toExponential(1);
  const groups = (g: Record<string, number>) => Object.entries(g).map(([k, v]) => `${k} ${e(v)}`).join(', ');
  return [
    `torch parity ${f.case}: predict ${e(f.predict)}, act ${e(f.act)}, losses ${e(f.losses)}`,
    `  joint-loss gradients (max per-tensor rel. error by group): ${groups(f.jointGrads)}`,
    `  prompt gradient: state loss ${e(f.statePromptGrad)}, action loss with action->prompt ${e(f.actionPromptGrad)}`,
    `  promptStep x2: losses/grad norms ${e(f.promptStep.losses)}, prompt update ${e(f.promptStep.update)} (max element diff ${e(f.promptStep.maxUpdateDiffOverLr)} lr)`,
    `  trainStep x2: losses ${e(f.trainStep.losses)}, grad norm ${e(f.trainStep.gradNorm)}, updates ${groups(f.trainStep.update)}`,
    `    max element diff ${e(f.trainStep.maxUpdateDiffOverLr)} lr, elements off by > 1e-3 lr: ${(100 * f.trainStep.fractionUpdatesOff).toFixed(4)}%`,
  ].join('\n');
}

describe('PyTorch reference parity (bench/torch_ref.py)', () => {
  for (const preset of ['tiny', 'small'] as const) {
    it.skipIf(!torch.ok)(`${preset}: float32 within 1e-4, float64 within 1e-10 (${torch.detail})`, () => {
      const root = mkdtempSync(join(tmpdir(), `vla-ttt-torch-parity-${preset}-`));
      try {
        const f32 = Policy.create({ preset, tokenizer, seed: preset === 'tiny' ? 21 : 22 });
        f32.save(join(root, 'policy.safetensors'));
        const f64 = Policy.create({ preset, tokenizer, seed: 0, dtype: 'float64' });
        f64.setParams(Float64Array.from(f32.getParams()));
        const inputs = parityInputs(f32.config, preset === 'tiny' ? 31 : 32);
        const cases = [
          { dtype: 'float32' as const, policy: f32 },
          { dtype: 'float64' as const, policy: f64 },
        ].map((c) => ({ ...c, dir: join(root, c.dtype) }));
        const natives = cases.map((c) => nativeCase(c.policy, widen(inputs, c.dtype), c.dir));

        const r = spawnSync(PYTHON, [REF, 'parity', ...cases.map((c) => c.dir)], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`torch_ref.py parity failed (${r.status}):\n${r.stderr}`);

        for (const [i, c] of cases.entries()) {
          const f = compareCase(`${preset} ${c.dtype}`, c.policy, natives[i]!, c.dir);
          console.log(format(f));
          const tol = c.dtype === 'float32' ? 1e-4 : 1e-10;
          for (const v of [f.predict, f.act, f.losses, f.statePromptGrad, f.actionPromptGrad, ...Object.values(f.jointGrads)]) expect(v).toBeLessThan(tol);
          expect(f.promptStep.losses).toBeLessThan(tol);
          expect(f.trainStep.losses).toBeLessThan(tol);
          expect(f.trainStep.gradNorm).toBeLessThan(tol);
          // Every gradient norm here exceeds 1: the clipping path is what the steps compare.
          for (const rep of natives[i]!.trainReports) expect(rep.clipped).toBe(true);
          if (c.dtype === 'float64') {
            expect(f.promptStep.update).toBeLessThan(1e-8);
            for (const v of Object.values(f.trainStep.update)) expect(v).toBeLessThan(1e-8);
          } else {
            // float32: AdamW turns gradient rounding near zero into O(lr) update differences on
            // a few elements; the bulk of the update must agree.
            expect(f.promptStep.maxUpdateDiffOverLr).toBeLessThan(2 * PROMPT_STEPS.steps);
            expect(f.trainStep.fractionUpdatesOff).toBeLessThan(1e-3);
          }
        }

        // The Philox draws the steps rely on, against the native generator.
        const { arrays } = readArrayDir(join(cases[0]!.dir, 'out'));
        const normal = Tensor.randn([PHILOX.count], { seed: PHILOX.seed, stream: PHILOX.stream, dtype: 'float64' }).data;
        const uniform = Tensor.rand([PHILOX.count], { seed: PHILOX.seed, stream: PHILOX.stream, dtype: 'float64' }).data;
        expect(relErr(arrays.get('philox.normal')!.data, normal)).toBeLessThan(1e-15);
        expect(relErr(arrays.get('philox.uniform')!.data, uniform)).toBe(0);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    });
  }
});
