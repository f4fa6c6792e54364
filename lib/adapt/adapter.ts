/**
 * Test-time adaptation inside a running control loop. The controller acts through the Adapter
 * and reports each step and each episode's end; the Adapter keeps the trajectories in a bounded
 * buffer and, when asked, optimizes the latent prompt on a shadow copy of the policy, on native
 * threads, while the loop keeps acting with the current prompt. The adapted prompt is swapped
 * into the acting policy at the start of the next `act` call, never during one.
 *
 * @example
 * ```ts
 * const adapter = new Adapter(policy, normalization, { steps: 200, batch: 64 });
 * // in the loop, every control period:
 * const chunk = await adapter.act(observation, { seed });
 * adapter.record('episode-7', observation, action);
 * // at the end of an episode:
 * adapter.endEpisode('episode-7', { success: false, task: 'carrot-on-plate' });
 * // whenever the buffer holds enough: adapt in the background
 * const running = adapter.adapt({ onProgress: (p) => console.log(p.step, p.loss) });
 * // ... the loop goes on; when `running` resolves, the next act uses the adapted prompt.
 * ```
 */
import { ArgumentError } from '../errors.js';
import { ActionChunks, type ActOptions, type Policy, type PolicyObservation } from '../model/policy.js';
import { checkAction, checkObservation } from '../model/validate.js';
import type { Normalization } from '../train/normalization.js';
import { checkPromptSettings, optimizePrompt, type PromptOptimizationResult, type PromptProgress } from './latent-prompt.js';
import { DEFAULT_BUFFER_TRAJECTORIES, TrajectoryBuffer } from './trajectory-buffer.js';

export interface AdapterOptions {
  /** Trajectories the buffer keeps (default 800). */
  capacity?: number;
  /** Prompt optimization per adapt() call: steps (default 500), batch (128), lr (1e-3), seed (0). */
  steps?: number;
  batch?: number;
  lr?: number;
  weightDecay?: number;
  seed?: number;
}

export interface AdaptationReport extends PromptOptimizationResult {
  /** Trajectories and transitions the optimization drew from. */
  trajectories: number;
  transitions: number;
}

const ADAPTER_OPTIONS: ReadonlyArray<keyof AdapterOptions> = ['capacity', 'steps', 'batch', 'lr', 'weightDecay', 'seed'];

interface OpenEpisode {
  instruction: string;
  embodimentId: number;
  state: number[];
  action: number[];
  frames: Uint8Array[];
}

export class Adapter {
  readonly buffer: TrajectoryBuffer;
  private readonly shadow: Policy;
  private readonly open = new Map<string, OpenEpisode>();
  private pending: Map<number, Float32Array | Float64Array> | null = null;
  private running: Promise<AdaptationReport> | null = null;
  private episodes = 0;
  private swaps = 0;

  constructor(
    /** The policy the control loop acts with. */
    readonly policy: Policy,
    readonly normalization: Normalization,
    private readonly options: AdapterOptions = {},
  ) {
    if (!policy.config.use_prompt || !policy.config.use_state_expert) {
      throw new ArgumentError('VLA_ARGUMENT', 'Adapter: the policy needs a latent prompt and a state-grounding expert (a baseline checkpoint cannot adapt its prompt)');
    }
    // Every setting is checked now, not at the first adapt() minutes into a run; a misspelled
    // option would otherwise be ignored silently.
    for (const key of Object.keys(options)) {
      if (!(ADAPTER_OPTIONS as readonly string[]).includes(key)) throw new ArgumentError('VLA_ARGUMENT', `Adapter: unknown option '${key}' (options: ${ADAPTER_OPTIONS.join(', ')})`);
    }
    const capacity = options.capacity ?? DEFAULT_BUFFER_TRAJECTORIES;
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new ArgumentError('VLA_ARGUMENT', `Adapter: capacity must be a positive integer, got ${String(capacity)}`);
    checkPromptSettings(options, 'Adapter');
    normalization.checkDimensions(policy.config.state_dim, policy.config.action_dim, 'Adapter');
    const side = policy.config.image_size;
    this.buffer = new TrajectoryBuffer({ capacity, imageSize: { width: side, height: side } });
    this.shadow = policy.clone();
  }

  /** Whether an adaptation is in progress. */
  get adapting(): boolean {
    return this.running !== null;
  }

  /** Adapted prompts swapped into the acting policy so far. */
  get swapCount(): number {
    return this.swaps;
  }

