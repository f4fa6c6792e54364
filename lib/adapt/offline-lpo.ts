/**
 * The offline test-time training protocol of TTT-VLA with latent prompt optimization, end to
 * end: evaluate the frozen policy in the target world, roll it out there to fill the buffer
 * (successes and failures), optimize the prompt on the state-grounding loss, evaluate again on
 * the same episodes (same tasks, configurations, seeds and per-step noise), and compare them
 * episode by episode (flip table, exact McNemar p).
 *
 * Joint mode adapts one prompt on every task's transitions; per-task mode adapts a prompt per
 * task from the trained one, on that task's transitions only, and evaluates each task with its
 * own prompt.
 *
 * @example
 * ```ts
 * const r = await runOfflineLpo({ checkpoint: 'models/tabletop-small.safetensors', shift: 'camera', tasks: parseTaskList('base') });
 * r.comparison.overall;   // { base, post, failToSucc, succToFail, pValue, ... }
 * ```
 */
import { ArgumentError } from '../errors.js';
import { comparePaired, evaluate, type EvalReport, type PairedComparison } from '../tabletop/eval.js';
import { EpisodeRecorder } from '../tabletop/episode-recorder.js';
import type { Device } from '../model/device.js';
import { loadController } from '../tabletop/policy-controller.js';
import { planEpisodes, runRollouts, type ImageRendering } from '../tabletop/rollout.js';
import { embodimentIdOf, parseShift } from '../tabletop/shifts.js';
import { promptSourceFor } from '../model/training-metadata.js';
import { optimizePrompt, type PromptOptimizationResult, type PromptProgress } from './latent-prompt.js';
import { optimizePromptOnline, type OnlineLearnerReport, type StreamOptimizationOptions } from './online-prompt-learner.js';
import { DEFAULT_BUFFER_TRAJECTORIES, TrajectoryBuffer } from './trajectory-buffer.js';

export interface OfflineLpoOptions {
  checkpoint: string;
  /** Where the policy acts and takes its prompt steps (default 'cpu'; Policy.to). */
  device?: Device;
  shift: string;
  shiftSeed?: number;
  tasks: readonly string[];
  /** Evaluation episodes per task (default 200), protocol seed (default 0). */
  episodesPerTask?: number;
  seed?: number;
  /** Buffer trajectories collected in the target world (default 800, spread over the tasks). */
  bufferTrajectories?: number;
  /** Seed of the buffer's episodes (default 1: other episodes than the evaluation's). */
  bufferSeed?: number;
  mode?: 'joint' | 'per-task';
  steps?: number;
  batch?: number;
  lr?: number;
  weightDecay?: number;
  /** Seed of the optimization's draws. */
  optimizationSeed?: number;
  executeSteps?: number;
  workers?: number;
  envsPerWorker?: number;
  render?: ImageRendering;
  /**
   * The frozen policy's evaluation under this shift, done before (vla-ttt sweep): reused instead of
   * evaluating again. It must cover the same tasks, episodes, protocol seed, shift and shift seed.
   */
  before?: EvalReport;
  /** A buffer collected before in this target world (e.g. saved by an earlier run), used instead of collecting one. */
  buffer?: TrajectoryBuffer;
  /**
   * Start the prompt blocks of the buffer's embodiments from this embodiment's trained block
   * before optimizing (after the before-evaluation and the buffer, which use the policy as
   * shipped). For an embodiment the policy was never trained on, whose block is still its random
   * initialization (see trainedEmbodiments), starting from a trained block is the sensible default.
   * 'auto': only when the checkpoint records that the target world's embodiment had no training
   * data, from the embodiment with the most (promptSourceFor); otherwise nothing changes.
   */
  initPromptFrom?: number | 'auto';
  /**
   * Online protocol instead of offline: the buffer's transitions are consumed once, in the order
   * they happened, in micro-batches, with the chosen stabilizers (online-prompt-learner.ts);
   * steps, batch and lr above are then ignored in favour of these settings.
   */
  online?: Omit<StreamOptimizationOptions, 'tasks' | 'signal' | 'onProgress'>;
  onStage?: (stage: 'before' | 'buffer' | 'optimize' | 'after', detail: string) => void;
  onProgress?: (p: PromptProgress & { task: string | null }) => void;
}

