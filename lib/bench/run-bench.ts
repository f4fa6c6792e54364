/**
 * `vla-ttt bench`: throughput on this machine, in one process, with the machine beside it.
 *
 *   act     Policy.act of the small preset at batch 1 and 8 (action chunks per second)
 *   train   Policy.trainStep of the small preset at batch 64 (samples per second)
 *   prompt  Policy.promptStep (LPO, state loss, AdamW on the prompt) at batch 128 (samples per second)
 *   env     tabletop env steps per second, scripted expert, no images, 1..workers workers
 *
 * Every figure is the median over repeats, each repeat itself the median of its timed calls (act,
 * train, prompt) or one rollout run (env). Repeats go round every configuration once, so load
 * from other processes, which drifts over minutes, spreads over all of them.
 */
import { ArgumentError } from '../errors.js';
import type { PresetName } from '../model/config.js';
import { cpuInfo, setNumThreads } from '../system.js';
import { planEpisodes } from '../tabletop/rollout.js';
import { machineFacts, type MachineFacts } from './machine.js';
import { benchActions, benchObservations, benchPolicy, modelOpCall, type ModelOp } from './model-inputs.js';
import { BENCH_TASKS, timeTabletopRun } from './tabletop-timing.js';
import { median, quantile, timeCalls } from './timing.js';

export const BENCH_PARTS = ['act', 'train', 'env', 'prompt'] as const;
export type BenchPart = (typeof BENCH_PARTS)[number];

export interface BenchOptions {
  what: readonly BenchPart[];
  /** Short settings (a few seconds in all): for tests and CI. */
  quick: boolean;
  /** Seed of the policy's weights, the inputs and the episodes. */
  seed: number;
  /** env: runs with 1, 2, ..., workers worker threads. */
  workers: number;
  /** Size of the native thread pool during the model timings (restored after). */
  threads: number;
  /** The device the model runs on, as resolved by --device (recorded). */
  device: string;
  /** Called with a line of progress now and then. */
  onLine?: (line: string) => void;
}

/** One model operation's timing; ms are wall-clock per call. */
export interface ModelTiming {
  op: ModelOp;
  preset: PresetName;
  batch: number;
  /** Median over repeats of each repeat's median call. */
  medianMs: number;
  /** batch / medianMs: chunks per second (act) or samples per second (steps). */
  perSecond: number;
  unit: 'chunks/s' | 'samples/s';
  /** Over every timed call of every repeat. */
  p90Ms: number;
  minMs: number;
  repeatMedianMs: number[];
  cpuMsPerCall: number;
  /** Untimed calls before the first repeat, and before each later one. */
  warmup: number;
  rewarm: number;
  callsPerRepeat: number;
}

export interface EnvTiming {
  workers: number;
  images: false;
  /** Median over repeats. */
  envStepsPerSecond: number;
  repeatEnvStepsPerSecond: number[];
  cpuMsPerStep: number;
  episodes: number;
  envSteps: number;
  loadBefore: number[];
  loadAfter: number[];
}

export interface BenchReport {
  benchmark: 'vla-ttt bench';
  date: string;
  quick: boolean;
  what: BenchPart[];
  device: string;
  seed: number;
  threads: number;
  /** Repeats of the model timings and of the env runs. */
  repeats: { model: number; env: number };
  machine: MachineFacts;
  act: ModelTiming[] | null;
  train: ModelTiming | null;
  prompt: ModelTiming | null;
  env: EnvTiming[] | null;
  /** Wall time of the whole benchmark, seconds. */
  seconds: number;
}

/**
 * Repeats and calls of each setting. `warmup` untimed calls come before a row's first repeat and
 * `rewarm` before each later one (act is short: the other rows' calls evict its workspaces).
 */
export const BENCH_SETTINGS = {
  quick: { repeats: 3, act: { warmup: 2, rewarm: 1, calls: 4 }, step: { warmup: 1, rewarm: 0, calls: 1 }, envRepeats: 1, envEpisodesPerTask: 1 },
  full: { repeats: 5, act: { warmup: 5, rewarm: 2, calls: 20 }, step: { warmup: 2, rewarm: 0, calls: 3 }, envRepeats: 3, envEpisodesPerTask: 6 },
} as const;

const PRESET: PresetName = 'small';

interface ModelConfigRow {
  part: 'act' | 'train' | 'prompt';
  op: ModelOp;
  batch: number;
  call: () => void;
  warmup: number;
  rewarm: number;
  calls: number;
  times: number[];
  repeatMedians: number[];
  cpuMs: number[];
}

