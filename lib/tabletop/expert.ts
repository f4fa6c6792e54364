/**
 * The scripted expert: a waypoint controller with privileged state (object poses, contacts,
 * the controller's target, the domain) that solves every task, with seeded noise in its
 * waypoints, speed and timing so that demonstrations differ.
 *
 * Per stage it runs: approach (above the grasp point, gripper aligned with the object's short
 * axis) -> descend -> close -> lift -> carry (above the target, the object's long axis aligned
 * with the target's) -> lower (the object's bottom just above the target's top) -> release ->
 * retreat. It watches for failures and retries: a missed grasp re-approaches, a dropped object
 * is picked up again, and a stage that stops holding (an object that slid off) is redone.
 *
 * It plans where the PADS go and converts to end-effector commands with the pads' actual offset
 * from the end effector, so it also drives embodiments whose pads are elsewhere (embodiments.ts).
 * It knows the domain's gain, action scale and latency and compensates for them, like a
 * calibrated controller would.
 *
 * @example
 * ```ts
 * const expert = new ScriptedExpert(seed);
 * let obs = env.reset(episode);
 * for (let done = false; !done; ) ({ done } = env.step(expert.act(env.privileged())));
 * ```
 */
import { RangeValueError } from '../errors.js';
import { matTVec, matVec, quatToMat, sub, wrapAngle, yawOfMat, type Vec3 } from '../util/math3d.js';
import { checkSeed, deriveSeed, Rng } from '../util/random.js';
import { GRIPPER_CLOSED, GRIPPER_OPEN, MAX_ROTATION, MAX_TRANSLATION } from './actions.js';
import type { PrivilegedState } from './env.js';
import { isGrasped } from './metrics.js';
import { OBJECTS } from './objects.js';
import { FINGER_TRAVEL, PAD_HALF } from './robot.js';

type Phase = 'approach' | 'descend' | 'close' | 'lift' | 'carry' | 'lower' | 'release' | 'retreat' | 'idle';

export interface ExpertOptions {
  /** Scales every noise amplitude (0 = a deterministic expert; default 1). */
  noise?: number;
}

/** Pad-center height while carrying, meters: clears the basket walls with any object held. */
const CARRY_Z = 0.125;
/** Lowest pad-center height: the pads' bottom edge 2 mm above the table. */
const MIN_PAD_Z = PAD_HALF[2] + 0.002;

interface EpisodeNoise {
  speed: number;
  hover: number;
  carry: number;
  clearance: number;
  graspAlong: number;
  place: [number, number];
}

export class ScriptedExpert {
  private readonly rng: Rng;
  private readonly noise: number;
  private readonly n: EpisodeNoise;
  private phase: Phase = 'approach';
  private retryAfterRetreat = false;
  /** Gripper opening when the current object was grasped, meters. */
  private graspOpening = 0.09;
  /** Height the current retreat goes up to. */
  private retreatZ = CARRY_Z;
  private stage = 0;
  private phaseSteps = 0;
  private waitSteps = 0;
  private lostSteps = 0;
  private lastPad: Vec3 | undefined;
  private stalled = 0;
  private lastOpening = Infinity;
  /** Initial height of each object's center of mass above its bottom (resting on the table). */
  private comHeight: number[] | undefined;
  /** Deltas emitted but not yet applied (under latency), in target units. */
  private history: Float64Array[] = [];

  constructor(seed: number, opts: ExpertOptions = {}) {
    checkSeed(seed, 'expert seed');
    this.rng = new Rng(deriveSeed(seed, 'expert'));
    this.noise = opts.noise ?? 1;
    if (!Number.isFinite(this.noise) || this.noise < 0) throw new RangeValueError('VLA_VALUE', `expert noise must be a finite number >= 0, got ${String(opts.noise)}`);
    const r = this.rng;
    const a = this.noise;
    this.n = {
      speed: Math.min(MAX_TRANSLATION, 0.04 + a * r.uniform(-0.008, 0.008)),
      hover: 0.06 + a * r.uniform(-0.012, 0.012),
      carry: a * r.uniform(-0.01, 0.015),
      clearance: 0.012 + a * r.uniform(-0.004, 0.006),
      graspAlong: a * r.uniform(-0.004, 0.004),
      place: [a * r.uniform(-1, 1), a * r.uniform(-1, 1)],
    };
  }

