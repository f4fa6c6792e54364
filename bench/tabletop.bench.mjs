// The tabletop benchmark's throughput: environment steps per second of the four base tasks
// driven by the scripted expert, with 1 and 2 worker threads, without images and with 64x64
// observation images from the native renderer (drawn inside the workers, one batched call per
// worker per control step: the default). Also: the images drawn on the main thread instead (a
// BatchRenderer function, one call per round for all workers), and MuJoCo island sleeping off,
// to show what each buys. Each configuration runs `--repeats` times (default 3), in rounds that
// visit every configuration once, and the median is reported, because other processes share the
// cores; the load average is recorded before and after every run.
//
//   npm run compile && node bench/tabletop.bench.mjs [--episodes N] [--repeats R] [--out FILE]
//
// Writes bench/results/tabletop-cpu.json by default.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { BENCH_TASKS, DEFAULT_IMAGE_SIZE, machineFacts, median, planEpisodes, timeTabletopRun } from '../dist/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const episodesPerTask = Number(arg('--episodes', '12'));
const repeats = Number(arg('--repeats', '3'));
const out = arg('--out', join(root, 'bench', 'results', 'tabletop-cpu.json'));

const tasks = [...BENCH_TASKS];
const episodes = planEpisodes(tasks, episodesPerTask, 0);
const size = { ...DEFAULT_IMAGE_SIZE };

const configs = [
  { name: '1 worker, no images', workers: 1, sleep: true, images: 'none' },
  { name: '2 workers, no images', workers: 2, sleep: true, images: 'none' },
  { name: '1 worker, 64x64 images', workers: 1, sleep: true, images: 'native' },
  { name: '2 workers, 64x64 images', workers: 2, sleep: true, images: 'native' },
  { name: '2 workers, 64x64 images drawn on the main thread', workers: 2, sleep: true, images: 'main-thread' },
  { name: '1 worker, no images, sleeping off', workers: 1, sleep: false, images: 'none' },
  { name: '2 workers, no images, sleeping off', workers: 2, sleep: false, images: 'none' },
];
// Rounds go through every configuration once, so that load from other processes, which drifts
// over minutes, spreads over all configurations instead of favoring the first ones. Each run is
// lib/bench/tabletop-timing.ts's (as `vla-ttt bench` times the env): envStepsPerSecond after
// worker startup; cpuMsPerStep, the CPU time of the whole process (main thread, workers, native
// pool) per env step, startup included: less sensitive to other processes than wall time, though
// not immune (shared caches, spin-waits that last longer when threads are descheduled).
const runsByConfig = configs.map(() => []);
for (let r = 0; r < repeats; r++) {
  for (const [i, c] of configs.entries()) {
    const run = await timeTabletopRun(episodes, { workers: c.workers, sleep: c.sleep, images: c.images, envsPerWorker: 4, imageSize: size });
    runsByConfig[i].push(run);
    console.log(
      `${c.name}: run ${r + 1}/${repeats}: ${run.envStepsPerSecond.toFixed(1)} env steps/s, ${run.cpuMsPerStep.toFixed(2)} CPU ms/step (${run.envSteps} steps, ${run.startupSeconds.toFixed(2)} s startup, ` +
        `${run.successes}/${episodes.length} successes, load average ${run.loadBefore[0]} -> ${run.loadAfter[0]})`,
    );
  }
}
const results = configs.map((c, i) => ({
  ...c,
  imageSize: c.images === 'none' ? null : size,
  medianEnvStepsPerSecond: median(runsByConfig[i].map((x) => x.envStepsPerSecond)),
  medianCpuMsPerStep: median(runsByConfig[i].map((x) => x.cpuMsPerStep)),
  runs: runsByConfig[i],
}));

const pkg = JSON.parse(readFileSync(join(root, 'node_modules', '@mujoco', 'mujoco', 'package.json'), 'utf8'));
const m = machineFacts();
const report = {
  benchmark: 'tabletop env steps per second, scripted expert, without and with 64x64 observation images',
  date: new Date().toISOString(),
  machine: { cpus: m.cpus, model: m.cpu, memoryGiB: m.memoryGiB, node: m.node, isa: m.isa, nativeThreads: m.nativeThreads, compiler: m.compiler, buildType: m.buildType },
  mujoco: pkg.version,
  setup: { tasks, episodesPerTask, episodes: episodes.length, controlHz: 5, physicsHz: 500, envsPerWorker: 4, repeats, imageSize: size },
  note:
    'envStepsPerSecond counts control steps (100 physics steps each) after worker startup, images included when on; cpuMsPerStep is the CPU time of the whole process (all threads, startup included) per env step; medians over repeats; ' +
    'the 2 cores are shared with other engineers, so figures are noisy: loadBefore/loadAfter are the 1, 5 and 15 minute load averages around each run',
  results,
};
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
console.log(`wrote ${out}`);
for (const r of results) console.log(`${r.name.padEnd(50)} median ${r.medianEnvStepsPerSecond.toFixed(1)} env steps/s, ${r.medianCpuMsPerStep.toFixed(2)} CPU ms/step`);