async function benchModel(o: BenchOptions, repeats: number, s: (typeof BENCH_SETTINGS)['quick' | 'full']): Promise<ModelConfigRow[]> {
  const policy = benchPolicy(PRESET, o.seed);
  const emb = policy.config.num_embodiments;
  const rows: ModelConfigRow[] = [];
  const add = (part: ModelConfigRow['part'], op: ModelOp, batch: number, call: () => void, t: { warmup: number; rewarm: number; calls: number }) =>
    rows.push({ part, op, batch, call, warmup: t.warmup, rewarm: t.rewarm, calls: t.calls, times: [], repeatMedians: [], cpuMs: [] });
  if (o.what.includes('act')) {
    for (const batch of [1, 8]) add('act', 'act', batch, modelOpCall(policy, 'act', benchObservations(policy, batch, o.seed + 1, () => 0)), s.act);
  }
  if (o.what.includes('train')) {
    const obs = benchObservations(policy, 64, o.seed + 3, (b) => b % emb);
    add('train', 'trainStep', 64, modelOpCall(policy, 'trainStep', obs, benchActions(policy, 64, o.seed + 4)), s.step);
  }
  if (o.what.includes('prompt')) add('prompt', 'promptStep', 128, modelOpCall(policy, 'promptStep', benchObservations(policy, 128, o.seed + 2, () => 0)), s.step);
  if (rows.length === 0) return rows;
  const previous = cpuInfo().threads;
  setNumThreads(o.threads);
  try {
    for (let r = 0; r < repeats; r++) {
      for (const row of rows) {
        const t = timeCalls(row.call, { warmup: r === 0 ? row.warmup : row.rewarm, calls: row.calls });
        row.times.push(...t.ms);
        row.repeatMedians.push(median(t.ms));
        row.cpuMs.push(t.cpuMsPerCall);
        o.onLine?.(`${row.op} batch ${row.batch}: repeat ${r + 1}/${repeats} median ${median(t.ms).toFixed(2)} ms`);
        // Yield between blocks, so that a caller's timers and output keep going.
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  } finally {
    setNumThreads(previous);
  }
  return rows;
}

function modelTiming(row: ModelConfigRow): ModelTiming {
  const medianMs = median(row.repeatMedians);
  return {
    op: row.op,
    preset: PRESET,
    batch: row.batch,
    medianMs,
    perSecond: (row.batch * 1000) / medianMs,
    unit: row.op === 'act' ? 'chunks/s' : 'samples/s',
    p90Ms: quantile(row.times, 0.9),
    minMs: Math.min(...row.times),
    repeatMedianMs: row.repeatMedians,
    cpuMsPerCall: median(row.cpuMs),
    warmup: row.warmup,
    rewarm: row.rewarm,
    callsPerRepeat: row.calls,
  };
}

async function benchEnv(o: BenchOptions, repeats: number, episodesPerTask: number): Promise<EnvTiming[]> {
  const episodes = planEpisodes(BENCH_TASKS, episodesPerTask, o.seed);
  const counts = Array.from({ length: o.workers }, (_, i) => i + 1);
  const runs = counts.map(() => [] as Awaited<ReturnType<typeof timeTabletopRun>>[]);
  for (let r = 0; r < repeats; r++) {
    for (const [i, workers] of counts.entries()) {
      const run = await timeTabletopRun(episodes, { workers, sleep: true, images: 'none' });
      runs[i]!.push(run);
      o.onLine?.(`env ${workers} worker(s): repeat ${r + 1}/${repeats} ${run.envStepsPerSecond.toFixed(1)} env steps/s`);
    }
  }
  return counts.map((workers, i) => {
    const rs = runs[i]!;
    return {
      workers,
      images: false,
      envStepsPerSecond: median(rs.map((x) => x.envStepsPerSecond)),
      repeatEnvStepsPerSecond: rs.map((x) => x.envStepsPerSecond),
      cpuMsPerStep: median(rs.map((x) => x.cpuMsPerStep)),
      episodes: episodes.length,
      envSteps: rs[0]!.envSteps,
      loadBefore: rs[0]!.loadBefore,
      loadAfter: rs.at(-1)!.loadAfter,
    };
  });
}

export async function runBench(o: BenchOptions): Promise<BenchReport> {
  if (o.what.length === 0) throw new ArgumentError('VLA_ARGUMENT', 'bench: nothing to measure');
  const started = performance.now();
  const s = o.quick ? BENCH_SETTINGS.quick : BENCH_SETTINGS.full;
  const machine = machineFacts();
  const rows = await benchModel(o, s.repeats, s);
  const pick = (part: ModelConfigRow['part']) => rows.filter((r) => r.part === part).map(modelTiming);
  const env = o.what.includes('env') ? await benchEnv(o, s.envRepeats, s.envEpisodesPerTask) : null;
  return {
    benchmark: 'vla-ttt bench',
    date: new Date().toISOString(),
    quick: o.quick,
    what: BENCH_PARTS.filter((p) => o.what.includes(p)),
    device: o.device,
    seed: o.seed,
    threads: o.threads,
    repeats: { model: s.repeats, env: s.envRepeats },
    machine,
    act: o.what.includes('act') ? pick('act') : null,
    train: pick('train')[0] ?? null,
    prompt: pick('prompt')[0] ?? null,
    env,
    seconds: (performance.now() - started) / 1000,
  };
}
