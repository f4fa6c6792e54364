/**
 * The physical world of one environment: the MJCF of a table, the gripper robot and a set of
 * objects, compiled into a MuJoCo model, with typed accessors for what the environment, the
 * success checks, the expert and the scene extraction read.
 *
 * World frame (meters, radians, z up): the table top is the z = 0 plane, centered at the
 * origin, 0.8 m deep (x in [-0.4, 0.4], the robot stands behind it at negative x) and 1.0 m
 * wide (y in [-0.5, 0.5]). Physics time advances by `timestep` per mj_step.
 *
 * A World owns its MjModel and MjData (WASM heap): call dispose() exactly once.
 */
import { srgbHex } from '../util/color.js';
import { IDENTITY_QUAT, matVec, type Quat, type Vec3 } from '../util/math3d.js';
import type { Embodiment } from './embodiments.js';
import { el, toXml, type XmlElement } from './mjcf.js';
import { compileModel, type MjData, type MjModel, type MujocoModule } from './mujoco.js';
import { OBJECTS, type ObjectInstance } from './objects.js';
import { EE_OFFSET, FINGER_TRAVEL, HOME_EE, ROBOT_NAMES, robotMjcf } from './robot.js';

/** Physics parameters of a world. */
export interface PhysicsOptions {
  /** Seconds per physics step (default 0.002: 500 Hz). */
  timestep: number;
  /** Multiplies every friction coefficient (the `friction` shift); 1 in the source domain. */
  frictionScale: number;
  /**
   * Let bodies at rest sleep (MuJoCo's island sleeping): resting objects cost nothing until
   * something touches them (about 1.5x the throughput, see docs/benchmark.md); the hand never
   * sleeps.
   */
  sleep: boolean;
}

export const DEFAULT_PHYSICS: PhysicsOptions = { timestep: 0.002, frictionScale: 1, sleep: true };

export interface WorldSpec {
  objects: readonly ObjectInstance[];
  embodiment: Embodiment;
  physics: PhysicsOptions;
}

/** Table top half extents (x depth, y width, z thickness); the top surface is z = 0. */
export const TABLE_HALF: Vec3 = [0.4, 0.5, 0.02];
export const TABLE_GEOM = 'table/top';
/** Default sliding, torsional, rolling friction of surfaces. */
const DEFAULT_FRICTION: Vec3 = [0.8, 0.005, 0.0001];

/** Who owns a geom, for contact bookkeeping: object index >= 0, or one of these. */
export const Owner = { table: -1, padLeft: -2, padRight: -3, hand: -4, floor: -5, other: -6 } as const;

function scaledFriction(f: readonly number[] | undefined, s: number): number[] | undefined {
  if (s === 1) return f ? [...f] : undefined;
  const base = f ?? DEFAULT_FRICTION;
  return [base[0]! * s, base[1]! * s, base[2]! * s];
}

/** Scales the friction attribute of every collidable geom in a tree (the friction shift). */
function scaleTreeFriction(node: XmlElement, s: number): void {
  if (node.tag === 'geom' && node.attrs && node.attrs.contype !== 0) {
    const f = node.attrs.friction as readonly number[] | undefined;
    node.attrs.friction = scaledFriction(f, s);
  }
  for (const c of node.children ?? []) scaleTreeFriction(c, s);
}

function objectBody(obj: ObjectInstance, index: number): XmlElement {
  const spec = OBJECTS[obj.kind];
  // Parked far from the table until the episode places it (reset sets every object's pose).
  const park: Vec3 = [2 + index * 0.3, 0, 0.5];
  return el(
    'body',
    { name: obj.name, pos: park },
    [
      el('freejoint', { name: obj.name }),
      ...spec.geoms.map((g, gi) =>
        el('geom', {
          name: `${obj.name}/${gi}`,
          type: g.type,
          size: g.size,
          pos: g.pos,
          euler: g.euler,
          rgba: g.rgba,
          density: g.density,
          friction: g.friction,
          condim: g.condim,
          contype: g.visual ? 0 : undefined,
          conaffinity: g.visual ? 0 : undefined,
          group: g.visual ? 2 : undefined,
        }),
      ),
    ],
  );
}