export interface OfflineLpoResult {
  checkpoint: string;
  shift: string;
  shiftSeed: number;
  mode: 'joint' | 'per-task';
  settings: { episodesPerTask: number; seed: number; bufferTrajectories: number; bufferSeed: number; steps: number; batch: number; lr: number; weightDecay: number; optimizationSeed: number; executeSteps: number | null };
  before: EvalReport;
  after: EvalReport;
  comparison: PairedComparison;
  buffer: { trajectories: number; transitions: number; successes: number; seconds: number };
  /** One entry per optimized prompt: the whole buffer (joint) or a task (per-task); `online` with the online protocol. */
  optimizations: Array<{ task: string | null; online?: OnlineLearnerReport } & PromptOptimizationResult>;
  /** The online protocol's settings, null for the offline protocol. */
  online: OfflineLpoOptions['online'] | null;
  /** The embodiment whose trained block the adapted blocks started from, null when each started from its own. */
  initPromptFrom: number | null;
  /** [K, width] of each prompt block. */
  promptShape: [number, number];
  /** Adapted prompt blocks [K * width] by embodiment, under 'all' (joint) or each task (per-task). */
  prompts: Record<string, Record<number, number[]>>;
  seconds: { before: number; buffer: number; optimize: number; after: number; total: number };
  /** The buffer itself, to save or reuse. */
  bufferObject: TrajectoryBuffer;
}

/** Per-task successes, rate and Wilson interval of an evaluation, without its episodes. */
export interface EvalSummary {
  mean: number;
  tasks: Record<string, Pick<EvalReport['tasks'][string], 'successes' | 'episodes' | 'rate' | 'ci95'>>;
}

/**
 * What `vla-ttt adapt` (and `vla-ttt demo`) write as result.json: the run without its bulky parts
 * (the buffer, the prompts, every episode), with before/after as per-task summaries.
 */
export type LpoResultSummary = Omit<OfflineLpoResult, 'bufferObject' | 'prompts' | 'before' | 'after'> & { before: EvalSummary; after: EvalSummary };

export function summarizeEval(e: EvalReport): EvalSummary {
  return { mean: e.mean, tasks: Object.fromEntries(Object.entries(e.tasks).map(([k, t]) => [k, { successes: t.successes, episodes: t.episodes, rate: t.rate, ci95: t.ci95 }])) };
}

export function summarizeLpoResult(r: OfflineLpoResult): LpoResultSummary {
  const { bufferObject: _buffer, prompts: _prompts, before, after, ...rest } = r;
  return { ...rest, before: summarizeEval(before), after: summarizeEval(after) };
}

/** Merges per-task reports of one evaluation protocol into one report. */
function mergeReports(parts: EvalReport[]): EvalReport {
  const first = parts[0]!;
  const tasks = Object.assign({}, ...parts.map((p) => p.tasks)) as EvalReport['tasks'];
  const rates = Object.values(tasks).map((t) => t.rate);
  const envSteps = parts.reduce((s, p) => s + p.envSteps, 0);
  const seconds = parts.reduce((s, p) => s + p.seconds, 0);
  return {
    ...first,
    mean: rates.reduce((a, b) => a + b, 0) / rates.length,
    tasks,
    envSteps,
    seconds,
    startupSeconds: parts.reduce((s, p) => s + p.startupSeconds, 0),
    envStepsPerSecond: envSteps / Math.max(seconds, 1e-9),
    episodes: parts.flatMap((p) => p.episodes),
  };
}

