/**
 * The tabletop environment: one MuJoCo world driven at the control rate by 7-d actions
 * (actions.ts), observed as { image, instruction, state, embodimentId }.
 *
 * Time: each control step (1/controlHz s, 0.2 s by default) runs physicsHz/controlHz physics
 * steps (100 by default). An action sets a new target pose for the end effector; the mocap
 * body moves from the previous target to the new one linearly (orientation by slerp) over one
 * control period, and the weld pulls the hand after it, so motion is smooth. Under the
 * `latency` shift the action takes effect later by a number of physics steps.
 *
 * The target's update, in order: deltas x gain x embodiment action scale; translation added to
 * the previous target; rotation applied about world axes (a roll/pitch that would tilt the
 * gripper more than 0.6 rad from vertical is dropped, yaw is kept); the target is clamped to
 * the workspace (x in [-0.3, 0.3], y in [-0.35, 0.35], z in [0.0175, 0.35], so the source pads
 * stay above the table) and held within 6 cm of the actual end effector (a robot's controller
 * does not wind up when blocked).
 *
 * State (Float32Array, 4): end-effector x, y, z (meters, world frame) and the gripper opening
 * (meters between the pads, 0 .. 0.09).
 *
 * Images: by default every observation carries a 64x64 RGB image of the scene from the domain's
 * camera (`DEFAULT_IMAGE_SIZE`, observation-images.ts), drawn by the native renderer in this
 * thread; `images: { width, height }` picks another size and `images: false` turns them off
 * (`image: null`, physics only). Rollouts turn them off in their environments and draw all
 * environments of a worker in one batched call instead (`liveScene()`).
 *
 * @example
 * ```ts
 * const env = await TabletopEnv.create({ shift: 'camera+friction' });
 * let obs = env.reset({ task: 'carrot-on-plate', configuration: 0, seed: 1 });
 * obs.image; // { width: 64, height: 64, data: Uint8Array(64 * 64 * 3) }
 * while (true) {
 *   const r = env.step([0, 0, -0.01, 0, 0, 0, 1]);
 *   if (r.done) break;
 * }
 * env.outcome().success;
 * env.dispose();
 * const physicsOnly = await TabletopEnv.create({ images: false }); // observations without images
 * ```
 */
import { ArgumentError, RangeValueError } from '../errors.js';
import type { Scene } from '../render/scene.js';
import { add, lerp, matVec, norm, quatFromAxisAngle, quatMul, quatNormalize, quatSlerp, quatToMat, scale, sub, tiltOfMat, type Quat, type Vec3 } from '../util/math3d.js';
import { checkSeed } from '../util/random.js';
import { clipAction } from './actions.js';
import { DEFAULT_JITTER, episodeLayout, type EpisodeLayout, type PlacementJitter } from './layout.js';
import { MetricsTracker, type EpisodeOutcome, type WorldSnapshot } from './metrics.js';
import { loadMujoco, type MujocoModule } from './mujoco.js';
import type { ObjectInstance } from './objects.js';
import { EE_OFFSET, HOME_EE } from './robot.js';
import { checkImageSize, DEFAULT_IMAGE_SIZE, ObservationRenderer, type ImageSize, type RgbImage } from './observation-images.js';
import { SceneTemplate } from './scene-extract.js';
import { parseShift, resolveDomain, type Domain, type Shift } from './shifts.js';
import { CONFIGURATIONS_PER_TASK, DEFAULT_EPISODE_CAPS, episodeCap, getTask, type EpisodeCaps, type TaskSpec } from './tasks.js';
import { contactKey, DEFAULT_PHYSICS, travelForCommand, World, type WorldSpec } from './world.js';

export type { RgbImage } from './observation-images.js';

export interface Observation {
  /** The camera image (64x64 RGB by default, observation-images.ts); null with images off. */
  image: RgbImage | null;
  instruction: string;
  /** [ee x, ee y, ee z, gripper opening], meters. */
  state: Float32Array;
  /** See embodiments.ts. */
  embodimentId: number;
}

/** Which episode to run: a task, one of its 24 configurations, and the episode's seed. */
export interface EpisodeSpec {
  task: string;
  configuration: number;
  seed: number;
}

export interface StepInfo {
  /** Control steps taken so far in the episode (1 after the first step). */
  step: number;
  /** The action as taken: validated and clipped to bounds (actions.ts). */
  action: Float64Array;
  /** Indices of the action that were clipped to bounds. */
  clipped: number[];
  /** Whether each stage holds now. */
  stageHolds: boolean[];
}

