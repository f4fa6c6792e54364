/**
 * Evolve from environment feedback (EVOLVE-VLA, methods digest section 3) on a flow policy:
 * each iteration runs G rollouts from each of a few initial states, scores them with the
 * accumulative progress estimator over a learned pairwise critic (or the ground-truth oracle,
 * for ablations), normalizes the rewards within each group, and takes advantage-weighted CFM
 * steps on the chunks the policy sampled.
 *
 * One iteration:
 * 1. Initial states: `groupsPerTask` (task, configuration, seed) per task, drawn from the
 *    iteration's seed; each is run G times (episode indices differ, so do the chunks' noise:
 *    PolicyController noisePerEpisode).
 * 2. Online estimation: every observed frame goes to its episode's ProgressEstimator; the
 *    critic queries of a round are answered in one batch. The episode ends early when the
 *    estimator judges it done (v / 100 > tau) or at the stage's horizon H_max (progressive
 *    extension, horizon-schedule.ts); the task's step cap ends the rest.
 * 3. Reward R = v / 100 (or 0/1 in binary mode); advantages A = group-normalized R.
 * 4. Update: every chunk the policy sampled in the iteration is a CFM target; `epochs` passes of
 *    minibatches, AdamW on the chosen parameters (prompt only, action expert, or all).
 *    - 'awr' (default): advantage-weighted CFM, each chunk with fresh noise and time, weighted by
 *      w = min(exp(A / beta), maxWeight) of its episode, normalized to mean 1 over the iteration.
 *    - 'fpo': FPO's clipped surrogate. Each chunk gets `fpoDraws` fixed (noise, time) draws; its
 *      CFM loss averaged over them stands in for -log likelihood, rho = exp(L_old - L_new) with
 *      L_old measured before the first step, objective -min(rho A, clip(rho, 1 -+ eps) A). The
 *      native step takes per-row weights dObjective/dL_new (zero where clipped; negative
 *      advantages push their chunks' loss up).
 *    Combined mode (`promptStateSteps` > 0):
 *    after each update step, state-grounding prompt steps (TTT-VLA's LPO loss) on the same
 *    observations keep the prompt grounded.
 *
 * Reward hacking is counted: episodes the estimator ended as done that the environment scores
 * as failed.
 *
 * @example
 * ```ts
 * const result = await runEvolve({ policy, normalization, critic, tasks: ['carrot-on-plate'],
 *   iterations: 10, groupSize: 8, seed: 0, onIteration: (it) => console.log(it.envSuccess) });
 * ```
 */
import { ArgumentError, RangeValueError } from '../errors.js';
import type { Policy, PolicyObservation } from '../model/policy.js';
import type { ParamGroupName } from '../native/addon-types.js';
import { runRollouts, type EpisodePlan, type EpisodeResult, type WorkerEnvOptions } from '../tabletop/rollout.js';
import { PolicyController, type SampledChunk } from '../tabletop/policy-controller.js';
import { CONFIGURATIONS_PER_TASK, DEFAULT_EPISODE_CAPS, episodeCap, getTask } from '../tabletop/tasks.js';
import { Tensor } from '../tensor.js';
import type { DemoSet, SampledBatch } from '../train/demo-set.js';
import type { Normalization } from '../train/normalization.js';
import { Rng, deriveSeed } from '../util/random.js';
import { progressLabel } from './critic-data.js';
import { TABLETOP_PROGRESS_OPTIONS } from './critic-quality.js';
import { advantageWeights, fpoSurrogate, groupAdvantages } from './group-advantages.js';
import { checkHorizonSchedule, defaultHorizonSchedule, horizonAt, type HorizonSchedule } from './horizon-schedule.js';
import type { CriticPair, ProgressCritic } from './progress-critic.js';
import { ProgressEstimator, type ProgressEstimatorOptions, type ProgressPoint } from './progress-estimator.js';

export type EvolveParams = 'prompt' | 'action' | 'all';

