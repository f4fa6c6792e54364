#!/usr/bin/env node
/**
 * A 10 Hz control loop in the tabletop world that adapts its policy while it runs.
 *
 *   node examples/controller-10hz.mjs [--checkpoint models/tabletop-small.safetensors]
 *        [--shift camera] [--episodes 12] [--adapt-after 6] [--steps 200] [--batch 64] [--json out.json]
 *
 * The loop is what a robot controller does: every 100 ms it takes an observation, asks the
 * policy for actions (a chunk of H, of which it executes 2 before asking again), and sends one
 * action to the robot (here the simulated tabletop, shifted by --shift). Every step and every
 * episode's end go to an Adapter. After --adapt-after episodes it starts latent prompt
 * optimization on a shadow copy of the policy, on native threads, and the loop goes on acting
 * meanwhile; the adapted prompt is swapped in between two act calls when it is ready.
 *
 * It reports deadline misses (a tick whose work ran past the next tick's start), the act latency
 * percentiles, how long the adaptation took, and the successes before and after the swap.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { Adapter, getTask, loadController, TabletopEnv } from 'vla-ttt';

const { values: args } = parseArgs({
  options: {
    checkpoint: { type: 'string', default: 'models/tabletop-small.safetensors' },
    shift: { type: 'string', default: 'camera' },
    episodes: { type: 'string', default: '12' },
    'adapt-after': { type: 'string', default: '6' },
    steps: { type: 'string', default: '200' },
    batch: { type: 'string', default: '64' },
    hz: { type: 'string', default: '10' },
    'execute-steps': { type: 'string', default: '2' },
    tasks: { type: 'string', default: 'carrot-on-plate,eggplant-in-basket,spoon-on-towel,stack-cube' },
    json: { type: 'string' },
  },
});
const int = (name) => {
  const n = Number(args[name]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got '${args[name]}'`);
  return n;
};
const episodes = int('episodes');
const adaptAfter = int('adapt-after');
const hz = int('hz');
const executeSteps = int('execute-steps');
const tasks = args.tasks.split(',').map((t) => getTask(t.trim()).name);
const periodMs = 1000 / hz;

const { policy, normalization } = loadController(args.checkpoint);
const adapter = new Adapter(policy, normalization, { steps: int('steps'), batch: int('batch'), seed: 0 });
const env = await TabletopEnv.create({ shift: args.shift });

const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const actLatencies = [];
let ticks = 0;
let misses = 0;
let worstLateMs = 0;
const results = [];
let adaptation = null;
let adaptStartedTick = -1;
let swapTick = -1;

// Warm up before the clock starts (first-call allocations, page faults), as a controller would
// during its start-up, then start from a fresh reset.
await adapter.act([env.reset({ task: tasks[0], configuration: 0, seed: 999 })], { seed: 0 });

const start = performance.now();
let next = start;
for (let e = 0; e < episodes; e++) {
  const task = tasks[e % tasks.length];
  let obs = env.reset({ task, configuration: (e * 5) % 24, seed: 1000 + e });
  let chunk = null;
  let chunkStep = 0;
  const promptVersion = adapter.swapCount;
  for (let step = 0; ; step++) {
    // One tick: decide, act on the robot, record. It must finish before the next tick starts.
    if (!chunk || step - chunkStep >= executeSteps) {
      const t0 = performance.now();
      chunk = await adapter.act([obs], { seed: 1000 * e + step });
      actLatencies.push(performance.now() - t0);
      chunkStep = step;
      if (adapter.swapCount > 0 && swapTick < 0) swapTick = ticks;
    }
    const action = chunk.action(0, step - chunkStep);
    const r = env.step(action);
    adapter.record(`episode-${e}`, obs, r.info.action);
    obs = r.observation;
    ticks++;
    next += periodMs;
    const late = performance.now() - next;
    if (late > 0) {
      misses++;
      worstLateMs = Math.max(worstLateMs, late);
    }
    if (r.done) break;
    await sleep(next - performance.now());
  }
  const outcome = env.outcome();
  adapter.endEpisode(`episode-${e}`, { success: outcome.success, task });
  results.push({ episode: e, task, success: outcome.success, adaptedPrompt: promptVersion > 0 });
  console.log(`episode ${e} ${task}: ${outcome.success ? 'success' : 'failure'}${promptVersion > 0 ? ' (adapted prompt)' : ''}; ${misses} deadline misses so far`);
  if (e + 1 === adaptAfter) {
    adaptStartedTick = ticks;
    const t0 = performance.now();
    let last = 0;
    adaptation = adapter
      .adapt({
        onProgress: (p) => {
          if (p.step === p.steps || performance.now() - last > 5000) {
            last = performance.now();
            console.log(`  adapting: step ${p.step}/${p.steps}, state loss ${p.loss.toFixed(4)}`);
          }
        },
      })
      .then((r) => ({ ...r, wallSeconds: (performance.now() - t0) / 1000 }));
    console.log(`adaptation started on ${adapter.buffer.size} trajectories (${adapter.buffer.transitions} transitions); the loop keeps running`);
  }
}
const adapted = adaptation ? await adaptation : null;
env.dispose();

const sorted = [...actLatencies].sort((a, b) => a - b);
const pct = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const rate = (xs) => (xs.length ? xs.filter((x) => x.success).length / xs.length : null);
const report = {
  checkpoint: args.checkpoint,
  shift: args.shift,
  hz,
  ticks,
  deadlineMisses: misses,
  worstLateMs,
  wallSeconds: (performance.now() - start) / 1000,
  act: { calls: sorted.length, p50Ms: pct(0.5), p90Ms: pct(0.9), p99Ms: pct(0.99), maxMs: sorted.at(-1) },
  adaptation: adapted && { steps: adapted.steps, batch: int('batch'), wallSeconds: adapted.wallSeconds, startedAtTick: adaptStartedTick, swappedAtTick: swapTick, firstLoss: adapted.lossCurve[0]?.loss, lastLoss: adapted.lossCurve.at(-1)?.loss },
  success: { beforeSwap: rate(results.filter((r) => !r.adaptedPrompt)), afterSwap: rate(results.filter((r) => r.adaptedPrompt)) },
  episodes: results,
};
console.log(
  `${ticks} ticks at ${hz} Hz: ${misses} deadline misses (worst ${worstLateMs.toFixed(1)} ms late); act p50 ${report.act.p50Ms.toFixed(1)} ms, p99 ${report.act.p99Ms.toFixed(1)} ms, max ${report.act.maxMs.toFixed(1)} ms` +
    (adapted ? `; adaptation ${adapted.steps} steps in ${adapted.wallSeconds.toFixed(0)} s beside the loop` : ''),
);
if (args.json) writeFileSync(args.json, JSON.stringify(report, null, 1) + '\n');