export interface StepResult {
  observation: Observation;
  /** The episode reached its step cap (success is judged at this final step). */
  done: boolean;
  info: StepInfo;
}

export interface EnvOptions {
  /** Shift expression (shifts.ts) or a parsed shift; default 'source'. */
  shift?: string | Shift;
  /** Seed of the shift's realization (default 0). */
  shiftSeed?: number;
  /** Control rate, Hz (default 5). */
  controlHz?: number;
  /** Physics rate, Hz (default 500); must be a multiple of controlHz. */
  physicsHz?: number;
  /** Step caps (default 60 single-stage, 120 two-stage). */
  episodeCaps?: EpisodeCaps;
  /** Per-episode placement jitter (default DEFAULT_JITTER). */
  jitter?: PlacementJitter;
  /** MuJoCo island sleeping (default true). */
  sleep?: boolean;
  /** Observation image size (default DEFAULT_IMAGE_SIZE, 64x64), or false for no images. */
  images?: ImageSize | false;
}

/** Workspace bounds of the end-effector target, meters. */
export const WORKSPACE = { x: [-0.3, 0.3], y: [-0.35, 0.35], z: [0.0175, 0.35] } as const;
/** Largest distance between the target and the actual end effector, meters. */
export const TARGET_LEASH = 0.06;
/** Largest tilt of the gripper from vertical, radians. */
export const MAX_TILT = 0.6;
/** Physics time at reset before the first observation, seconds: objects come to rest. */
const SETTLE_SECONDS = 0.3;
/** Worlds kept compiled per environment (distinct object sets). */
const WORLD_CACHE_SIZE = 6;

/** A compiled world with its scene template and its live scene. */
interface WorldEntry {
  world: World;
  template: SceneTemplate;
  live: Scene;
}

/** Everything the scripted expert may read (never given to a learned policy). */
export interface PrivilegedState {
  task: TaskSpec;
  objects: readonly ObjectInstance[];
  stageObjects: ReadonlyArray<{ source: number; target: number }>;
  snapshot: WorldSnapshot;
  /** Object orientations (quaternions). */
  quats: Quat[];
  ee: Vec3;
  /** Flange rotation (row-major). */
  flangeMat: number[];
  /** The current end-effector target and flange-orientation target. */
  targetPos: Vec3;
  targetQuat: Quat;
  /** Midpoint of the pads (where objects are held). */
  padCenter: Vec3;
  opening: number;
  stageHolds: readonly boolean[];
  step: number;
  cap: number;
  domain: Domain;
}

interface PendingAction {
  effectSubstep: number;
  deltas: Float64Array;
  gripper: number;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

function checkPositiveInteger(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) throw new ArgumentError('VLA_ARGUMENT', `${field} must be a positive integer, got ${String(v)}`);
  return v;
}

/** Environment options with defaults filled in, after validation. */
export interface ResolvedEnvOptions {
  domain: Domain;
  controlHz: number;
  physicsHz: number;
  caps: EpisodeCaps;
  jitter: PlacementJitter;
  sleep: boolean;
  /** null: no images. */
  images: ImageSize | null;
}

/** Validates environment options (errors name the field) and fills in the defaults. */
export function resolveEnvOptions(opts: EnvOptions = {}): ResolvedEnvOptions {
  const shift = typeof opts.shift === 'string' || opts.shift === undefined ? parseShift(opts.shift ?? 'source') : opts.shift;
  const domain = resolveDomain(shift, checkSeed(opts.shiftSeed ?? 0, 'shiftSeed'));
  const controlHz = checkPositiveInteger(opts.controlHz ?? 5, 'controlHz');
  const physicsHz = checkPositiveInteger(opts.physicsHz ?? 500, 'physicsHz');
  if (physicsHz % controlHz !== 0) throw new ArgumentError('VLA_ARGUMENT', `physicsHz (${physicsHz}) must be a multiple of controlHz (${controlHz})`);
  const caps = opts.episodeCaps ?? DEFAULT_EPISODE_CAPS;
  checkPositiveInteger(caps.singleStage, 'episodeCaps.singleStage');
  checkPositiveInteger(caps.twoStage, 'episodeCaps.twoStage');
  const jitter = opts.jitter ?? DEFAULT_JITTER;
  if (!(jitter.position >= 0 && jitter.position <= 0.01) || !(jitter.yaw >= 0 && jitter.yaw <= 0.2)) {
    throw new RangeValueError('VLA_VALUE', `jitter must have position in [0, 0.01] m and yaw in [0, 0.2] rad, got ${JSON.stringify(jitter)}`);
  }
  if (opts.sleep !== undefined && typeof opts.sleep !== 'boolean') throw new ArgumentError('VLA_ARGUMENT', `sleep must be a boolean, got ${String(opts.sleep)}`);
  const images = opts.images === false ? null : checkImageSize(opts.images ?? DEFAULT_IMAGE_SIZE, 'images');
  return { domain, controlHz, physicsHz, caps, jitter, sleep: opts.sleep ?? DEFAULT_PHYSICS.sleep, images };
}

