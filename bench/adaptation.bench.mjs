// Adaptation time on this machine (issue #6): latent prompt optimization as `vla-ttt adapt
// --method lpo` runs it, 500 steps at batch 128, on a buffer of the frozen policy's own rollouts
// in a shifted world, for each checkpoint given; beside it, in the same run, PyTorch's prompt step
// (bench/torch_ref.py, eager, 2 threads, OMP_WAIT_POLICY=PASSIVE) on 128 transitions of the same
// buffer, timed over repeated calls, times 500: the time a PyTorch user would wait for the same
// optimization. (torch_ref implements the default attention mask only, so checkpoints with
// obs_attends_prompt get no torch figure.) The paper spent 15-30 minutes on 8 H100s for a 3B model.
//
//   npm run bench:adaptation [-- --policy A.safetensors,B.safetensors --shift lighting
//                                --buffer-trajectories 64 --steps 500 --torch-calls 10 --out FILE]
//
// Writes bench/results/adaptation-cpu.json. The buffer is collected once per checkpoint (4 base
// tasks, seed 1); its size barely matters to the step time (a step samples 128 transitions).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { writeArrays } from './array-dir.mjs';

import { Rng, buildInfo, cpuInfo, loadController, median, runOfflineLpo, setNumThreads } from '../dist/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const policies = arg('--policy', join('models', 'tabletop-small.safetensors')).split(',').filter(Boolean);
const shift = arg('--shift', 'lighting');
const bufferTrajectories = Number(arg('--buffer-trajectories', '64'));
const steps = Number(arg('--steps', '500'));
const batch = 128;
const torchCalls = Number(arg('--torch-calls', '10'));
const out = arg('--out', join(root, 'bench', 'results', 'adaptation-cpu.json'));
const PYTHON = process.env.VLA_TTT_TORCH_PYTHON ?? '/usr/bin/python3';
const THREADS = 2;
setNumThreads(THREADS);

// ---- PyTorch's prompt step on the same transitions ----------------------------------------------


/** Median ms of torch_ref's prompt step on `observations` (the policy saved beside them), or the reason there is none. */
async function torchPromptStep(policy, observations) {
  if (policy.config.obs_attends_prompt) return { skipped: 'bench/torch_ref.py implements the default attention mask only (this checkpoint has obs_attends_prompt)' };
  const dir = mkdtempSync(join(tmpdir(), 'vla-ttt-adapt-bench-'));
  try {
    const c = policy.config;
    const S = c.image_size;
    policy.save(join(dir, 'policy.safetensors'));
    writeArrays(dir, {
      prompt_images: { data: observations.images, shape: [observations.batch, S, S, 3] },
      prompt_text: { data: observations.text, shape: [observations.batch, c.max_text_len] },
      prompt_state: { data: Float32Array.from(observations.state), shape: [observations.batch, c.state_dim] },
      prompt_embodiment: { data: observations.embodiment, shape: [observations.batch] },
    }, { dtype: 'float32', checkpoint: 'policy.safetensors' });
    const child = spawn(PYTHON, [join(root, 'bench', 'torch_ref.py'), 'bench'], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' } });
    const failed = new Promise((_, reject) => child.on('error', (e) => reject(new Error(`${PYTHON}: ${e.message}`))));
    const lines = createInterface({ input: child.stdout });
    const waiting = [];
    lines.on('line', (l) => waiting.shift()?.(JSON.parse(l)));
    const ask = (msg) => Promise.race([failed, new Promise((resolve, reject) => {
      waiting.push((r) => (r.error ? reject(new Error(`torch_ref.py: ${r.error}`)) : resolve(r)));
      child.stdin.write(JSON.stringify(msg) + '\n');
    })]);
    try {
      await ask({ cmd: 'setup', dir, threads: THREADS });
      const info = await ask({ cmd: 'info' });
      const r = await ask({ cmd: 'time', op: 'prompt_step', warmup: 2, calls: torchCalls });
      return { torch: info.torch, threads: info.torch_threads, medianMs: median(r.ms), ms: r.ms, cpuMsPerCall: r.cpu_ms_per_call };
    } finally {
      child.stdin.end();
    }
  } catch (e) {
    return { skipped: `torch reference failed: ${e.message}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- run -----------------------------------------------------------------------------------------

const runs = [];
for (const checkpoint of policies) {
  console.log(`${checkpoint}: collecting ${bufferTrajectories} trajectories under '${shift}', then ${steps} prompt steps of ${batch}`);
  const load0 = loadavg()[0];
  const stepTimes = [];
  let last = 0;
  const r = await runOfflineLpo({
    checkpoint,
    shift,
    tasks: ['carrot-on-plate', 'spoon-on-towel', 'stack-cube', 'eggplant-in-basket'],
    // The before/after evaluations are not what this measures: one episode per task each.
    episodesPerTask: 1,
    bufferTrajectories,
    steps,
    batch,
    workers: THREADS,
    onProgress: (p) => {
      stepTimes.push(p.seconds - last);
      last = p.seconds;
    },
  });
  const opt = r.optimizations[0];
  // The same kind of transitions PyTorch is timed on: a batch of this buffer.
  const controller = loadController(checkpoint);
  const sample = r.bufferObject.sample(batch, new Rng(7), { policy: controller.policy, normalization: controller.normalization });
  const torch = await torchPromptStep(controller.policy, sample);
  const nativeSeconds = r.seconds.optimize;
  const entry = {
    checkpoint,
    obsAttendsPrompt: controller.policy.config.obs_attends_prompt === true,
    buffer: r.buffer,
    steps: opt.steps,
    batch,
    native: {
      optimizeSeconds: nativeSeconds,
      medianStepMs: 1000 * median(stepTimes),
      stepsPerSecond: opt.steps / nativeSeconds,
      samplesPerSecond: (opt.steps * batch) / nativeSeconds,
      lossFirst: opt.lossCurve[0]?.loss ?? null,
      lossLast: opt.lossCurve.at(-1)?.loss ?? null,
      promptShift: opt.promptShift,
    },
    torch,
    ...(torch.medianMs ? { torchProjectedSeconds: (torch.medianMs * steps) / 1000, ratio: (torch.medianMs * steps) / 1000 / nativeSeconds } : {}),
    loadAverage: [load0, loadavg()[0]],
  };
  runs.push(entry);
  console.log(
    `  native: ${nativeSeconds.toFixed(1)} s for ${opt.steps} steps (median step ${entry.native.medianStepMs.toFixed(0)} ms)` +
      (torch.medianMs ? `; torch: ${torch.medianMs.toFixed(0)} ms per step -> ${entry.torchProjectedSeconds.toFixed(0)} s (${entry.ratio.toFixed(2)}x)` : `; torch: ${torch.skipped}`),
  );
}

const result = {
  benchmark: `latent prompt optimization, ${steps} steps at batch ${batch} on a buffer of the frozen policy's rollouts under '${shift}' (the optimize phase of vla-ttt adapt --method lpo), native vs PyTorch eager (bench/torch_ref.py, same transitions)`,
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, model: cpus()[0]?.model.trim(), node: process.version, native: { threads: THREADS, blas: buildInfo().blas, isa: cpuInfo().activeIsa } },
  timing: 'native: wall time of the whole optimize phase (batch sampling from the buffer, image decoding, prompt steps on native threads); torch: median of repeated prompt_step calls on one batch of 128 transitions (after 2 warm-up calls), times the step count',
  runs,
};
writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
console.log(`wrote ${out}`);
