// The tabletop benchmark's throughput: environment steps per second of the four base tasks
// driven by the scripted expert, with 1 and 2 worker threads, WITHOUT rendering (the rendering
// figure is added when the native renderer lands). Also: the same with MuJoCo island sleeping
// off, to show what sleeping buys. Each configuration runs `--repeats` times (default 3) and the
// median is reported, because other processes share the cores.
//
//   npm run compile && node bench/tabletop.bench.mjs [--episodes N] [--repeats R] [--out FILE]
//
// Writes bench/results/tabletop-cpu.json by default.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { planEpisodes, runRollouts } from '../dist/tabletop/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const episodesPerTask = Number(arg('--episodes', '6'));
const repeats = Number(arg('--repeats', '3'));
const out = arg('--out', join(root, 'bench', 'results', 'tabletop-cpu.json'));

const tasks = ['carrot-on-plate', 'eggplant-in-basket', 'spoon-on-towel', 'stack-cube'];
const episodes = planEpisodes(tasks, episodesPerTask, 0);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const configs = [
  { name: '1 worker', workers: 1, sleep: true },
  { name: '2 workers', workers: 2, sleep: true },
  { name: '1 worker, sleeping off', workers: 1, sleep: false },
  { name: '2 workers, sleeping off', workers: 2, sleep: false },
];
const results = [];
for (const c of configs) {
  const runs = [];
  for (let r = 0; r < repeats; r++) {
    const res = await runRollouts({ policy: 'expert', episodes, workers: c.workers, envsPerWorker: 4, env: { sleep: c.sleep } });
    const successes = res.episodes.filter((e) => e.outcome.success).length;
    runs.push({ envStepsPerSecond: res.envStepsPerSecond, seconds: res.seconds, startupSeconds: res.startupSeconds, envSteps: res.envSteps, successes });
    console.log(`${c.name}: run ${r + 1}/${repeats}: ${res.envStepsPerSecond.toFixed(1)} env steps/s (${res.envSteps} steps, ${res.startupSeconds.toFixed(2)} s startup, ${successes}/${res.episodes.length} successes, load average ${loadavg()[0].toFixed(2)})`);
  }
  results.push({ ...c, medianEnvStepsPerSecond: median(runs.map((x) => x.envStepsPerSecond)), runs });
}

const pkg = JSON.parse(readFileSync(join(root, 'node_modules', '@mujoco', 'mujoco', 'package.json'), 'utf8'));
const report = {
  benchmark: 'tabletop env steps per second, scripted expert, no rendering',
  date: new Date().toISOString(),
  machine: { cpus: availableParallelism(), model: cpus()[0]?.model ?? 'unknown', node: process.version, loadAverageAtEnd: loadavg() },
  mujoco: pkg.version,
  setup: { tasks, episodesPerTask, episodes: episodes.length, controlHz: 5, physicsHz: 500, envsPerWorker: 4, repeats },
  note: 'envStepsPerSecond counts control steps (100 physics steps each) after worker startup; medians over repeats; the cores are shared with other processes, so figures are noisy',
  results,
};
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
console.log(`wrote ${out}`);
for (const r of results) console.log(`${r.name.padEnd(26)} median ${r.medianEnvStepsPerSecond.toFixed(1)} env steps/s`);