  /** The current phase and stage (for logs and tests). */
  get status(): { phase: Phase; stage: number } {
    return { phase: this.phase, stage: this.stage };
  }

  private setPhase(p: Phase): void {
    this.phase = p;
    this.phaseSteps = 0;
    this.stalled = 0;
    // Hesitate a step now and then at phase changes (timing noise).
    if (this.noise > 0 && this.rng.next() < 0.12 * this.noise) this.waitSteps = 1;
  }

  /** The next action (7 numbers, actions.ts) for the state. */
  act(s: PrivilegedState): Float64Array {
    this.comHeight ??= s.snapshot.com.map((c) => c[2]);
    const pad = s.padCenter;
    const moved = this.lastPad ? Math.hypot(pad[0] - this.lastPad[0], pad[1] - this.lastPad[1], pad[2] - this.lastPad[2]) : Infinity;
    this.lastPad = pad;
    this.stalled = moved < 0.002 ? this.stalled + 1 : 0;
    this.phaseSteps++;
    // Redo the first stage that stopped holding (an object slid off), once every stage was done.
    if (this.phase === 'idle') {
      const broken = s.stageHolds.findIndex((h) => !h);
      if (broken >= 0) {
        this.stage = broken;
        this.setPhase('approach');
      }
    }
    // A phase that ends now hands over to the next one within the same step.
    let plan = this.plan(s);
    for (let i = 0; i < 3 && plan.changed; i++) plan = this.plan(s);
    this.lastOpening = s.opening;

    const out = new Float64Array(7);
    out[6] = plan.gripper;
    if (this.waitSteps > 0) {
      this.waitSteps--;
      return this.emit(out);
    }
    // Pads -> end effector: the pads' offset from the end effector is fixed in the hand frame.
    const offsetLocal = matTVec(s.flangeMat, sub(s.ee, pad));
    const goalMat = quatToMat([Math.cos(plan.yaw / 2), 0, 0, Math.sin(plan.yaw / 2)]);
    const off = matVec(goalMat, offsetLocal);
    const eeGoal: Vec3 = [plan.pad[0] + off[0], plan.pad[1] + off[1], plan.pad[2] + off[2]];
    // Steer the controller's target (plus what is still in flight under latency) to the goal.
    const pending = this.pendingDeltas(s);
    const err: Vec3 = [eeGoal[0] - s.targetPos[0] - pending[0]!, eeGoal[1] - s.targetPos[1] - pending[1]!, eeGoal[2] - s.targetPos[2] - pending[2]!];
    const dist = Math.hypot(err[0], err[1], err[2]);
    const step = Math.min(dist, this.n.speed);
    const k = s.domain.gain * s.domain.embodiment.actionScale;
    for (let i = 0; i < 3; i++) {
      const v = dist > 0 ? (err[i]! / dist) * step : 0;
      out[i] = clampAbs(v / k, MAX_TRANSLATION);
    }
    const handYaw = yawOfMat(quatToMat(s.targetQuat));
    const yawErr = wrapAngle(plan.yaw - handYaw) - pending[5]!;
    out[5] = clampAbs(yawErr / k, MAX_ROTATION);
    return this.emit(out);
  }

