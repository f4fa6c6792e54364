/**
 * Parallel rollouts: N environments spread over worker threads (one MuJoCo instance per
 * worker), stepped in lockstep rounds so that a batched policy sees every environment's
 * observation at once, and a batched renderer draws every scene in one call.
 *
 * Each round: every environment either starts its next episode or takes an action; the workers
 * return observations with their images; the coordinator asks the policy for the next actions
 * and starts the next round.
 *
 * Images (64x64 RGB by default, `DEFAULT_IMAGE_SIZE`): with `render: 'native'` (the default)
 * each worker draws all of its environments that need an action in one batched native call,
 * reusing its packed scene buffers, and transfers the pixels to the coordinator in one buffer
 * (images are views into it). With as many workers as CPUs or more, each worker draws on its own
 * thread; with fewer, the draws also use the native thread pool. With a BatchRenderer function the workers send their scenes and
 * the coordinator draws every scene of the round in one call (custom renderers, test doubles).
 * With `render: false` observations have `image: null` (fastest, e.g. for the scripted expert). Episodes are independent and seeded from (base seed, task, episode index)
 * (`planEpisodes`), so results do not depend on the number of workers or environments, nor on
 * which environment runs which episode.
 *
 * A worker that dies (an exception, running out of memory, being terminated) fails the rollout
 * with a RolloutWorkerError that names the worker and the episodes it was running: nothing is
 * dropped silently.
 *
 * @example
 * ```ts
 * const episodes = planEpisodes(['carrot-on-plate'], 24, 7);
 * const result = await runRollouts({ policy: 'expert', episodes, workers: 2 });   // 64x64 images
 * const fast = await runRollouts({ policy: 'expert', episodes, render: false });   // no images
 * result.episodes[0].outcome.success;
 * result.envStepsPerSecond;
 * ```
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

import { ArgumentError, RangeValueError, VlaError } from '../errors.js';
import { checkSeed, deriveSeed } from '../util/random.js';
import { clipAction } from './actions.js';
import { resolveEnvOptions, type Observation, type StepInfo } from './env.js';
import type { EpisodeOutcome } from './metrics.js';
import { checkImageSize, DEFAULT_IMAGE_SIZE, type BatchRenderer, type ImageSize } from './observation-images.js';
import { CONFIGURATIONS_PER_TASK, getTask } from './tasks.js';
import type { EpisodePlan, RoundItem, SlotResult, WorkerEnvOptions, WorkerImages, WorkerRequest, WorkerResponse } from './worker-protocol.js';

export type { EpisodePlan, WorkerEnvOptions } from './worker-protocol.js';
export type { BatchRenderer } from './observation-images.js';

/**
 * How rollouts draw observation images: 'native' (each worker, one batched call per round), a
 * BatchRenderer (the coordinator, one call per round), or false (no images).
 */
export type ImageRendering = 'native' | BatchRenderer | false;

/** Which episode, and which step of it, each observation of a batch belongs to. */
export interface PolicyContext {
  /** `progress`: the observation's ground-truth task progress, with RolloutOptions.progress. */
  episodes: Array<EpisodePlan & { step: number; progress?: number }>;
}

/** A batched policy: one 7-number action (actions.ts) per observation, in order. */
export type BatchPolicy = (observations: Observation[], context: PolicyContext) => ReadonlyArray<ArrayLike<number>> | Promise<ReadonlyArray<ArrayLike<number>>>;

/** One control step of an episode, for datasets and test-time training buffers. */
export interface Transition {
  episode: EpisodePlan;
  /** 0-based step index. */
  step: number;
  /** The observation the action was chosen from. */
  observation: Observation;
  /** The action taken (clipped). */
  action: Float64Array;
  info: StepInfo;
  /** Ground-truth task progress (0..100) of `observation`; only with RolloutOptions.progress. */
  progress?: number;
}

export interface EpisodeResult extends EpisodePlan {
  outcome: EpisodeOutcome;
  distractors: number;
  /** Actions taken (the task's step cap, or fewer when shouldEnd ended it). */
  steps: number;
  /** Whether shouldEnd ended the episode before its step cap. */
  endedEarly: boolean;
  /** Ground-truth task progress (0..100) after the last step; only with RolloutOptions.progress. */
  finalProgress?: number;
}