/** The MJCF text of a world. Deterministic: the same spec gives the same text. */
export function worldXml(spec: WorldSpec): string {
  const { embodiment, physics } = spec;
  const flange: Vec3 = [HOME_EE[0] - EE_OFFSET[0], HOME_EE[1] - EE_OFFSET[1], HOME_EE[2] - EE_OFFSET[2]];
  const robot = robotMjcf(embodiment, flange, IDENTITY_QUAT);
  const tableColor = srgbHex('#9c7a55');
  const legColor = srgbHex('#5a4632');
  const legs = [
    [1, 1],
    [1, -1],
    [-1, 1],
    [-1, -1],
  ].map(([sx, sy], i) =>
    el('geom', {
      name: `table/leg${i}`,
      type: 'box',
      size: [0.025, 0.025, 0.365],
      pos: [sx! * (TABLE_HALF[0] - 0.05), sy! * (TABLE_HALF[1] - 0.05), -0.04 - 0.365],
      rgba: legColor,
      contype: 0,
      conaffinity: 0,
    }),
  );
  const worldbody = el('worldbody', {}, [
    el('geom', { name: 'floor', type: 'plane', size: [0, 0, 0.05], pos: [0, 0, -0.77], rgba: srgbHex('#6b6e72') }),
    el('geom', { name: TABLE_GEOM, type: 'box', size: TABLE_HALF, pos: [0, 0, -TABLE_HALF[2]], rgba: tableColor }),
    ...legs,
    // The robot's base behind the table, drawn only (the hand is driven through the mocap weld).
    el('geom', { name: 'robot/base', type: 'cylinder', size: [0.07, 0.06], pos: [-0.47, 0, 0.06], rgba: srgbHex('#2b2d31'), contype: 0, conaffinity: 0 }),
    el('geom', { name: 'robot/column', type: 'capsule', fromto: [-0.47, 0, 0.12, -0.47, 0, 0.34], size: [0.035], rgba: srgbHex('#3a3d42'), contype: 0, conaffinity: 0 }),
    ...robot.bodies,
    ...spec.objects.map(objectBody),
  ]);
  if (physics.frictionScale !== 1) scaleTreeFriction(worldbody, physics.frictionScale);
  const root = el('mujoco', { model: 'vla-ttt-tabletop' }, [
    el('compiler', { angle: 'radian', autolimits: true }),
    // Elliptic friction cones with a high impedance ratio: the standard MuJoCo setting for
    // grasping, where pyramidal cones let held objects creep.
    el('option', { timestep: physics.timestep, integrator: 'implicitfast', cone: 'elliptic', impratio: 10 }, physics.sleep ? [el('flag', { sleep: 'enable' })] : []),
    el('default', {}, [el('geom', { friction: physics.frictionScale === 1 ? DEFAULT_FRICTION : scaledFriction(DEFAULT_FRICTION, physics.frictionScale), solref: [0.005, 1], solimp: [0.95, 0.99, 0.001], condim: 3 })]),
    worldbody,
    el('equality', {}, robot.equality),
    el('actuator', {}, robot.actuators),
  ]);
  return toXml(root) + '\n';
}

export interface Pose {
  pos: Vec3;
  quat: Quat;
}

/** A compiled world with typed accessors. */
export class World {
  readonly model: MjModel;
  readonly data: MjData;
  readonly spec: WorldSpec;
  readonly xml: string;
  /** Owner of each geom (object index or an Owner code). */
  readonly geomOwner: Int32Array;
  readonly objectBodyIds: number[];
  readonly objectQposAdr: number[];
  readonly objectDofAdr: number[];
  readonly handBodyId: number;
  readonly mocapId: number;
  readonly fingerQposAdr: [number, number];
  readonly padGeomIds: [number, number];
  readonly tableGeomId: number;
  /** Collidable geoms of each object. */
  readonly objectGeoms: number[][];

