/**
 * A trained policy as the tabletop's batched controller (BatchPolicy): it samples an action chunk
 * of H steps, executes its first `executeSteps` actions open loop, then samples a new chunk.
 * States are normalized and actions denormalized with the checkpoint's statistics.
 *
 * The starting noise of each chunk is drawn from (episode seed, step), so an episode's actions do
 * not depend on which other episodes share the batch or on the number of workers.
 *
 * @example
 * ```ts
 * const controller = loadController('models/tabletop-small.safetensors');
 * const report = await evaluate({ policy: controller.policy, ... });
 * ```
 */
import { ArgumentError } from '../errors.js';
import type { Device } from '../model/device.js';
import { Policy } from '../model/policy.js';
import { checkObservation } from '../model/validate.js';
import { Tensor } from '../tensor.js';
import { Normalization } from '../train/normalization.js';
import { checkSeed, deriveSeed } from '../util/random.js';
import type { Observation } from './env.js';
import type { PolicyObservation } from '../model/policy.js';
import type { BatchPolicy, EpisodePlan, PolicyContext } from './rollout.js';

export interface ControllerOptions {
  /** Actions of each chunk executed before sampling the next (1 = replan every step; default min(2, H): chosen on held-out episodes (protocol seed 7) of tabletop-small, where 2 to 4 tied and 2 replans sooner). */
  executeSteps?: number;
  /** Extra seed mixed into every chunk's noise (evaluations of the same checkpoint use 0). */
  seed?: number;
  /**
   * Mix the episode index into each chunk's noise: episodes that share a seed (one initial state,
   * a group of rollouts in EVOLVE) then act differently. Off by default, so evaluations keep their
   * noise.
   */
  noisePerEpisode?: boolean;
  /** Sees every sampled chunk: what a policy update learns from (evolve-loop.ts). */
  onChunk?: (c: SampledChunk) => void;
  /** Where loadController places the policy (default 'cpu'; Policy.to). */
  device?: Device;
}

/** One action chunk the controller sampled, in the policy's normalized units. */
export interface SampledChunk {
  episode: EpisodePlan & { step: number };
  /** The observation it was sampled from, state normalized. */
  observation: PolicyObservation;
  /** [H * A] normalized actions (the policy's output before denormalization). */
  actions: Float32Array;
}

/** Actions executed per chunk by default (capped by the chunk length H). */
export const DEFAULT_EXECUTE_STEPS = 2;

export class PolicyController {
  readonly executeSteps: number;
  private readonly chunks = new Map<string, { step: number; actions: Float32Array }>();

  constructor(
    readonly policy: Policy,
    readonly normalization: Normalization,
    private readonly options: ControllerOptions = {},
  ) {
    this.executeSteps = options.executeSteps ?? Math.min(DEFAULT_EXECUTE_STEPS, policy.config.horizon);
    if (!Number.isInteger(this.executeSteps) || this.executeSteps < 1 || this.executeSteps > policy.config.horizon) {
      throw new ArgumentError('VLA_ARGUMENT', `PolicyController: executeSteps must be an integer in [1, ${policy.config.horizon}] (the chunk length), got ${this.executeSteps}`);
    }
    // Checked here rather than at the first chunk, deep inside a rollout.
    checkSeed(options.seed ?? 0, 'PolicyController: seed');
    normalization.checkDimensions(policy.config.state_dim, policy.config.action_dim, 'PolicyController');
  }

  /** The BatchPolicy for runRollouts / evaluate. */
  readonly batchPolicy: BatchPolicy = (observations, context) => this.act(observations, context);

  private async act(observations: Observation[], context: PolicyContext): Promise<Float32Array[]> {
    const c = this.policy.config;
    const H = c.horizon;
    const A = c.action_dim;
    if (observations.length !== context.episodes.length) {
      throw new ArgumentError('VLA_ARGUMENT', `PolicyController: ${observations.length} observations for ${context.episodes.length} episodes (one each, in order)`);
    }
    observations.forEach((o, i) => checkObservation(o, c, `PolicyController: observation ${i}`));
    const keys = context.episodes.map((e) => `${e.task}/${e.episodeIndex}/${e.seed}`);
    const need: number[] = [];
    keys.forEach((k, i) => {
      const ep = context.episodes[i]!;
      const chunk = this.chunks.get(k);
      if (ep.step === 0 || !chunk || ep.step - chunk.step >= this.executeSteps || ep.step < chunk.step) need.push(i);
    });
    if (need.length > 0) {
      const obs = need.map((i) => {
        const o = observations[i]!;
        const state = Float32Array.from(o.state);
        this.normalization.normalizeState(state);
        return { ...o, state };
      });
      const noise = new Float32Array(need.length * H * A);
      need.forEach((i, j) => {
        const ep = context.episodes[i]!;
        const seed = this.options.noisePerEpisode ? deriveSeed(this.options.seed ?? 0, ep.seed, ep.episodeIndex, ep.step) : deriveSeed(this.options.seed ?? 0, ep.seed, ep.step);
        noise.set(Tensor.randn([H * A], { seed }).data, j * H * A);
      });
      const chunks = await this.policy.actAsync(obs, { noise });
      need.forEach((i, j) => {
        const actions = Float32Array.from(chunks.chunk(j));
        this.options.onChunk?.({ episode: context.episodes[i]!, observation: obs[j]!, actions: Float32Array.from(actions) });
        this.normalization.denormalizeAction(actions);
        this.chunks.set(keys[i]!, { step: context.episodes[i]!.step, actions });
      });
    }
    return keys.map((k, i) => {
      const chunk = this.chunks.get(k)!;
      const offset = context.episodes[i]!.step - chunk.step;
      return chunk.actions.slice(offset * A, (offset + 1) * A);
    });
  }
}

/** Loads a checkpoint trained by `vla-ttt train` (weights, vocabulary and normalization). */
export function loadController(path: string, options: ControllerOptions = {}): PolicyController {
  const policy = Policy.load(path, { device: options.device ?? 'cpu' });
  const norm = policy.metadata['normalization'];
  if (norm === undefined) throw new ArgumentError('VLA_ARGUMENT', `${path}: no 'normalization' metadata; was it trained with vla-ttt train?`);
  return new PolicyController(policy, Normalization.fromJSON(norm, path), options);
}