export interface RolloutOptions {
  /** A batched policy, or 'expert' for the scripted expert (it runs inside the workers). */
  policy: BatchPolicy | 'expert';
  episodes: readonly EpisodePlan[];
  /** Environment options (shift as text), the same for every environment. */
  env?: WorkerEnvOptions;
  /** Worker threads (default min(2, available CPUs)). */
  workers?: number;
  /** Environments per worker (default 4). */
  envsPerWorker?: number;
  /** How observation images are drawn (see the module comment); default 'native'. */
  render?: ImageRendering;
  /** Observation image size (default DEFAULT_IMAGE_SIZE, 64 x 64). */
  imageSize?: ImageSize;
  /** Noise scale of the scripted expert (default 1). */
  expertNoise?: number;
  /**
   * Compute the ground-truth task progress of every observation from the simulator's privileged
   * state (evolve/task-progress.ts): labels for the progress critic, or an oracle reward.
   */
  progress?: boolean;
  /** Called for every control step, in order within each episode. */
  onTransition?: (t: Transition) => void | Promise<void>;
  /**
   * Asked for every episode that is about to act, after the policy chose the round's actions:
   * true ends the episode now, without taking the action, with its outcome judged on the current
   * state (a learned done signal, or a rollout horizon shorter than the task's step cap).
   */
  shouldEnd?: (episode: EpisodePlan & { step: number }) => boolean;
  /** Called when an episode ends. */
  onEpisode?: (r: EpisodeResult) => void | Promise<void>;
  /** Creates the worker threads (default: `new Worker`); for embedding, and to test worker deaths. */
  createWorker?: (entry: URL | string, options: WorkerOptions) => Worker;
}

export interface RolloutResult {
  /** One result per planned episode, in the order planned. */
  episodes: EpisodeResult[];
  envSteps: number;
  /** Wall time of the whole rollout, seconds. */
  seconds: number;
  /** Of which: starting the workers and loading MuJoCo in each. */
  startupSeconds: number;
  /** Environment steps per second after startup (rendering and policy time included). */
  envStepsPerSecond: number;
  workers: number;
  envs: number;
  /** The observation image size; null when rendering was off. */
  images: ImageSize | null;
}

/** A worker died or failed; names the episodes it was running. */
export class RolloutWorkerError extends VlaError {
  readonly worker: number;
  readonly episodes: EpisodePlan[];
  constructor(worker: number, episodes: EpisodePlan[], cause: string) {
    const list = episodes.map((e) => `${e.task}#${e.episodeIndex} (configuration ${e.configuration}, seed ${e.seed})`).join(', ');
    super('VLA_INTERNAL', `rollout worker ${worker} failed while running ${list || 'no episode'}: ${cause}`);
    this.worker = worker;
    this.episodes = episodes;
  }
}

/**
 * The evaluation protocol's episode list: for each task, `episodesPerTask` episodes cycling
 * through its 24 configurations, each seeded from (seed, task, episode index).
 */
export function planEpisodes(tasks: readonly string[], episodesPerTask: number, seed: number): EpisodePlan[] {
  if (!Number.isSafeInteger(episodesPerTask) || episodesPerTask <= 0) {
    throw new ArgumentError('VLA_ARGUMENT', `episodes per task must be a positive integer, got ${String(episodesPerTask)}`);
  }
  checkSeed(seed);
  const plans: EpisodePlan[] = [];
  for (const task of tasks) {
    getTask(task);
    for (let i = 0; i < episodesPerTask; i++) {
      plans.push({ task, episodeIndex: i, configuration: i % CONFIGURATIONS_PER_TASK, seed: deriveSeed(seed, task, i) });
    }
  }
  return plans;
}

/** The default number of workers: min(2, available CPUs). */
export function defaultWorkers(): number {
  return Math.max(1, Math.min(2, availableParallelism()));
}