export interface EvolveUpdateOptions {
  /** 'awr' (advantage-weighted CFM, default) or 'fpo' (clipped CFM-loss ratio). */
  method?: 'awr' | 'fpo';
  /** FPO: clip epsilon (default 0.2) and (noise, time) draws per chunk (default 4). */
  fpoClip?: number;
  fpoDraws?: number;
  /** Which parameters move (default 'action'). */
  params?: EvolveParams;
  lr?: number;
  /**
   * AWR weights: 'exp' (default) w = min(exp(A / beta), maxWeight): every rollout is imitated,
   * the better ones more; 'positive' w = max(A, 0): only rollouts above their group's mean are
   * imitated (filtered self-imitation), the others not at all.
   */
  weighting?: 'exp' | 'positive';
  /** w = exp(A / beta), clipped at maxWeight. */
  beta?: number;
  maxWeight?: number;
  epochs?: number;
  batch?: number;
  maxGradNorm?: number;
  /**
   * Pull toward the pretrained weights after every update step: theta <- theta - anchor (theta -
   * theta_0) on the trained groups (0 = off). Bounds how far self-imitation can drift while a
   * consistent advantage direction still accumulates (L2-SP style decay to the start point).
   */
  anchor?: number;
  /** Combined mode: state-grounding prompt steps after each update step (0 = off). */
  promptStateSteps?: number;
  promptLr?: number;
  /**
   * Demonstrations replayed beside the rollouts (off when absent): after every update step, one
   * plain CFM step (action loss) on a batch of them at lr * replayWeight, on the same parameters. Self-imitation
   * alone has no restoring force (the targets move with the policy, so noise accumulates);
   * replaying the data the policy was trained on keeps it near what pretraining taught while the
   * advantage-weighted steps push. The demonstrations' normalization must be the policy's.
   */
  replay?: DemoSet;
  /** lr multiplier of the replay steps (default 1). */
  replayWeight?: number;
  /** Samples per replay step (default: batch). */
  replayBatch?: number;
}

export interface EvolveOptions {
  policy: Policy;
  normalization: Normalization;
  /** A learned critic, or 'oracle': answers from the simulator's ground-truth progress. */
  critic: ProgressCritic | 'oracle';
  tasks: readonly string[];
  env?: WorkerEnvOptions;
  iterations: number;
  /** Initial states per task per iteration (default 1). */
  groupsPerTask?: number;
  /** G: rollouts per initial state (default 8). */
  groupSize?: number;
  /** Progressive horizon extension; 'none' keeps the task's step cap throughout. Default: 3 stages growing to the longest task cap. */
  horizon?: HorizonSchedule | 'none';
  progress?: ProgressEstimatorOptions;
  update?: EvolveUpdateOptions;
  executeSteps?: number;
  seed: number;
  workers?: number;
  envsPerWorker?: number;
  onIteration?: (it: EvolveIteration) => void | Promise<void>;
  signal?: AbortSignal;
}

export interface EvolveEpisode {
  task: string;
  configuration: number;
  seed: number;
  episodeIndex: number;
  group: number;
  steps: number;
  /** The environment's verdict (judged where the episode ended). */
  success: boolean;
  /** The estimator ended it as done. */
  criticDone: boolean;
  reward: number;
  advantage: number;
  /** Ground-truth progress where it ended. */
  finalProgress: number | null;
}

export interface EvolveIteration {
  iteration: number;
  stage: number;
  maxSteps: number;
  episodes: EvolveEpisode[];
  envSuccess: number;
  meanReward: number;
  criticDone: number;
  /** Judged done by the critic, failed in fact. */
  rewardHacking: number;
  /** Groups whose rewards all tied (no update signal from them). */
  tiedGroups: number;
  samples: number;
  updateSteps: number;
  /** Mean weighted CFM loss over the update steps (before each step). */
  loss: number | null;
  /** Mean CFM loss of the replayed demonstrations (null without replay). */
  replayLoss: number | null;
  /** FPO: fraction of chunk updates whose ratio was clipped (null for AWR). */
  clippedFraction: number | null;
  criticCalls: number;
  seconds: number;
  /** v over the first episode of the iteration (for plots). */
  exampleHistory: ProgressPoint[];
}