  private constructor(
    private readonly mj: MujocoModule,
    spec: WorldSpec,
    xml: string,
    model: MjModel,
  ) {
    this.spec = spec;
    this.xml = xml;
    this.model = model;
    this.data = new mj.MjData(model);
    const BODY = mj.mjtObj.mjOBJ_BODY.value;
    const GEOM = mj.mjtObj.mjOBJ_GEOM.value;
    const JOINT = mj.mjtObj.mjOBJ_JOINT.value;
    const id = (type: number, name: string): number => {
      const i = mj.mj_name2id(model, type, name);
      if (i < 0) throw new Error(`tabletop world: '${name}' missing from the compiled model`);
      return i;
    };
    this.handBodyId = id(BODY, ROBOT_NAMES.hand);
    this.mocapId = model.body_mocapid[id(BODY, ROBOT_NAMES.mocap)]!;
    const jntQpos = model.jnt_qposadr;
    const jntDof = model.jnt_dofadr;
    this.fingerQposAdr = [jntQpos[id(JOINT, ROBOT_NAMES.fingerLeft)]!, jntQpos[id(JOINT, ROBOT_NAMES.fingerRight)]!];
    this.padGeomIds = [id(GEOM, ROBOT_NAMES.padLeft), id(GEOM, ROBOT_NAMES.padRight)];
    this.tableGeomId = id(GEOM, TABLE_GEOM);
    this.objectBodyIds = spec.objects.map((o) => id(BODY, o.name));
    this.objectQposAdr = spec.objects.map((o) => jntQpos[id(JOINT, o.name)]!);
    this.objectDofAdr = spec.objects.map((o) => jntDof[id(JOINT, o.name)]!);

    const bodyToObject = new Map<number, number>();
    this.objectBodyIds.forEach((b, i) => bodyToObject.set(b, i));
    const handBodies = new Set([this.handBodyId, id(BODY, ROBOT_NAMES.fingerLeft), id(BODY, ROBOT_NAMES.fingerRight)]);
    const floor = id(GEOM, 'floor');
    const geomBody = model.geom_bodyid;
    this.geomOwner = new Int32Array(model.ngeom);
    this.objectGeoms = spec.objects.map(() => []);
    const contype = model.geom_contype;
    const conaffinity = model.geom_conaffinity;
    for (let g = 0; g < model.ngeom; g++) {
      const body = geomBody[g]!;
      let owner: number = Owner.other;
      if (g === this.tableGeomId) owner = Owner.table;
      else if (g === floor) owner = Owner.floor;
      else if (g === this.padGeomIds[0]) owner = Owner.padLeft;
      else if (g === this.padGeomIds[1]) owner = Owner.padRight;
      else if (bodyToObject.has(body)) owner = bodyToObject.get(body)!;
      else if (handBodies.has(body)) owner = Owner.hand;
      this.geomOwner[g] = owner;
      if (owner >= 0 && (contype[g] !== 0 || conaffinity[g] !== 0)) this.objectGeoms[owner]!.push(g);
    }
  }

  /** Compiles the world of `spec`. */
  static create(mj: MujocoModule, spec: WorldSpec): World {
    const xml = worldXml(spec);
    const model = compileModel(mj, xml);
    try {
      return new World(mj, spec, xml, model);
    } catch (e) {
      model.delete();
      throw e;
    }
  }

  /** Resets all state to the model's reference configuration (objects parked, robot at home). */
  reset(): void {
    this.mj.mj_resetData(this.model, this.data);
  }

  /** Recomputes positions, orientations and contacts without advancing time. */
  forward(): void {
    this.mj.mj_forward(this.model, this.data);
  }

  step(): void {
    this.mj.mj_step(this.model, this.data);
  }

  setObjectPose(index: number, pose: Pose): void {
    const adr = this.objectQposAdr[index]!;
    const qpos = this.data.qpos;
    qpos.set(pose.pos, adr);
    qpos.set(pose.quat, adr + 3);
    this.data.qvel.fill(0, this.objectDofAdr[index]!, this.objectDofAdr[index]! + 6);
  }

  /** Position of the object's frame origin (from qpos: valid even before forward()). */
  objectPos(index: number): Vec3 {
    const q = this.data.qpos;
    const a = this.objectQposAdr[index]!;
    return [q[a]!, q[a + 1]!, q[a + 2]!];
  }

  objectQuat(index: number): Quat {
    const q = this.data.qpos;
    const a = this.objectQposAdr[index]! + 3;
    return [q[a]!, q[a + 1]!, q[a + 2]!, q[a + 3]!];
  }

  /** The object's rotation matrix (row-major, after forward()/step()). */
  objectMat(index: number): number[] {
    const b = this.objectBodyIds[index]!;
    return Array.from(this.data.xmat.subarray(b * 9, b * 9 + 9));
  }

  /** The object's center of mass (world). */
  objectCom(index: number): Vec3 {
    const b = this.objectBodyIds[index]!;
    const x = this.data.xipos;
    return [x[b * 3]!, x[b * 3 + 1]!, x[b * 3 + 2]!];
  }

  /** Linear speed of the object, m/s. */
  objectSpeed(index: number): number {
    const v = this.data.qvel;
    const a = this.objectDofAdr[index]!;
    return Math.hypot(v[a]!, v[a + 1]!, v[a + 2]!);
  }