  /**
   * Acts with the acting policy (on a native thread), after swapping in an adapted prompt that is
   * waiting. The swap happens here, between two act calls, so no action chunk mixes prompts.
   * Observations carry raw states (meters) and the chunks come back in real units: the
   * checkpoint's normalization is applied on the way in and out.
   */
  async act(observations: readonly PolicyObservation[], options: ActOptions = {}): Promise<ActionChunks> {
    observations.forEach((o, i) => checkObservation(o, this.policy.config, `Adapter.act: observation ${i}`));
    this.swapIfReady();
    const normalized = observations.map((o) => {
      const state = Float32Array.from(o.state);
      this.normalization.normalizeState(state);
      return { ...o, state };
    });
    const chunks = await this.policy.actAsync(normalized, options);
    const actions = Float32Array.from(chunks.data);
    this.normalization.denormalizeAction(actions);
    return new ActionChunks(actions, chunks.batch, chunks.horizon, chunks.actionDim);
  }

  /** Swaps a waiting adapted prompt into the acting policy now (call only between act calls). */
  swapIfReady(): boolean {
    if (!this.pending) return false;
    for (const [e, p] of this.pending) this.policy.setPrompt(e, p);
    this.pending = null;
    this.swaps++;
    return true;
  }

  /** Records one control step: the observation the action was chosen from, and the action. */
  record(episode: string, observation: PolicyObservation, action: ArrayLike<number>): void {
    const c = this.policy.config;
    checkObservation(observation, c, `Adapter.record: episode '${episode}' observation`);
    checkAction(action, c.action_dim, 'Adapter.record: action');
    let ep = this.open.get(episode);
    if (!ep) {
      ep = { instruction: observation.instruction, embodimentId: observation.embodimentId, state: [], action: [], frames: [] };
      this.open.set(episode, ep);
    }
    for (let i = 0; i < observation.state.length; i++) ep.state.push(observation.state[i]!);
    for (let i = 0; i < action.length; i++) ep.action.push(action[i]!);
    ep.frames.push(observation.image!.data.slice());
  }

  /** Ends an episode: its trajectory (success or failure alike) enters the buffer. */
  endEpisode(episode: string, outcome: { success: boolean; task?: string }): void {
    const ep = this.open.get(episode);
    if (!ep) throw new ArgumentError('VLA_ARGUMENT', `Adapter.endEpisode: no recorded steps for episode '${episode}'`);
    this.open.delete(episode);
    const frame = ep.frames[0]!.length;
    const image = new Uint8Array(ep.frames.length * frame);
    ep.frames.forEach((f, i) => image.set(f, i * frame));
    this.buffer.add({
      task: outcome.task ?? ep.instruction,
      instruction: ep.instruction,
      episodeIndex: this.episodes++,
      configuration: 0,
      seed: 0,
      embodimentId: ep.embodimentId,
      success: outcome.success,
      stageSuccess: [outcome.success],
      state: Float32Array.from(ep.state),
      action: Float32Array.from(ep.action),
      image,
    });
  }

  /**
   * Optimizes the prompt on the buffer, on a shadow copy of the policy (native threads; the event
   * loop and the control loop keep running). When it resolves, the adapted prompt waits for the
   * next act() to swap it in. One adaptation at a time (a second call meanwhile rejects, as does
   * one on an empty buffer); `signal` stops it between two steps (the prompt reached so far is
   * still swapped in).
   */
  async adapt(options: { signal?: AbortSignal; onProgress?: (p: PromptProgress) => void } = {}): Promise<AdaptationReport> {
    if (this.running) throw new ArgumentError('VLA_ARGUMENT', 'Adapter.adapt: an adaptation is already running');
    if (this.buffer.size === 0) throw new ArgumentError('VLA_ARGUMENT', 'Adapter.adapt: the buffer is empty; record and end some episodes first');
    // The shadow starts from the acting policy's current prompt (including earlier adaptations).
    this.swapIfReady();
    this.shadow.setParams(this.policy.getParams());
    const trajectories = this.buffer.size;
    const transitions = this.buffer.transitions;
    const o = this.options;
    this.running = optimizePrompt(this.shadow, this.normalization, this.buffer, {
      ...(o.steps !== undefined ? { steps: o.steps } : {}),
      ...(o.batch !== undefined ? { batch: o.batch } : {}),
      ...(o.lr !== undefined ? { lr: o.lr } : {}),
      ...(o.weightDecay !== undefined ? { weightDecay: o.weightDecay } : {}),
      ...(o.seed !== undefined ? { seed: o.seed } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    })
      .then((r) => {
        this.pending = new Map(r.embodiments.map((e) => [e, this.shadow.getPrompt(e)]));
        return { ...r, trajectories, transitions };
      })
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }
}