export async function runOfflineLpo(o: OfflineLpoOptions): Promise<OfflineLpoResult> {
  if (o.tasks.length === 0) throw new ArgumentError('VLA_ARGUMENT', 'runOfflineLpo: no tasks');
  const shift = parseShift(o.shift);
  const shiftSeed = o.shiftSeed ?? 0;
  const mode = o.mode ?? 'joint';
  const settings = {
    episodesPerTask: o.episodesPerTask ?? 200,
    seed: o.seed ?? 0,
    bufferTrajectories: o.bufferTrajectories ?? DEFAULT_BUFFER_TRAJECTORIES,
    bufferSeed: o.bufferSeed ?? 1,
    steps: o.steps ?? 500,
    batch: o.batch ?? 128,
    lr: o.lr ?? 1e-3,
    weightDecay: o.weightDecay ?? 0,
    optimizationSeed: o.optimizationSeed ?? 0,
    executeSteps: o.executeSteps ?? null as number | null,
  };
  if (settings.bufferSeed === settings.seed) {
    throw new ArgumentError('VLA_ARGUMENT', `the buffer seed (${settings.bufferSeed}) equals the evaluation seed: the buffer would hold the evaluated episodes; pick another`);
  }
  const controller = loadController(o.checkpoint, { ...(settings.executeSteps !== null ? { executeSteps: settings.executeSteps } : {}), device: o.device ?? 'cpu' });
  settings.executeSteps = controller.executeSteps;
  const policy = controller.policy;
  if (!policy.config.use_prompt || !policy.config.use_state_expert) {
    throw new ArgumentError('VLA_ARGUMENT', `${o.checkpoint}: latent prompt optimization needs a policy with a prompt and a state-grounding expert (this is a baseline checkpoint)`);
  }
  const imageSize = { width: policy.config.image_size, height: policy.config.image_size };
  const common = {
    policy: controller.batchPolicy,
    policyName: o.checkpoint,
    shift: shift.text,
    shiftSeed,
    ...(o.workers !== undefined ? { workers: o.workers } : {}),
    ...(o.envsPerWorker !== undefined ? { envsPerWorker: o.envsPerWorker } : {}),
    render: o.render ?? ('native' as const),
    imageSize,
  };
  const t0 = performance.now();
  const lap = (() => {
    let last = t0;
    return () => {
      const now = performance.now();
      const s = (now - last) / 1000;
      last = now;
      return s;
    };
  })();

  let before: EvalReport;
  if (o.before) {
    const b = o.before;
    const mismatch =
      b.shift !== shift.text ? `shift '${b.shift}', not '${shift.text}'`
      : b.shiftSeed !== shiftSeed ? `shift seed ${b.shiftSeed}, not ${shiftSeed}`
      : b.seed !== settings.seed ? `protocol seed ${b.seed}, not ${settings.seed}`
      : b.episodesPerTask !== settings.episodesPerTask ? `${b.episodesPerTask} episodes per task, not ${settings.episodesPerTask}`
      : Object.keys(b.tasks).join(',') !== o.tasks.join(',') ? `tasks ${Object.keys(b.tasks).join(',')}, not ${o.tasks.join(',')}`
      : null;
    if (mismatch) throw new ArgumentError('VLA_ARGUMENT', `the given baseline evaluation has ${mismatch}`);
    o.onStage?.('before', `reusing the frozen policy's evaluation under '${shift.text}' (mean ${(100 * b.mean).toFixed(1)}%)`);
    before = b;
  } else {
    o.onStage?.('before', `evaluating the frozen policy under '${shift.text}'`);
    before = await evaluate({ ...common, tasks: o.tasks, episodesPerTask: settings.episodesPerTask, seed: settings.seed });
  }
  const beforeSeconds = lap();

  // Rollouts of the frozen policy in the target world, from the buffer seed.
  async function collectBuffer(): Promise<TrajectoryBuffer> {
    const buffer = new TrajectoryBuffer({ capacity: settings.bufferTrajectories, imageSize });
    const recorder = new EpisodeRecorder(imageSize);
    const perTask = Math.max(1, Math.ceil(settings.bufferTrajectories / o.tasks.length));
    await runRollouts({
      policy: controller.batchPolicy,
      episodes: planEpisodes(o.tasks, perTask, settings.bufferSeed),
      env: { shift: shift.text, shiftSeed },
      ...(o.workers !== undefined ? { workers: o.workers } : {}),
      ...(o.envsPerWorker !== undefined ? { envsPerWorker: o.envsPerWorker } : {}),
      render: common.render,
      imageSize,
      onTransition: recorder.onTransition,
      onEpisode: (r) => buffer.add(recorder.finish(r)),
    });
    return buffer;
  }

  let buffer: TrajectoryBuffer;
  if (o.buffer) {
    buffer = o.buffer;
    if (buffer.imageSize.width !== imageSize.width || buffer.imageSize.height !== imageSize.height) {
      throw new ArgumentError('VLA_ARGUMENT', `the given buffer holds ${buffer.imageSize.width}x${buffer.imageSize.height} frames but the policy takes ${imageSize.width}x${imageSize.height}`);
    }
    o.onStage?.('buffer', `using the given buffer (${buffer.size} trajectories, ${buffer.transitions} transitions)`);
  } else {
    o.onStage?.('buffer', `rolling out ${settings.bufferTrajectories} trajectories of the frozen policy into the buffer`);
    buffer = await collectBuffer();
  }
  const bufferSeconds = lap();

  let initPromptFrom: number | null = typeof o.initPromptFrom === 'number' ? o.initPromptFrom : null;
  if (o.initPromptFrom === 'auto') {
    const target = embodimentIdOf(shift);
    initPromptFrom = promptSourceFor(policy, target);
    if (initPromptFrom !== null) o.onStage?.('optimize', `embodiment ${target} had no training data (its prompt block is untrained); starting it from embodiment ${initPromptFrom}'s block`);
  }
  if (initPromptFrom !== null) {
    const from = initPromptFrom;
    if (!Number.isInteger(from) || from < 0 || from >= policy.config.num_embodiments) {
      throw new ArgumentError('VLA_ARGUMENT', `initPromptFrom: embodiment ${from} is not in [0, ${policy.config.num_embodiments})`);
    }
    const source = policy.getPrompt(from);
    const targets = [...new Set(buffer.trajectories().map((e) => e.embodimentId))].filter((e) => e !== from);
    for (const e of targets) policy.setPrompt(e, source);
    o.onStage?.('optimize', `prompt block(s) ${targets.join(', ') || '(none)'} start from embodiment ${from}'s trained block`);
  }
  const trained = new Map<number, Float32Array | Float64Array>();
  for (let e = 0; e < policy.config.num_embodiments; e++) trained.set(e, policy.getPrompt(e));
  const restore = () => trained.forEach((p, e) => policy.setPrompt(e, p));
  const optimizations: OfflineLpoResult['optimizations'] = [];
  const prompts: OfflineLpoResult['prompts'] = {};
  const optimize = async (task: string | null) => {
    const progress = o.onProgress ? { onProgress: (p: PromptProgress) => o.onProgress!({ ...p, task }) } : {};
    if (o.online) {
      o.onStage?.('optimize', `online: streaming ${task ?? 'all tasks'}' transitions in micro-batches of ${o.online.microBatch ?? 1}`);
      const r = await optimizePromptOnline(policy, controller.normalization, buffer, { ...o.online, ...(task ? { tasks: [task] } : {}), ...progress });
      optimizations.push({ task, ...r });
      prompts[task ?? 'all'] = Object.fromEntries(r.embodiments.map((e) => [e, Array.from(policy.getPrompt(e))]));
      return;
    }
    o.onStage?.('optimize', `optimizing the prompt on ${task ?? 'all tasks'} (${settings.steps} steps of ${settings.batch})`);
    const r = await optimizePrompt(policy, controller.normalization, buffer, {
      steps: settings.steps,
      batch: settings.batch,
      lr: settings.lr,
      weightDecay: settings.weightDecay,
      seed: settings.optimizationSeed,
      ...(task ? { tasks: [task] } : {}),
      ...progress,
    });
    optimizations.push({ task, ...r });
    prompts[task ?? 'all'] = Object.fromEntries(r.embodiments.map((e) => [e, Array.from(policy.getPrompt(e))]));
  };

  let after: EvalReport;
  let optimizeSeconds = 0;
  let afterSeconds = 0;
  if (mode === 'joint') {
    await optimize(null);
    optimizeSeconds = lap();
    o.onStage?.('after', 'evaluating the adapted policy on the same episodes');
    after = await evaluate({ ...common, tasks: o.tasks, episodesPerTask: settings.episodesPerTask, seed: settings.seed });
    afterSeconds = lap();
  } else {
    const parts: EvalReport[] = [];
    for (const task of o.tasks) {
      restore();
      await optimize(task);
      optimizeSeconds += lap();
      o.onStage?.('after', `evaluating ${task} with its adapted prompt`);
      parts.push(await evaluate({ ...common, tasks: [task], episodesPerTask: settings.episodesPerTask, seed: settings.seed }));
      afterSeconds += lap();
    }
    after = mergeReports(parts);
  }
  const comparison = comparePaired(before, after);
  const trajectories = buffer.trajectories();
  return {
    checkpoint: o.checkpoint,
    shift: shift.text,
    shiftSeed,
    mode,
    settings,
    before,
    after,
    comparison,
    buffer: { trajectories: trajectories.length, transitions: buffer.transitions, successes: trajectories.filter((e) => e.success).length, seconds: bufferSeconds },
    optimizations,
    online: o.online ?? null,
    initPromptFrom,
    promptShape: [policy.config.num_prompt_tokens, policy.config.backbone.width],
    prompts,
    seconds: { before: beforeSeconds, buffer: bufferSeconds, optimize: optimizeSeconds, after: afterSeconds, total: (performance.now() - t0) / 1000 },
    bufferObject: buffer,
  };
}
