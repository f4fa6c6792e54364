/**
 * One timed tabletop run for the throughput benchmarks (`vla-ttt bench`, bench/tabletop.bench.mjs):
 * the scripted expert on planned episodes, with or without observation images, with the process
 * CPU time and the load average around it (other processes share the cores).
 *
 * @example
 * ```ts
 * const run = await timeTabletopRun(planEpisodes(BENCH_TASKS, 4, 0), { workers: 2, sleep: true, images: 'none' });
 * console.log(run.envStepsPerSecond);
 * ```
 */
import { loadavg } from 'node:os';

import { DEFAULT_IMAGE_SIZE, nativeBatchRenderer, type ImageSize } from '../tabletop/observation-images.js';
import { runRollouts, type EpisodePlan, type ImageRendering } from '../tabletop/rollout.js';

/** The four base tasks the throughput benchmarks drive. */
export const BENCH_TASKS = ['carrot-on-plate', 'eggplant-in-basket', 'spoon-on-towel', 'stack-cube'] as const;

export interface TabletopRunConfig {
  workers: number;
  /** MuJoCo island sleeping (the environment's default: on). */
  sleep: boolean;
  /** none; native: drawn inside the workers (the default of rollouts); main-thread: one BatchRenderer call per round. */
  images: 'none' | 'native' | 'main-thread';
  envsPerWorker?: number;
  imageSize?: ImageSize;
}

export interface TabletopRun {
  /** Control steps per second after worker startup (images included when on). */
  envStepsPerSecond: number;
  /** CPU time of the whole process (every thread, startup included) per env step, ms. */
  cpuMsPerStep: number;
  seconds: number;
  startupSeconds: number;
  envSteps: number;
  successes: number;
  /** The 1, 5 and 15 minute load averages before and after the run. */
  loadBefore: number[];
  loadAfter: number[];
}

const load = (): number[] => loadavg().map((x) => Math.round(x * 100) / 100);

const RENDERING: Record<TabletopRunConfig['images'], ImageRendering> = { none: false, native: 'native', 'main-thread': nativeBatchRenderer };

export async function timeTabletopRun(episodes: readonly EpisodePlan[], c: TabletopRunConfig): Promise<TabletopRun> {
  const loadBefore = load();
  const cpu0 = process.cpuUsage();
  const res = await runRollouts({ policy: 'expert', episodes, workers: c.workers, envsPerWorker: c.envsPerWorker ?? 4, env: { sleep: c.sleep }, render: RENDERING[c.images], imageSize: c.imageSize ?? DEFAULT_IMAGE_SIZE });
  const loadAfter = load();
  const cpu = process.cpuUsage(cpu0);
  return {
    envStepsPerSecond: res.envStepsPerSecond,
    cpuMsPerStep: (cpu.user + cpu.system) / 1000 / res.envSteps,
    seconds: res.seconds,
    startupSeconds: res.startupSeconds,
    envSteps: res.envSteps,
    successes: res.episodes.filter((e) => e.outcome.success).length,
    loadBefore,
    loadAfter,
  };
}