export interface EvolveResult {
  iterations: EvolveIteration[];
  seconds: number;
}

interface Running {
  frames: Uint8Array[];
  progress: number[];
  estimator: ProgressEstimator;
  maxSteps: number;
  lastSeen: number;
  chunks: SampledChunk[];
}

const keyOf = (e: Pick<EpisodePlan, 'task' | 'episodeIndex'>) => `${e.task}#${e.episodeIndex}`;

function groupsFor(policy: Policy, params: EvolveParams): { groups: ParamGroupName[]; actionToPrompt: boolean } {
  const has = new Set(policy.layout().map((p) => p.group));
  if (params === 'prompt') {
    if (!has.has('prompt')) throw new ArgumentError('VLA_ARGUMENT', "evolve: update params 'prompt': this policy has no latent prompt (a baseline checkpoint); use 'action' or 'all'");
    return { groups: ['prompt'], actionToPrompt: true };
  }
  if (params === 'action') return { groups: ['action'], actionToPrompt: false };
  return { groups: (['embed', 'prompt', 'backbone', 'action'] as ParamGroupName[]).filter((g) => has.has(g)), actionToPrompt: has.has('prompt') };
}

/** Beta(1.5, 1) * 0.999 + 0.001 by inversion (openpi's flow time). */
function flowTime(rng: Rng): number {
  return Math.pow(rng.next(), 1 / 1.5) * 0.999 + 0.001;
}

