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
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { buildInfo, cpuInfo, DEFAULT_IMAGE_SIZE, nativeBatchRenderer, planEpisodes, runRollouts } from '../dist/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const episodesPerTask = Number(arg('--episodes', '12'));
const repeats = Number(arg('--repeats', '3'));
const out = arg('--out', join(root, 'bench', 'results', 'tabletop-cpu.json'));

const tasks = ['carrot-on-plate', 'eggplant-in-basket', 'spoon-on-towel', 'stack-cube'];
const episodes = planEpisodes(tasks, episodesPerTask, 0);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const size = { ...DEFAULT_IMAGE_SIZE };
const load = () => loadavg().map((x) => Math.round(x * 100) / 100);

const configs = [
  { name: '1 worker, no images', workers: 1, sleep: true, images: 'none' },
  { name: '2 workers, no images', workers: 2, sleep: true, images: 'none' },
  { name: '1 worker, 64x64 images', workers: 1, sleep: true, images: 'native' },
  { name: '2 workers, 64x64 images', workers: 2, sleep: true, images: 'native' },
  { name: '2 workers, 64x64 images drawn on the main thread', workers: 2, sleep: true, images: 'main-thread' },
  { name: '1 worker, no images, sleeping off', workers: 1, sleep: false, images: 'none' },
  { name: '2 workers, no images, sleeping off', workers: 2, sleep: false, images: 'none' },
];
const render = { none: false, native: 'native', 'main-thread': nativeBatchRenderer };
// Rounds go through every configuration once, so that load from other processes, which drifts
// over minutes, spreads over all configurations instead of favoring the first ones.
const runsByConfig = configs.map(() => []);
for (let r = 0; r < repeats; r++) {
  for (const [i, c] of configs.entries()) {
    const loadBefore = load();
    const cpu0 = process.cpuUsage();
    const res = await runRollouts({ policy: 'expert', episodes, workers: c.workers, envsPerWorker: 4, env: { sleep: c.sleep }, render: render[c.images], imageSize: size });
    const successes = res.episodes.filter((e) => e.outcome.success).length;
    const loadAfter = load();
    const cpu = process.cpuUsage(cpu0);
    // CPU time of the whole process (main thread, workers, native pool) per env step, startup
    // included: less sensitive to other processes than wall time, though not immune (shared
    // caches, spin-waits that last longer when threads are descheduled).
    const cpuMsPerStep = (cpu.user + cpu.system) / 1000 / res.envSteps;
    runsByConfig[i].push({ envStepsPerSecond: res.envStepsPerSecond, cpuMsPerStep, seconds: res.seconds, startupSeconds: res.startupSeconds, envSteps: res.envSteps, successes, loadBefore, loadAfter });
    console.log(
      `${c.name}: run ${r + 1}/${repeats}: ${res.envStepsPerSecond.toFixed(1)} env steps/s, ${cpuMsPerStep.toFixed(2)} CPU ms/step (${res.envSteps} steps, ${res.startupSeconds.toFixed(2)} s startup, ` +
        `${successes}/${res.episodes.length} successes, load average ${loadBefore[0]} -> ${loadAfter[0]})`,
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
const build = buildInfo();
const cpu = cpuInfo();
const report = {
  benchmark: 'tabletop env steps per second, scripted expert, without and with 64x64 observation images',
  date: new Date().toISOString(),
  machine: {
    cpus: availableParallelism(),
    model: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    isa: cpu.activeIsa,
    nativeThreads: cpu.threads,
    compiler: build.compiler,
    buildType: build.buildType,
  },
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