export class TabletopEnv {
  readonly domain: Domain;
  readonly controlHz: number;
  readonly physicsHz: number;
  readonly substeps: number;
  readonly caps: EpisodeCaps;
  private readonly jitter: PlacementJitter;
  private readonly sleep: boolean;
  /** Draws this environment's observation images; undefined with images off. */
  private readonly renderer: ObservationRenderer | undefined;
  private readonly worlds = new Map<string, WorldEntry>();

  private world: World | undefined;
  private template: SceneTemplate | undefined;
  /** The current world's scene, updated in place by liveScene(). */
  private live: Scene | undefined;
  private task: TaskSpec | undefined;
  private layout: EpisodeLayout | undefined;
  private metrics: MetricsTracker | undefined;
  private episode: EpisodeSpec | undefined;
  private steps = 0;
  private cap = 0;
  private substep = 0;
  private pending: PendingAction[] = [];
  private targetPos: Vec3 = [...HOME_EE];
  private targetQuat: Quat = [1, 0, 0, 0];
  private segFromPos: Vec3 = [...HOME_EE];
  private segFromQuat: Quat = [1, 0, 0, 0];
  private segStart = 0;
  private snapshot: WorldSnapshot | undefined;
  private disposed = false;

  private constructor(
    private readonly mj: MujocoModule,
    opts: EnvOptions,
  ) {
    const o = resolveEnvOptions(opts);
    this.domain = o.domain;
    this.controlHz = o.controlHz;
    this.physicsHz = o.physicsHz;
    this.substeps = o.physicsHz / o.controlHz;
    this.caps = o.caps;
    this.jitter = o.jitter;
    this.sleep = o.sleep;
    this.renderer = o.images ? new ObservationRenderer(o.images) : undefined;
  }

  /** The size of observation images; null with images off. */
  get imageSize(): ImageSize | null {
    return this.renderer ? { ...this.renderer.size } : null;
  }

  /** An environment in this thread (loads MuJoCo on first use). */
  static async create(opts: EnvOptions = {}): Promise<TabletopEnv> {
    const mj = await loadMujoco();
    return new TabletopEnv(mj, opts);
  }

  get embodimentId(): number {
    return this.domain.embodiment.id;
  }

  /** The current episode's task (after reset). */
  get currentTask(): TaskSpec {
    return this.require().task;
  }

  get currentEpisode(): EpisodeSpec | undefined {
    return this.episode;
  }

  /** Distractors placed in the current episode. */
  get distractorsPlaced(): number {
    return this.layout?.distractors ?? 0;
  }

  private worldFor(objects: readonly ObjectInstance[]): WorldEntry {
    const spec: WorldSpec = {
      objects,
      embodiment: this.domain.embodiment,
      physics: { timestep: 1 / this.physicsHz, frictionScale: this.domain.frictionScale, sleep: this.sleep },
    };
    const key = JSON.stringify(objects);
    let entry = this.worlds.get(key);
    if (entry) {
      // Most recently used last.
      this.worlds.delete(key);
      this.worlds.set(key, entry);
      return entry;
    }
    const world = World.create(this.mj, spec);
    const template = new SceneTemplate(world, this.domain);
    const d = this.domain;
    const live: Scene = { geoms: template.allocate(), camera: structuredClone(d.camera), lighting: structuredClone(d.lighting), background: [...d.background] };
    entry = { world, template, live };
    this.worlds.set(key, entry);
    if (this.worlds.size > WORLD_CACHE_SIZE) {
      const [oldKey, old] = this.worlds.entries().next().value as [string, WorldEntry];
      this.worlds.delete(oldKey);
      old.world.dispose();
    }
    return entry;
  }