export async function runEvolve(o: EvolveOptions): Promise<EvolveResult> {
  if (!Number.isSafeInteger(o.iterations) || o.iterations < 1) throw new ArgumentError('VLA_ARGUMENT', `evolve: iterations must be a positive integer, got ${String(o.iterations)}`);
  const G = o.groupSize ?? 8;
  const perTask = o.groupsPerTask ?? 1;
  if (!Number.isSafeInteger(G) || G < 2) throw new ArgumentError('VLA_ARGUMENT', `evolve: groupSize must be an integer >= 2 (advantages are relative within a group), got ${String(G)}`);
  if (!Number.isSafeInteger(perTask) || perTask < 1) throw new ArgumentError('VLA_ARGUMENT', `evolve: groupsPerTask must be a positive integer, got ${String(perTask)}`);
  if (o.tasks.length === 0) throw new ArgumentError('VLA_ARGUMENT', 'evolve: no tasks');
  const tasks = o.tasks.map((t) => getTask(t));
  const longest = Math.max(...tasks.map((t) => episodeCap(t, DEFAULT_EPISODE_CAPS)));
  const schedule = o.horizon === 'none' ? null : checkHorizonSchedule(o.horizon ?? defaultHorizonSchedule({ maxSteps: longest, iterations: o.iterations, stages: Math.min(3, o.iterations) }));
  const progressOptions = { ...TABLETOP_PROGRESS_OPTIONS, ...o.progress };
  new ProgressEstimator(progressOptions); // validates before any rollout
  const u = { method: 'awr' as 'awr' | 'fpo', weighting: 'exp' as 'exp' | 'positive', fpoClip: 0.2, fpoDraws: 4, params: 'action' as EvolveParams, lr: 1e-4, beta: 1, maxWeight: 5, epochs: 1, batch: 64, maxGradNorm: 1, promptStateSteps: 0, promptLr: 1e-3, anchor: 0, ...o.update };
  if (!(u.lr > 0 && u.lr < 1)) throw new RangeValueError('VLA_VALUE', `evolve: update lr must be in (0, 1), got ${String(u.lr)}`);
  if (!Number.isSafeInteger(u.epochs) || u.epochs < 1) throw new ArgumentError('VLA_ARGUMENT', `evolve: update epochs must be a positive integer, got ${String(u.epochs)}`);
  if (!Number.isSafeInteger(u.batch) || u.batch < 1) throw new ArgumentError('VLA_ARGUMENT', `evolve: update batch must be a positive integer, got ${String(u.batch)}`);
  if (!(u.anchor >= 0 && u.anchor <= 1)) throw new RangeValueError('VLA_VALUE', `evolve: anchor must be in [0, 1], got ${String(u.anchor)}`);
  if (u.weighting !== 'exp' && u.weighting !== 'positive') throw new ArgumentError('VLA_ARGUMENT', `evolve: weighting must be 'exp' or 'positive', got '${String(u.weighting)}'`);
  if (u.method !== 'awr' && u.method !== 'fpo') throw new ArgumentError('VLA_ARGUMENT', `evolve: update method must be 'awr' or 'fpo', got '${String(u.method)}'`);
  if (!Number.isSafeInteger(u.fpoDraws) || u.fpoDraws < 1) throw new ArgumentError('VLA_ARGUMENT', `evolve: fpoDraws must be a positive integer, got ${String(u.fpoDraws)}`);
  if (!(u.fpoClip > 0 && u.fpoClip < 1)) throw new ArgumentError('VLA_ARGUMENT', `evolve: fpoClip must be in (0, 1), got ${String(u.fpoClip)}`);
  const replayWeight = u.replayWeight ?? 1;
  const replayBatch = u.replayBatch ?? u.batch;
  if (!(replayWeight > 0 && replayWeight <= 100)) throw new RangeValueError('VLA_VALUE', `evolve: replayWeight must be in (0, 100], got ${String(u.replayWeight)}`);
  if (!Number.isSafeInteger(replayBatch) || replayBatch < 1) throw new ArgumentError('VLA_ARGUMENT', `evolve: replayBatch must be a positive integer, got ${String(u.replayBatch)}`);
  if (u.replay && u.replay.imageSize !== o.policy.config.image_size) {
    throw new ArgumentError('VLA_ARGUMENT', `evolve: the replayed demonstrations have ${u.replay.imageSize}px images, the policy takes ${o.policy.config.image_size}px`);
  }
  if (!Number.isSafeInteger(u.promptStateSteps) || u.promptStateSteps < 0) throw new ArgumentError('VLA_ARGUMENT', `evolve: promptStateSteps must be a non-negative integer, got ${String(u.promptStateSteps)}`);
  const { groups, actionToPrompt } = groupsFor(o.policy, u.params);
  if (u.promptStateSteps > 0 && !o.policy.config.use_state_expert) throw new ArgumentError('VLA_ARGUMENT', 'evolve: combined mode (promptStateSteps > 0) needs a policy with the state-grounding expert');
  if (o.critic !== 'oracle' && o.critic.imageSize !== o.policy.config.image_size) {
    throw new ArgumentError('VLA_ARGUMENT', `evolve: the critic takes ${o.critic.imageSize}px frames, the policy's camera gives ${o.policy.config.image_size}px`);
  }
  const H = o.policy.config.horizon;
  const A = o.policy.config.action_dim;
  o.policy.resetOptimizer();
  // The trained groups' elements and their starting values, for the anchor.
  const trained = new Set<string>(groups);
  const anchorRanges = o.policy.layout().filter((p) => trained.has(p.group)).map((p) => [p.offset, p.offset + p.size] as const);
  const start = u.anchor > 0 ? o.policy.getParams().slice() : null;
  const pullToStart = () => {
    if (!start) return;
    const now = o.policy.getParams();
    for (const [a, b] of anchorRanges) for (let i = a; i < b; i++) now[i] = now[i]! - u.anchor * (now[i]! - start[i]!);
    o.policy.setParams(now);
  };
  const started = performance.now();
  const out: EvolveIteration[] = [];
  let episodeCounter = 0;
  let replayed: SampledBatch | undefined;

  for (let it = 0; it < o.iterations; it++) {
    if (o.signal?.aborted) throw new ArgumentError('VLA_ARGUMENT', `evolve: aborted before iteration ${it}`);
    const t0 = performance.now();
    const { stage, maxSteps } = schedule ? horizonAt(schedule, it) : { stage: 0, maxSteps: longest };
    // 1. Initial states and their groups.
    const rng = new Rng(deriveSeed(o.seed, 'evolve-states', it));
    const plans: Array<EpisodePlan & { group: number }> = [];
    let group = 0;
    for (const task of tasks) {
      for (let k = 0; k < perTask; k++, group++) {
        const configuration = rng.int(CONFIGURATIONS_PER_TASK);
        const seed = deriveSeed(o.seed, 'evolve-seed', it, group);
        for (let g = 0; g < G; g++) plans.push({ task: task.name, configuration, seed, episodeIndex: episodeCounter++, group });
      }
    }
    const running = new Map<string, Running>();
    for (const p of plans) {
      running.set(keyOf(p), { frames: [], progress: [], estimator: new ProgressEstimator(progressOptions), maxSteps: Math.min(maxSteps, episodeCap(getTask(p.task))), lastSeen: -1, chunks: [] });
    }
    let criticCalls = 0;
    const score = async (pairs: CriticPair[], labels: number[]): Promise<Float64Array> => {
      criticCalls += pairs.length;
      if (o.critic === 'oracle') return Float64Array.from(labels);
      return o.critic.scoreAsync(pairs);
    };
    const controller = new PolicyController(o.policy, o.normalization, {
      ...(o.executeSteps !== undefined ? { executeSteps: o.executeSteps } : {}),
      seed: deriveSeed(o.seed, 'evolve-noise', it),
      noisePerEpisode: true,
      // The chunk's frame is the one batchPolicy stored for this step (the round's image buffer is not kept).
      onChunk: (c) => {
        const r = running.get(keyOf(c.episode))!;
        r.chunks.push({ ...c, observation: { ...c.observation, image: c.observation.image && { ...c.observation.image, data: r.frames[c.episode.step]! } } });
      },
    });
    const batchPolicy = async (observations: Parameters<typeof controller.batchPolicy>[0], context: Parameters<typeof controller.batchPolicy>[1]) => {
      // Each frame is copied once, before acting: the estimator and the chunks of this step share it.
      const rs = context.episodes.map((ep, i) => {
        const r = running.get(keyOf(ep))!;
        const img = observations[i]!.image;
        if (!img) throw new ArgumentError('VLA_ARGUMENT', 'evolve: observations carry no image; the critic needs frames');
        r.frames[ep.step] = img.data.slice();
        r.progress[ep.step] = ep.progress ?? NaN;
        r.lastSeen = ep.step;
        return r;
      });
      const actions = await controller.batchPolicy(observations, context);
      // 2. Online estimation: this round's critic queries, in one batch.
      const pairs: CriticPair[] = [];
      const labels: number[] = [];
      const asked: Array<{ r: Running; q: NonNullable<ReturnType<ProgressEstimator['observe']>> }> = [];
      context.episodes.forEach((ep, i) => {
        const r = rs[i]!;
        const q = r.estimator.observe(ep.step);
        if (q) {
          pairs.push({ before: r.frames[q.earlier]!, after: r.frames[q.later]!, instruction: observations[i]!.instruction });
          labels.push(progressLabel(r.progress[q.earlier]!, r.progress[q.later]!));
          asked.push({ r, q });
        }
      });
      if (pairs.length > 0) {
        const c = await score(pairs, labels);
        asked.forEach(({ r, q }, i) => r.estimator.record(q, c[i]!));
      }
      return actions;
    };
    const results = await runRollouts({
      policy: batchPolicy,
      episodes: plans.map(({ group: _g, ...p }) => p),
      env: o.env ?? {},
      progress: true,
      ...(o.workers !== undefined ? { workers: o.workers } : {}),
      ...(o.envsPerWorker !== undefined ? { envsPerWorker: o.envsPerWorker } : {}),
      imageSize: { width: o.policy.config.image_size, height: o.policy.config.image_size },
      shouldEnd: (ep) => {
        const r = running.get(keyOf(ep))!;
        return r.estimator.done || ep.step >= r.maxSteps;
      },
    });
    // The last observed frame's answer, where the episode ended between checks.
    const finals: Array<{ r: Running; q: NonNullable<ReturnType<ProgressEstimator['finish']>>; pair: CriticPair; label: number }> = [];
    results.episodes.forEach((e, i) => {
      const r = running.get(keyOf(e))!;
      const q = r.lastSeen > 0 ? r.estimator.finish(r.lastSeen) : null;
      if (q) finals.push({ r, q, pair: { before: r.frames[q.earlier]!, after: r.frames[q.later]!, instruction: getTask(plans[i]!.task).instruction }, label: progressLabel(r.progress[q.earlier]!, r.progress[q.later]!) });
    });
    if (finals.length > 0) {
      const c = await score(finals.map((f) => f.pair), finals.map((f) => f.label));
      finals.forEach((f, i) => f.r.estimator.record(f.q, c[i]!));
    }

    // 3. Rewards and group-normalized advantages.
    const episodes: EvolveEpisode[] = results.episodes.map((e: EpisodeResult, i) => {
      const r = running.get(keyOf(e))!;
      return { task: e.task, configuration: e.configuration, seed: e.seed, episodeIndex: e.episodeIndex, group: plans[i]!.group, steps: e.steps, success: e.outcome.success, criticDone: r.estimator.done, reward: r.estimator.reward, advantage: 0, finalProgress: e.finalProgress ?? null };
    });
    let tiedGroups = 0;
    for (let gi = 0; gi < group; gi++) {
      const members = episodes.filter((e) => e.group === gi);
      const adv = groupAdvantages(members.map((e) => e.reward));
      if (adv.every((a) => a === 0)) tiedGroups++;
      members.forEach((e, k) => (e.advantage = adv[k]!));
    }

    // 4. The flow-policy update on the sampled chunks (tied groups carry no preference).
    const samples: Array<{ chunk: SampledChunk; advantage: number; weight: number; oldLoss: number }> = [];
    for (const e of episodes) {
      if (e.advantage === 0) continue;
      const w = u.weighting === 'positive' ? Math.max(0, e.advantage) : advantageWeights([e.advantage], { beta: u.beta, maxWeight: u.maxWeight })[0]!;
      if (w === 0 && u.method === 'awr') continue;
      for (const chunk of running.get(keyOf(e))!.chunks) samples.push({ chunk, advantage: e.advantage, weight: w, oldLoss: 0 });
    }
    const meanW = samples.reduce((s, x) => s + x.weight, 0) / Math.max(1, samples.length);
    const updRng = new Rng(deriveSeed(o.seed, 'evolve-update', it));
    const draws = u.method === 'fpo' ? u.fpoDraws : 1;
    /** Rows of a minibatch: `draws` rows per chunk; FPO's draws are fixed per chunk (keyed by its index). */
    const rowsOf = (part: ReadonlyArray<{ chunk: SampledChunk; index: number }>, fresh: number | null) => {
      const B = part.length * draws;
      const obs = o.policy.pack(part.flatMap((x) => Array.from({ length: draws }, () => x.chunk.observation as PolicyObservation)));
      const actions = new Float32Array(B * H * A);
      const noise = new Float32Array(B * H * A);
      const time = new Float32Array(B);
      part.forEach((x, c) => {
        for (let d = 0; d < draws; d++) {
          const r = c * draws + d;
          actions.set(x.chunk.actions, r * H * A);
          const seed = fresh === null ? deriveSeed(o.seed, 'evolve-fpo', it, x.index, d) : deriveSeed(o.seed, 'evolve-flow', it, fresh, r);
          noise.set(Tensor.randn([H * A], { seed }).data, r * H * A);
          time[r] = flowTime(new Rng(seed));
        }
      });
      return { obs, actions, noise, time, B };
    };
    const indexed = samples.map((x, index) => ({ ...x, index }));
    if (u.method === 'fpo') {
      // L_old of every chunk, before any step of this iteration.
      for (let s0 = 0; s0 < indexed.length; s0 += u.batch) {
        const part = indexed.slice(s0, s0 + u.batch);
        const r = rowsOf(part, null);
        const per = o.policy.flowLoss(r.obs, { actions: r.actions, actionNoise: r.noise, actionTime: r.time });
        part.forEach((x, c) => {
          let m = 0;
          for (let d = 0; d < draws; d++) m += per[c * draws + d]!;
          samples[x.index]!.oldLoss = m / draws;
        });
      }
    }
    let losses = 0;
    let updateSteps = 0;
    let replayLosses = 0;
    let replaySteps = 0;
    let clippedChunks = 0;
    let chunkUpdates = 0;
    for (let epoch = 0; epoch < u.epochs && samples.length > 0; epoch++) {
      const order = updRng.shuffled(indexed);
      for (let s0 = 0; s0 < order.length; s0 += u.batch) {
        const part = order.slice(s0, s0 + u.batch);
        const r = rowsOf(part, u.method === 'fpo' ? null : epoch * order.length + s0);
        const weights = new Float32Array(r.B);
        if (u.method === 'fpo') {
          const per = o.policy.flowLoss(r.obs, { actions: r.actions, actionNoise: r.noise, actionTime: r.time });
          part.forEach((x, c) => {
            let m = 0;
            for (let d = 0; d < draws; d++) m += per[c * draws + d]!;
            const f = fpoSurrogate({ oldLoss: samples[x.index]!.oldLoss, newLoss: m / draws, advantage: x.advantage, clip: u.fpoClip });
            if (f.clipped) clippedChunks++;
            chunkUpdates++;
            for (let d = 0; d < draws; d++) weights[c * draws + d] = f.dLossDNewLoss;
          });
        } else {
          part.forEach((x, c) => (weights[c] = x.weight / meanW));
        }
        const step = await o.policy.flowStepAsync(r.obs, { actions: r.actions, actionNoise: r.noise, actionTime: r.time, actionWeights: weights }, { lr: u.lr, groups, actionToPrompt, maxGradNorm: u.maxGradNorm, weightDecay: 0 });
        if (!Number.isFinite(step.total)) throw new RangeValueError('VLA_VALUE', `evolve: the update loss became ${step.total} at iteration ${it}`);
        losses += step.total;
        updateSteps++;
        if (u.replay) {
          replayed = u.replay.sample(replayBatch, new Rng(deriveSeed(o.seed, 'evolve-replay', it, updateSteps)), { horizon: H, textLength: o.policy.config.max_text_len, tokenizer: o.policy.tokenizer, normalization: o.normalization, augment: null }, replayed);
          // trainStep draws the flow noise and time from (seed, step); the prompt is never dropped here.
          const rs = await o.policy.trainStepAsync({ observations: replayed.observations, actions: replayed.actions }, { lr: u.lr * replayWeight, seed: deriveSeed(o.seed, 'evolve-replay-flow', it), step: updateSteps, dropProbability: 0, stateLoss: false, groups, maxGradNorm: u.maxGradNorm, weightDecay: 0 });
          replayLosses += rs.total;
          replaySteps++;
        }
        pullToStart();
        for (let k = 0; k < u.promptStateSteps; k++) {
          await o.policy.promptStepAsync(r.obs, { lr: u.promptLr, seed: deriveSeed(o.seed, 'evolve-prompt', it), step: updateSteps * u.promptStateSteps + k });
        }
      }
    }
    const first = running.get(keyOf(plans[0]!))!;
    const report: EvolveIteration = {
      iteration: it,
      stage,
      maxSteps,
      episodes,
      envSuccess: episodes.filter((e) => e.success).length / episodes.length,
      meanReward: episodes.reduce((s, e) => s + e.reward, 0) / episodes.length,
      criticDone: episodes.filter((e) => e.criticDone).length,
      rewardHacking: episodes.filter((e) => e.criticDone && !e.success).length,
      tiedGroups,
      samples: samples.length,
      updateSteps,
      loss: updateSteps > 0 ? losses / updateSteps : null,
      replayLoss: replaySteps > 0 ? replayLosses / replaySteps : null,
      clippedFraction: u.method === 'fpo' && chunkUpdates > 0 ? clippedChunks / chunkUpdates : null,
      criticCalls,
      seconds: (performance.now() - t0) / 1000,
      exampleHistory: [...first.estimator.history],
    };
    out.push(report);
    await o.onIteration?.(report);
  }
  return { iterations: out, seconds: (performance.now() - started) / 1000 };
}