  /** Where the pads should go now, the gripper yaw and command; may move to the next phase. */
  private plan(s: PrivilegedState): { pad: Vec3; yaw: number; gripper: number; changed: boolean } {
    const phaseBefore = this.phase;
    const stageBefore = this.stage;
    const stages = s.task.stages;
    const st = stages[this.stage]!;
    const { source, target } = s.stageObjects[this.stage]!;
    const srcSpec = OBJECTS[st.source];
    const tgtSpec = OBJECTS[st.target];
    const handYaw = yawOfMat(quatToMat(s.targetQuat));
    const srcMat = s.snapshot.mat[source]!;
    const srcYaw = yawOfMat(srcMat);
    const grasped = isGrasped(s.snapshot, source);
    const pad = s.padCenter;

    let padGoal: Vec3 = pad;
    let yawGoal = handYaw;
    let gripper = GRIPPER_OPEN;

    const graspPoint = (): Vec3 => {
      const g = srcSpec.grasp!;
      const p: Vec3 = [g.point[0] + this.n.graspAlong, g.point[1], g.point[2]];
      const w = matVec(srcMat, p);
      const o = s.snapshot.pos[source]!;
      return [o[0] + w[0], o[1] + w[1], Math.max(MIN_PAD_Z, o[2] + w[2])];
    };
    const graspYaw = (): number => closestEquivalent(srcYaw, srcSpec.grasp!.yawPeriod, handYaw);

    switch (this.phase) {
      case 'approach': {
        const g = graspPoint();
        // Travel at carrying height; come down to the hover point only when above the object, so
        // the fingers never sweep through a stack or over a basket wall.
        const far = Math.hypot(pad[0] - g[0], pad[1] - g[1]) > 0.03;
        padGoal = [g[0], g[1], far ? Math.max(g[2] + this.n.hover, CARRY_Z + this.n.carry) : g[2] + this.n.hover];
        yawGoal = graspYaw();
        if (!far && Math.hypot(pad[0] - padGoal[0], pad[1] - padGoal[1]) < 0.008 && Math.abs(pad[2] - padGoal[2]) < 0.02 && Math.abs(wrapAngle(yawGoal - handYaw)) < 0.06) this.setPhase('descend');
        break;
      }
      case 'descend': {
        padGoal = graspPoint();
        yawGoal = graspYaw();
        const err = Math.hypot(pad[0] - padGoal[0], pad[1] - padGoal[1], pad[2] - padGoal[2]);
        if (err < 0.005 || (this.stalled >= 2 && this.phaseSteps > 1 && pad[2] - padGoal[2] < 0.015)) this.setPhase('close');
        break;
      }
      case 'close': {
        padGoal = [pad[0], pad[1], graspPoint()[2]];
        gripper = GRIPPER_CLOSED;
        const settled = Math.abs(this.lastOpening - s.opening) < 0.001;
        // Under latency the gripper starts closing only after the delay.
        if (this.phaseSteps >= 2 + this.lagSteps(s) && settled) {
          this.graspOpening = s.opening;
          this.setPhase(grasped ? 'lift' : 'approach');
        }
        break;
      }
      case 'lift':
      case 'carry':
      case 'lower': {
        gripper = GRIPPER_CLOSED;
        if (this.phaseSteps > 0) this.lostSteps = grasped ? 0 : this.lostSteps + 1;
        if (this.lostSteps >= 2) {
          // Dropped it: back off upward, then pick it up again.
          this.lostSteps = 0;
          this.retryAfterRetreat = true;
          this.setPhase('retreat');
          break;
        }
        const com = s.snapshot.com[source]!;
        const carryZ = CARRY_Z + this.n.carry;
        const tgtPos = s.snapshot.pos[target]!;
        const tgtMat = s.snapshot.mat[target]!;
        const support = tgtSpec.support!;
        // Where the source's center of mass should land: the support's center plus noise that
        // stays well inside it.
        const margin = support.shape === 'disc' ? support.radius * 0.25 : Math.min(support.halfX, support.halfY) * 0.15;
        const w = matVec(tgtMat, [this.n.place[0] * margin, this.n.place[1] * margin, support.topZ]);
        const landing: Vec3 = [tgtPos[0] + w[0], tgtPos[1] + w[1], tgtPos[2] + w[2]];
        const comOffset = sub(com, pad);
        const alignYaw = (): number => {
          if (support.alignPeriod === 0) return handYaw;
          const objGoal = closestEquivalent(yawOfMat(tgtMat), support.alignPeriod, srcYaw);
          return handYaw + wrapAngle(objGoal - srcYaw);
        };
        if (this.phase === 'lift') {
          padGoal = [pad[0], pad[1], carryZ];
          if (pad[2] > carryZ - 0.03) this.setPhase('carry');
        } else if (this.phase === 'carry') {
          padGoal = [landing[0] - comOffset[0], landing[1] - comOffset[1], carryZ];
          yawGoal = alignYaw();
          if (Math.hypot(pad[0] - padGoal[0], pad[1] - padGoal[1]) < 0.01 && Math.abs(wrapAngle(yawGoal - handYaw)) < 0.08) this.setPhase('lower');
        } else {
          const bottom = com[2] - this.comHeight![source]!;
          const padZ = landing[2] + this.n.clearance + (pad[2] - bottom);
          padGoal = [landing[0] - comOffset[0], landing[1] - comOffset[1], padZ];
          yawGoal = alignYaw();
          if (Math.abs(pad[2] - padZ) < 0.006 || (this.stalled >= 2 && this.phaseSteps > 1)) this.setPhase('release');
        }
        break;
      }
      case 'release': {
        padGoal = pad;
        // Open just enough to let go: fully open fingers can wedge against a basket's walls.
        gripper = commandForOpening(this.graspOpening + 0.03);
        if (this.phaseSteps >= 1 + this.lagSteps(s) && s.opening > this.lastOpening - 0.0005 && !grasped) this.setPhase('retreat');
        break;
      }
      case 'retreat': {
        if (this.phaseSteps === 0) this.retreatZ = Math.max(CARRY_Z + this.n.carry, pad[2] + 0.04);
        padGoal = [pad[0], pad[1], this.retreatZ];
        gripper = commandForOpening(this.graspOpening + 0.03);
        if (pad[2] > this.retreatZ - 0.015) {
          if (this.retryAfterRetreat) {
            this.retryAfterRetreat = false;
            this.setPhase('approach');
          } else if (!s.stageHolds[this.stage]) {
            // The object did not stay: redo this stage.
            this.setPhase('approach');
          } else if (this.stage + 1 < stages.length) {
            this.stage++;
            this.setPhase('approach');
          } else {
            this.setPhase('idle');
          }
        }
        break;
      }
      case 'idle':
        padGoal = pad;
        break;
    }
    return { pad: padGoal, yaw: yawGoal, gripper, changed: this.phase !== phaseBefore || this.stage !== stageBefore };
  }