  /** The hand's (flange's) position and rotation matrix. */
  flange(): { pos: Vec3; mat: number[] } {
    const b = this.handBodyId;
    const x = this.data.xpos;
    return { pos: [x[b * 3]!, x[b * 3 + 1]!, x[b * 3 + 2]!], mat: Array.from(this.data.xmat.subarray(b * 9, b * 9 + 9)) };
  }

  /** The controlled point (end effector) in world coordinates. */
  eePos(): Vec3 {
    const f = this.flange();
    const o = matVec(f.mat, EE_OFFSET);
    return [f.pos[0] + o[0], f.pos[1] + o[1], f.pos[2] + o[2]];
  }

  /** The midpoint between the two pads' centers (where objects are actually held). */
  padCenter(): Vec3 {
    const x = this.data.geom_xpos;
    const [l, r] = this.padGeomIds;
    return [(x[l * 3]! + x[r * 3]!) / 2, (x[l * 3 + 1]! + x[r * 3 + 1]!) / 2, (x[l * 3 + 2]! + x[r * 3 + 2]!) / 2];
  }

  /** Distance between the pads' inner faces, meters, in [0, 2 * FINGER_TRAVEL]. */
  gripperOpening(): number {
    const q = this.data.qpos;
    return q[this.fingerQposAdr[0]]! + q[this.fingerQposAdr[1]]!;
  }

  /** Sets the mocap target of the flange. */
  setMocap(pos: Vec3, quat: Quat): void {
    this.data.mocap_pos.set(pos, this.mocapId * 3);
    this.data.mocap_quat.set(quat, this.mocapId * 4);
  }

  /** Sets both finger position targets (meters of travel each, 0 = closed). */
  setGripTarget(travel: number): void {
    const c = this.data.ctrl;
    const t = Math.max(0, Math.min(FINGER_TRAVEL, travel));
    c[0] = t;
    c[1] = t;
  }

  /** Moves the hand (and its mocap target) to a flange pose, fingers at `travel`, at rest. */
  placeHand(flangePos: Vec3, quat: Quat, travel: number): void {
    const qpos = this.data.qpos;
    const adr = this.model.jnt_qposadr[this.model.body_jntadr[this.handBodyId]!]!;
    qpos.set(flangePos, adr);
    qpos.set(quat, adr + 3);
    qpos[this.fingerQposAdr[0]] = travel;
    qpos[this.fingerQposAdr[1]] = travel;
    this.setMocap(flangePos, quat);
    this.setGripTarget(travel);
  }

  /**
   * The contacts now, as a set of owner pairs (see `contactKey`). Reads MuJoCo's contact list
   * once; every MjContact copy is freed.
   */
  contactPairs(): Set<number> {
    const pairs = new Set<number>();
    const contacts = this.data.contact;
    try {
      const n = this.data.ncon;
      for (let i = 0; i < n; i++) {
        const c = contacts.get(i);
        if (!c) continue;
        const g1 = c.geom1;
        const g2 = c.geom2;
        const dist = c.dist;
        c.delete();
        // Contacts inside the margin but not touching do not count.
        if (dist > 1e-4) continue;
        pairs.add(contactKey(this.geomOwner[g1]!, this.geomOwner[g2]!));
      }
    } finally {
      contacts.delete();
    }
    return pairs;
  }

  /**
   * Whether two objects touch (some pair of their geoms within `tolerance` meters), by geometry
   * rather than from the contact list: with island sleeping on, a carrot resting on a plate was
   * missing from the contact list once both slept (observed while tuning).
   */
  objectsTouching(a: number, b: number, tolerance = 0.001): boolean {
    for (const ga of this.objectGeoms[a]!) {
      for (const gb of this.objectGeoms[b]!) {
        if (this.mj.mj_geomDistance(this.model, this.data, ga, gb, tolerance + 0.001, null) <= tolerance) return true;
      }
    }
    return false;
  }

  dispose(): void {
    this.data.delete();
    this.model.delete();
  }
}

/** A symmetric key for a pair of geom owners. */
export function contactKey(a: number, b: number): number {
  const lo = Math.min(a, b) + 16;
  const hi = Math.max(a, b) + 16;
  return lo * 1024 + hi;
}

/** Travel of each finger for a gripper opening command in [-1, 1] (-1 closed, +1 open). */
export function travelForCommand(command: number): number {
  return ((command + 1) / 2) * FINGER_TRAVEL;
}