  /** Starts an episode; returns its first observation. */
  reset(episode: EpisodeSpec): Observation {
    this.checkAlive();
    const task = getTask(episode.task);
    const c = episode.configuration;
    if (!Number.isSafeInteger(c) || c < 0 || c >= CONFIGURATIONS_PER_TASK) {
      throw new RangeValueError('VLA_VALUE', `configuration must be an integer in [0, ${CONFIGURATIONS_PER_TASK - 1}], got ${String(c)}`);
    }
    checkSeed(episode.seed, 'seed');
    const layout = episodeLayout(task, c, this.domain.distractors, episode.seed, this.jitter);
    const { world, template, live } = this.worldFor(layout.objects);
    this.world = world;
    this.template = template;
    this.live = live;
    this.task = task;
    this.layout = layout;
    this.episode = { ...episode };
    this.cap = episodeCap(task, this.caps);
    this.steps = 0;
    this.substep = 0;
    this.pending = [];

    world.reset();
    layout.poses.forEach((p, i) => world.setObjectPose(i, p));
    this.targetPos = [...HOME_EE];
    this.targetQuat = [1, 0, 0, 0];
    this.segFromPos = [...HOME_EE];
    this.segFromQuat = [1, 0, 0, 0];
    this.segStart = 0;
    world.placeHand(this.flangeFor(HOME_EE, this.targetQuat), this.targetQuat, travelForCommand(1));
    world.forward();
    const settle = Math.round(SETTLE_SECONDS * this.physicsHz);
    for (let i = 0; i < settle; i++) world.step();
    this.snapshot = this.takeSnapshot();
    this.metrics = new MetricsTracker(task.stages, layout.stageObjects, this.snapshot);
    return this.observe();
  }

  private flangeFor(ee: Vec3, quat: Quat): Vec3 {
    return sub(ee, matVec(quatToMat(quat), EE_OFFSET));
  }

  /** Advances one control step. */
  step(action: ArrayLike<number>): StepResult {
    const { world } = this.require();
    if (this.steps >= this.cap) throw new ArgumentError('VLA_ARGUMENT', `the episode is over (${this.cap} steps); call reset() first`);
    const { action: a, clipped } = clipAction(action);
    const k = this.domain.gain * this.domain.embodiment.actionScale;
    const deltas = Float64Array.from([a[0]! * k, a[1]! * k, a[2]! * k, a[3]! * k, a[4]! * k, a[5]! * k]);
    const delay = Math.round(this.domain.latencySteps * this.substeps);
    this.pending.push({ effectSubstep: this.steps * this.substeps + delay, deltas, gripper: a[6]! });

    const end = (this.steps + 1) * this.substeps;
    const mocapPos = world.data.mocap_pos;
    const mocapQuat = world.data.mocap_quat;
    const mocapIndex = world.mocapId;
    for (; this.substep < end; this.substep++) {
      while (this.pending.length > 0 && this.pending[0]!.effectSubstep <= this.substep) this.applyAction(this.pending.shift()!);
      const t = Math.min(1, (this.substep + 1 - this.segStart) / this.substeps);
      const quat = t >= 1 ? this.targetQuat : quatSlerp(this.segFromQuat, this.targetQuat, t);
      const ee = t >= 1 ? this.targetPos : lerp(this.segFromPos, this.targetPos, t);
      const flange = this.flangeFor(ee, quat);
      mocapPos.set(flange, mocapIndex * 3);
      mocapQuat.set(quat, mocapIndex * 4);
      world.step();
    }
    this.steps++;
    this.snapshot = this.takeSnapshot();
    this.metrics!.update(this.snapshot, clipped.length > 0);
    return {
      observation: this.observe(),
      done: this.steps >= this.cap,
      info: { step: this.steps, action: a, clipped, stageHolds: [...this.metrics!.holds()] },
    };
  }

