// Probe: does the state-grounding objective move the prompt in a direction that helps actions?
// Measures the action flow-matching loss on scripted-expert demonstrations in the target world
// (fixed batches and flow draws) while the prompt is optimized (a) on the state loss over a
// buffer (LPO) and (b) on the action loss over other expert demonstrations (an oracle bound).
// Usage: node scripts/experiments/lpo-probe.mjs --policy P --eval DEMOS --mode lpo|oracle
//          [--buffer DIR | --train DEMOS] [--lr 1e-3] [--steps 500] [--batch 128] [--every 50] [--out F]
import { writeFileSync } from 'node:fs';
import { loadController, TrajectoryBuffer } from '../../dist/index.js';
import { OnlinePromptLearner } from '../../dist/adapt/online-prompt-learner.js';
import { DemoSet } from '../../dist/train/demo-set.js';
import { Rng } from '../../dist/util/random.js';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const controller = loadController(opt('policy', 'models/tabletop-small.safetensors'));
const { policy, normalization } = controller;
const cfg = policy.config;
const H = cfg.horizon, A = cfg.action_dim, SD = cfg.state_dim;
const mode = opt('mode', 'lpo');
const lr = Number(opt('lr', '1e-3'));
const steps = Number(opt('steps', '500'));
const B = Number(opt('batch', '128'));
const every = Number(opt('every', '50'));
const embodimentOverride = opt('embodiment');

const sampleOpts = { horizon: H, textLength: cfg.max_text_len, tokenizer: policy.tokenizer, normalization, augment: null };
const evalSet = await DemoSet.load([opt('eval')]);
// Fixed evaluation batches and flow draws.
const evalBatches = [];
{
  const rng = new Rng(12345);
  for (let k = 0; k < 8; k++) {
    const b = evalSet.sample(128, rng, sampleOpts);
    if (embodimentOverride !== undefined) b.observations.embodiment.fill(Number(embodimentOverride));
    const n = 128;
    const targets = {
      actions: b.actions,
      actionNoise: Float32Array.from({ length: n * H * A }, () => rng.normal()),
      actionTime: Float32Array.from({ length: n }, () => 0.001 + 0.999 * rng.uniform() ** (1 / 1.5)),
      stateNoise: Float32Array.from({ length: n * SD }, () => rng.normal()),
      stateTime: Float32Array.from({ length: n }, () => 0.001 + 0.999 * rng.uniform() ** (1 / 1.5)),
    };
    evalBatches.push({ obs: b.observations, targets });
  }
}
function measure(dropPrompt = false) {
  let a = 0, s = 0;
  for (const { obs, targets } of evalBatches) {
    const t = dropPrompt ? { ...targets, dropPrompt: new Uint8Array(obs.batch).fill(1) } : targets;
    const r = policy.lossAndGrads(obs, t, { actionLoss: true, stateLoss: true, grads: false });
    a += r.action; s += r.state;
  }
  return { action: a / evalBatches.length, state: s / evalBatches.length };
}
const curve = [];
const start = measure();
const dropped = measure(true);
console.log(`start: action ${start.action.toFixed(4)} state ${start.state.toFixed(4)}; prompt dropped: action ${dropped.action.toFixed(4)}`);
curve.push({ step: 0, ...start });
policy.resetOptimizer();
const rng = new Rng(777);
let batch;
if (mode === 'lpo') {
  const buffer = await TrajectoryBuffer.load(opt('buffer'));
  for (let s = 0; s < steps; s++) {
    batch = buffer.sample(B, rng, { policy, normalization }, batch);
    if (embodimentOverride !== undefined) batch.embodiment.fill(Number(embodimentOverride));
    policy.promptStep(batch, { lr, seed: 99, step: s, weightDecay: 0 });
    if ((s + 1) % every === 0) {
      const m = measure();
      curve.push({ step: s + 1, ...m });
      console.log(`lpo step ${s + 1}: action ${m.action.toFixed(4)} state ${m.state.toFixed(4)}`);
    }
  }
} else if (mode === 'online') {
  // The buffer's transitions in time order, micro-batches of --batch, with the stabilizers given.
  const buffer = await TrajectoryBuffer.load(opt('buffer'));
  const stream = buffer.inOrder();
  const n = stream.length / 2;
  const num = (k) => (opt(k) !== undefined ? Number(opt(k)) : undefined);
  const stab = Object.fromEntries(Object.entries({ anchor: num('anchor'), trustRadius: num('trust-radius'), emaDecay: num('ema'), maxLossRatio: num('max-loss-ratio'), collapseRatio: num('collapse-ratio') }).filter(([, v]) => v !== undefined));
  const learner = new OnlinePromptLearner(policy, { lr, seed: 99, ...stab });
  const acting = policy.clone();
  for (let s = 0; s < steps; s++) {
    const i = (s * B) % (n - B);
    batch = buffer.pack(stream.subarray(2 * i, 2 * (i + B)), { policy, normalization }, batch);
    await learner.step(batch);
    if ((s + 1) % every === 0) {
      // Measure the prompt the robot would act with.
      const saved = policy.getPrompt(0);
      policy.setPrompt(0, learner.actingPrompt(0));
      const m = measure();
      policy.setPrompt(0, saved);
      const rep = learner.report();
      curve.push({ step: s + 1, ...m, resets: rep.resets, skipped: rep.skipped, actingShift: rep.actingShift[0] });
      console.log(`online step ${s + 1}: action ${m.action.toFixed(4)} state ${m.state.toFixed(4)} shift ${rep.actingShift[0].toFixed(2)} resets ${rep.resets} skipped ${rep.skipped}`);
    }
  }
  acting.setPrompt(0, learner.actingPrompt(0));
} else {
  const trainSet = await DemoSet.load([opt('train')]);
  for (let s = 0; s < steps; s++) {
    batch = trainSet.sample(B, rng, sampleOpts, batch);
    if (embodimentOverride !== undefined) batch.observations.embodiment.fill(Number(embodimentOverride));
    const n = B;
    const targets = {
      actions: batch.actions,
      actionNoise: Float32Array.from({ length: n * H * A }, () => rng.normal()),
      actionTime: Float32Array.from({ length: n }, () => 0.001 + 0.999 * rng.uniform() ** (1 / 1.5)),
      actionWeights: new Float32Array(n).fill(1),
    };
    policy.flowStep(batch.observations, targets, { lr, groups: ['prompt'], actionToPrompt: true, weightDecay: 0 });
    if ((s + 1) % every === 0) {
      const m = measure();
      curve.push({ step: s + 1, ...m });
      console.log(`oracle step ${s + 1}: action ${m.action.toFixed(4)} state ${m.state.toFixed(4)}`);
    }
  }
}
const out = opt('out');
if (out) {
  writeFileSync(out, JSON.stringify({ args, start, dropped, curve }, null, 2));
  const { vocab, config, format, format_version, ...meta } = policy.metadata;
  policy.save(out.replace(/\.json$/, '.safetensors'), meta);
}