/** How to start a worker: compiled JavaScript directly; TypeScript sources through tsx. */
function workerEntry(): { entry: URL | string; options: WorkerOptions } {
  if (!import.meta.url.endsWith('.ts')) return { entry: new URL('./worker-main.js', import.meta.url), options: {} };
  // Running from sources (tests, tsx): module hooks do not reach worker threads, so the worker
  // registers tsx itself before importing its TypeScript entry.
  const tsxRoot = dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
  const tsxApi = pathToFileURL(join(tsxRoot, 'dist', 'esm', 'api', 'index.mjs')).href;
  const entry = new URL('./worker-main.ts', import.meta.url).href;
  const code = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });\n`;
  return { entry: code, options: { eval: true } };
}

interface Slot {
  worker: number;
  local: number;
  plan: EpisodePlan | null;
  /** Index of `plan` in the planned list (results come back in planned order). */
  planIndex: number;
  needsReset: boolean;
  step: number;
  lastObservation: Observation | null;
  lastProgress: number | undefined;
  distractors: number;
  pendingAction: Float64Array | null;
  /** shouldEnd said so: the next round ends the episode instead of acting. */
  finishNext: boolean;
}

class WorkerHandle {
  private pending: { resolve: (r: WorkerResponse) => void; reject: (e: Error) => void } | null = null;
  private dead: string | null = null;

  constructor(
    readonly index: number,
    readonly worker: Worker,
  ) {
    worker.on('message', (msg: WorkerResponse) => {
      const p = this.pending;
      this.pending = null;
      p?.resolve(msg);
    });
    worker.on('error', (e) => this.fail(`uncaught ${e.name}: ${e.message}`));
    worker.on('exit', (code) => this.fail(`the worker thread exited (code ${code})`));
    worker.on('messageerror', (e) => this.fail(`a message could not be read: ${String(e)}`));
  }

  private fail(reason: string): void {
    if (this.dead === null) this.dead = reason;
    const p = this.pending;
    this.pending = null;
    p?.reject(new Error(reason));
  }

  request(msg: WorkerRequest): Promise<WorkerResponse> {
    if (this.dead !== null) return Promise.reject(new Error(this.dead));
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.worker.postMessage(msg);
    });
  }

  async close(): Promise<void> {
    this.dead ??= 'closed';
    await this.worker.terminate();
  }
}

function checkPositive(v: number | undefined, fallback: number, field: string): number {
  const x = v ?? fallback;
  if (!Number.isSafeInteger(x) || x <= 0) throw new ArgumentError('VLA_ARGUMENT', `${field} must be a positive integer, got ${String(v)}`);
  return x;
}

/** Runs every planned episode; see the module comment. */
export async function runRollouts(opts: RolloutOptions): Promise<RolloutResult> {
  const workers = checkPositive(opts.workers, defaultWorkers(), 'workers');
  const perWorker = checkPositive(opts.envsPerWorker, 4, 'envsPerWorker');
  const imageSize = checkImageSize(opts.imageSize ?? DEFAULT_IMAGE_SIZE, 'imageSize');
  const render = opts.render ?? 'native';
  if (render !== 'native' && render !== false && typeof render !== 'function') {
    throw new ArgumentError('VLA_ARGUMENT', `render must be 'native', a batch renderer function or false, got ${String(render)}`);
  }
  // With a worker per CPU or more, each worker draws on its own thread: handing its batch to the
  // shared native pool would only make the workers wait on each other.
  const threadPool = Math.min(workers, opts.episodes.length) < availableParallelism();
  const workerImages: WorkerImages = render === false ? { kind: 'none' } : render === 'native' ? { kind: 'native', ...imageSize, threadPool } : { kind: 'scenes' };
  const images = render === false ? null : imageSize;
  // Bad environment options fail here, with the field named, not inside a worker.
  resolveEnvOptions(opts.env);
  const plans = opts.episodes.slice();
  plans.forEach((p, i) => {
    getTask(p.task);
    if (!Number.isSafeInteger(p.configuration) || p.configuration < 0 || p.configuration >= CONFIGURATIONS_PER_TASK) {
      throw new RangeValueError('VLA_VALUE', `episodes[${i}].configuration must be an integer in [0, ${CONFIGURATIONS_PER_TASK - 1}], got ${String(p.configuration)}`);
    }
    if (!Number.isSafeInteger(p.episodeIndex) || p.episodeIndex < 0) throw new ArgumentError('VLA_ARGUMENT', `episodes[${i}].episodeIndex must be a non-negative integer, got ${String(p.episodeIndex)}`);
    checkSeed(p.seed, `episodes[${i}].seed`);
  });
  const expertNoise = opts.expertNoise ?? 1;
  if (!Number.isFinite(expertNoise) || expertNoise < 0) throw new RangeValueError('VLA_VALUE', `expertNoise must be a finite number >= 0, got ${String(opts.expertNoise)}`);
  const started = performance.now();
  const results: EpisodeResult[] = [];
  if (plans.length === 0) return { episodes: [], envSteps: 0, seconds: 0, startupSeconds: 0, envStepsPerSecond: 0, workers: 0, envs: 0, images };

  // No more workers or environments than episodes.
  const nWorkers = Math.min(workers, plans.length);
  const nSlots = Math.min(nWorkers * perWorker, plans.length);
  const { entry, options } = workerEntry();
  const create = opts.createWorker ?? ((e: URL | string, o: WorkerOptions) => new Worker(e, o));
  const handles: WorkerHandle[] = [];
  const slots: Slot[] = [];
  for (let s = 0; s < nSlots; s++) {
    const w = s % nWorkers;
    slots.push({ worker: w, local: Math.floor(s / nWorkers), plan: null, planIndex: -1, needsReset: false, step: 0, lastObservation: null, lastProgress: undefined, distractors: 0, pendingAction: null, finishNext: false });
  }
  let queue = 0;
  let envSteps = 0;
  let ready = started;
  const assign = (slot: Slot): void => {
    if (queue < plans.length) {
      slot.planIndex = queue;
      slot.plan = plans[queue++]!;
      slot.needsReset = true;
      slot.finishNext = false;
      slot.step = 0;
    } else {
      slot.plan = null;
    }
  };

  try {
    for (let w = 0; w < nWorkers; w++) handles.push(new WorkerHandle(w, create(entry, options)));
    const inFlight = (w: number): EpisodePlan[] => slots.filter((s) => s.worker === w && s.plan).map((s) => s.plan!);
    const ask = async (w: number, msg: WorkerRequest): Promise<WorkerResponse> => {
      let res: WorkerResponse;
      try {
        res = await handles[w]!.request(msg);
      } catch (e) {
        throw new RolloutWorkerError(w, inFlight(w), (e as Error).message);
      }
      if (res.type === 'error') {
        const failing = res.slot === null ? inFlight(w) : slots.filter((s) => s.worker === w && s.local === res.slot && s.plan).map((s) => s.plan!);
        throw new RolloutWorkerError(w, failing, `${res.name}: ${res.message}`);
      }
      return res;
    };

    const slotsPerWorker = handles.map((_, w) => slots.filter((s) => s.worker === w).length);
    await Promise.all(
      handles.map((_, w) =>
        ask(w, { type: 'init', slots: slotsPerWorker[w]!, env: opts.env ?? {}, expertNoise, images: workerImages, progress: opts.progress === true }),
      ),
    );
    slots.forEach(assign);
    ready = performance.now();

    while (slots.some((s) => s.plan)) {
      // 1. One round: every active slot starts its episode or takes its action.
      const requests: RoundItem[][] = handles.map(() => []);
      for (const s of slots) {
        if (!s.plan) continue;
        if (s.needsReset) requests[s.worker]!.push({ slot: s.local, reset: s.plan });
        else if (s.finishNext) requests[s.worker]!.push({ slot: s.local, finish: true });
        else requests[s.worker]!.push({ slot: s.local, action: opts.policy === 'expert' ? null : s.pendingAction });
      }
      const responses = await Promise.all(requests.map((items, w) => (items.length > 0 ? ask(w, { type: 'round', items }) : Promise.resolve(null))));

      // 2. Bookkeeping: transitions, finished episodes, next episodes.
      const waiting: { slot: Slot; result: SlotResult }[] = [];
      for (let w = 0; w < handles.length; w++) {
        const res = responses[w];
        if (!res || res.type !== 'round') continue;
        for (const r of res.results) {
          const slot = slots.find((s) => s.worker === w && s.local === r.slot)!;
          const plan = slot.plan!;
          const finished = slot.finishNext;
          if (slot.needsReset) {
            slot.needsReset = false;
            slot.distractors = r.distractors ?? 0;
          } else if (!finished) {
            envSteps++;
            if (opts.onTransition) {
              const t: Transition = { episode: plan, step: slot.step, observation: slot.lastObservation!, action: r.action!, info: r.info! };
              if (slot.lastProgress !== undefined) t.progress = slot.lastProgress;
              await opts.onTransition(t);
            }
            slot.step++;
          }
          if (r.done) {
            const result: EpisodeResult = { ...plan, outcome: r.outcome!, distractors: slot.distractors, steps: slot.step, endedEarly: finished };
            if (r.progress !== undefined) result.finalProgress = r.progress;
            results[slot.planIndex] = result;
            if (opts.onEpisode) await opts.onEpisode(result);
            slot.lastObservation = null;
            assign(slot);
          } else {
            slot.lastObservation = r.observation!;
            slot.lastProgress = r.progress;
            waiting.push({ slot, result: r });
          }
        }
      }
      if (waiting.length === 0) continue;

      // 3. With a renderer function: images for every observation that needs an action, in
      // one call. (Native images arrived with the observations.)
      if (typeof render === 'function') {
        const scenes = waiting.map((x) => x.result.scene!);
        const pixels = await render(scenes, { ...imageSize });
        const frame = imageSize.width * imageSize.height * 3;
        if (!(pixels instanceof Uint8Array) || pixels.length !== frame * scenes.length) {
          throw new ArgumentError('VLA_ARGUMENT', `the renderer returned ${pixels instanceof Uint8Array ? `${pixels.length} bytes` : typeof pixels}; expected ${scenes.length} x ${imageSize.height} x ${imageSize.width} x 3 = ${frame * scenes.length} bytes`);
        }
        // Views, not copies: the renderer's array belongs to this round's observations.
        waiting.forEach((x, i) => {
          x.slot.lastObservation!.image = { width: imageSize.width, height: imageSize.height, data: pixels.subarray(i * frame, (i + 1) * frame) };
        });
      }

      // 4. The policy's actions (the expert acts inside the workers).
      if (opts.policy !== 'expert') {
        const observations = waiting.map((x) => x.slot.lastObservation!);
        const context: PolicyContext = { episodes: waiting.map((x) => ({ ...x.slot.plan!, step: x.slot.step, ...(x.slot.lastProgress !== undefined ? { progress: x.slot.lastProgress } : {}) })) };
        const actions = await opts.policy(observations, context);
        if (!Array.isArray(actions) || actions.length !== observations.length) {
          throw new ArgumentError('VLA_ARGUMENT', `the policy returned ${Array.isArray(actions) ? actions.length : typeof actions} actions for ${observations.length} observations`);
        }
        waiting.forEach((x, i) => {
          const p = x.slot.plan!;
          // Validate here for a clear error; the environment clips (and reports clipping).
          clipAction(actions[i], `policy action ${i} (episode ${p.task}#${p.episodeIndex}, step ${x.slot.step})`);
          x.slot.pendingAction = Float64Array.from(actions[i]!);
        });
      }
      if (opts.shouldEnd) for (const x of waiting) x.slot.finishNext = opts.shouldEnd({ ...x.slot.plan!, step: x.slot.step }) === true;
    }
  } finally {
    await Promise.all(handles.map((h) => h.close()));
  }
  const end = performance.now();
  return {
    episodes: results,
    envSteps,
    seconds: (end - started) / 1000,
    startupSeconds: (ready - started) / 1000,
    envStepsPerSecond: envSteps / ((end - ready) / 1000),
    workers: nWorkers,
    envs: nSlots,
    images,
  };
}