  /** Turns a (scaled) action into a new target and starts moving the mocap toward it. */
  private applyAction(p: PendingAction): void {
    const world = this.world!;
    const t = Math.min(1, (this.substep - this.segStart) / this.substeps);
    // The mocap's pose right now: the start of the new segment.
    this.segFromPos = lerp(this.segFromPos, this.targetPos, t);
    this.segFromQuat = quatSlerp(this.segFromQuat, this.targetQuat, t);
    this.segStart = this.substep;

    const d = p.deltas;
    const dRot = quatMul(quatFromAxisAngle([0, 0, 1], d[5]!), quatMul(quatFromAxisAngle([0, 1, 0], d[4]!), quatFromAxisAngle([1, 0, 0], d[3]!)));
    let quat = quatNormalize(quatMul(dRot, this.targetQuat));
    if (tiltOfMat(quatToMat(quat)) > MAX_TILT) quat = quatNormalize(quatMul(quatFromAxisAngle([0, 0, 1], d[5]!), this.targetQuat));
    let pos = add(this.targetPos, [d[0]!, d[1]!, d[2]!]);
    pos = [clamp(pos[0], WORKSPACE.x[0], WORKSPACE.x[1]), clamp(pos[1], WORKSPACE.y[0], WORKSPACE.y[1]), clamp(pos[2], WORKSPACE.z[0], WORKSPACE.z[1])];
    const ee = world.eePos();
    const lag = sub(pos, ee);
    const dist = norm(lag);
    if (dist > TARGET_LEASH) pos = add(ee, scale(lag, TARGET_LEASH / dist));
    this.targetPos = pos;
    this.targetQuat = quat;
    world.setGripTarget(travelForCommand(p.gripper));
  }

  private takeSnapshot(): WorldSnapshot {
    const world = this.world!;
    const objects = this.layout!.objects;
    const contacts = world.contactPairs();
    // Source-target contact by geometry (covers objects that sleep together, see world.ts).
    for (const { source, target } of this.layout!.stageObjects) {
      if (world.objectsTouching(source, target)) contacts.add(contactKey(source, target));
    }
    return {
      objects,
      com: objects.map((_, i) => world.objectCom(i)),
      pos: objects.map((_, i) => world.objectPos(i)),
      mat: objects.map((_, i) => world.objectMat(i)),
      contacts,
    };
  }

  private observe(): Observation {
    const world = this.world!;
    const ee = world.eePos();
    let image: RgbImage | null = null;
    if (this.renderer) image = this.renderer.split(this.renderer.render([this.liveScene()]), 1)[0]!;
    return {
      image,
      instruction: this.task!.instruction,
      state: Float32Array.from([ee[0], ee[1], ee[2], world.gripperOpening()]),
      embodimentId: this.domain.embodiment.id,
    };
  }

  /** The scene to render now (see scene-extract.ts), in fresh arrays the caller may keep. */
  scene(): Scene {
    const { world } = this.require();
    const live = this.live!;
    return {
      geoms: this.template!.geoms(world),
      camera: structuredClone(live.camera),
      lighting: structuredClone(live.lighting),
      background: [...live.background],
    };
  }

  /**
   * The scene to render now, in arrays this environment owns and overwrites at the next call
   * (no allocation): for renderers that copy it at once (packScenes, postMessage).
   */
  liveScene(): Scene {
    const { world } = this.require();
    this.template!.update(world, this.live!.geoms);
    return this.live!;
  }

  /** The episode's outcome so far (final once `done`). */
  outcome(): EpisodeOutcome {
    this.require();
    return this.metrics!.outcome();
  }

  /** Privileged state for the scripted expert. */
  privileged(): PrivilegedState {
    const { world, task } = this.require();
    const f = world.flange();
    return {
      task,
      objects: this.layout!.objects,
      stageObjects: this.layout!.stageObjects,
      snapshot: this.snapshot!,
      quats: this.layout!.objects.map((_, i) => world.objectQuat(i)),
      ee: world.eePos(),
      flangeMat: f.mat,
      targetPos: [...this.targetPos],
      targetQuat: [...this.targetQuat],
      padCenter: world.padCenter(),
      opening: world.gripperOpening(),
      stageHolds: [...this.metrics!.holds()],
      step: this.steps,
      cap: this.cap,
      domain: this.domain,
    };
  }

  /** The world of the current episode (tests and tools; do not keep it across resets). */
  get currentWorld(): World {
    return this.require().world;
  }

  private require(): { world: World; task: TaskSpec } {
    this.checkAlive();
    if (!this.world || !this.task) throw new ArgumentError('VLA_ARGUMENT', 'no episode: call reset() first');
    return { world: this.world, task: this.task };
  }

  private checkAlive(): void {
    if (this.disposed) throw new ArgumentError('VLA_ARGUMENT', 'this environment was disposed');
  }

  /** Frees every compiled world (WASM memory). The environment cannot be used afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const { world } of this.worlds.values()) world.dispose();
    this.worlds.clear();
    this.world = undefined;
  }
}