  /** Whole control steps an action waits before it takes effect (latency). */
  private lagSteps(s: PrivilegedState): number {
    return Math.ceil(s.domain.latencySteps - 1e-9);
  }

  /** Sum of the scaled deltas emitted that the controller has not applied yet (latency). */
  private pendingDeltas(s: PrivilegedState): Float64Array {
    const sum = new Float64Array(6);
    const inFlight = this.lagSteps(s);
    const k = s.domain.gain * s.domain.embodiment.actionScale;
    for (let j = Math.max(0, this.history.length - inFlight); j < this.history.length; j++) {
      for (let i = 0; i < 6; i++) sum[i]! += this.history[j]![i]! * k;
    }
    return sum;
  }

  private emit(out: Float64Array): Float64Array {
    this.history.push(out.slice(0, 6));
    if (this.history.length > 8) this.history.shift();
    return out;
  }
}

/** The gripper command (actions.ts) whose target opening is `opening` meters. */
function commandForOpening(opening: number): number {
  return Math.max(-1, Math.min(1, opening / FINGER_TRAVEL - 1));
}

function clampAbs(v: number, m: number): number {
  return Math.max(-m, Math.min(m, v));
}

/** The angle equal to `angle` modulo `period` that is closest to `reference`. */
export function closestEquivalent(angle: number, period: number, reference: number): number {
  if (period <= 0) return angle;
  const k = Math.round((reference - angle) / period);
  return angle + k * period;
}
