/**
 * The object library: everyday objects built from MuJoCo primitives, each a free body.
 *
 * Object frame: origin on the table-facing side's center line, z up, local x along the
 * object's long axis (carrot, eggplant, spoon); an object placed at (x, y) with yaw θ rests with
 * its frame at (x, y, restZ) rotated by θ about world z. Dimensions in meters, masses from
 * densities in kg/m^3, colors as sRGB hex (converted to linear for the scene contract).
 */
import { srgbHex, type Rgba } from '../util/color.js';
import type { Vec3 } from '../util/math3d.js';

export const OBJECT_KINDS = ['carrot', 'eggplant', 'spoon', 'green-cube', 'yellow-cube', 'plate', 'basket', 'towel'] as const;
export type ObjectKind = (typeof OBJECT_KINDS)[number];

export interface PrimitiveGeom {
  type: 'box' | 'capsule' | 'ellipsoid' | 'cylinder' | 'sphere';
  /** MuJoCo size parameters (see lib/render/scene.ts). */
  size: number[];
  pos: Vec3;
  /** Orientation as MuJoCo euler angles (radians, xyz). */
  euler?: Vec3;
  rgba: Rgba;
  density: number;
  /** Visual only: drawn, never collides, no mass. */
  visual?: boolean;
  /** Sliding, torsional, rolling friction; the world's default when absent. */
  friction?: Vec3;
  /** Contact dimensionality; 6 adds rolling friction (round objects that would roll away). */
  condim?: 3 | 4 | 6;
}

/** Where something can be placed on an object, in its frame. */
export type Support =
  | { shape: 'disc'; radius: number; topZ: number }
  | { shape: 'rect'; halfX: number; halfY: number; topZ: number; wallTopZ?: number };

export interface ObjectSpec {
  kind: ObjectKind;
  /** The words used for it in instructions. */
  noun: string;
  geoms: PrimitiveGeom[];
  /** Height of the frame origin above the table when resting. */
  restZ: number;
  /** Radius of a circle (xy) around the origin that contains the object: keeps placements apart. */
  footprint: number;
  /** Half the object's height: the expert's clearance when carrying and placing it. */
  height: number;
  /** How the expert grasps it: a point in the object frame and the symmetry of its grasp yaw. */
  grasp?: { point: Vec3; yawPeriod: number };
  /** Its top surface, for "on"/"in" relations, and the yaw symmetry to align objects put on it. */
  support?: Support & { alignPeriod: number };
}

const ORANGE = srgbHex('#e8731c');
const LEAF = srgbHex('#3c8c2a');
const PURPLE = srgbHex('#4b1f5e');
const STEEL = srgbHex('#b8bcc2');
/** Sliding, torsional and rolling friction of round produce. */
const ROUND_FRICTION: Vec3 = [0.8, 0.005, 0.002];

export const OBJECTS: Record<ObjectKind, ObjectSpec> = {
  carrot: {
    kind: 'carrot',
    noun: 'carrot',
    geoms: [
      // Rolling friction: a real carrot is tapered and uneven and does not roll away like a
      // perfect capsule would.
      { type: 'capsule', size: [0.016, 0.042], pos: [0, 0, 0.016], euler: [0, Math.PI / 2, 0], rgba: ORANGE, density: 700, friction: ROUND_FRICTION, condim: 6 },
      // The leafy top, drawn only: it makes the carrot's heading visible in images.
      { type: 'capsule', size: [0.004, 0.014], pos: [-0.066, 0.006, 0.02], euler: [0, Math.PI / 2 + 0.3, 0.35], rgba: LEAF, density: 0, visual: true },
      { type: 'capsule', size: [0.004, 0.014], pos: [-0.066, -0.006, 0.02], euler: [0, Math.PI / 2 + 0.3, -0.35], rgba: LEAF, density: 0, visual: true },
    ],
    restZ: 0,
    footprint: 0.07,
    height: 0.032,
    grasp: { point: [0, 0, 0.016], yawPeriod: Math.PI },
  },
  eggplant: {
    kind: 'eggplant',
    noun: 'eggplant',
    geoms: [
      { type: 'ellipsoid', size: [0.055, 0.027, 0.025], pos: [0, 0, 0.025], rgba: PURPLE, density: 500, friction: ROUND_FRICTION, condim: 6 },
      { type: 'cylinder', size: [0.011, 0.008], pos: [0.058, 0, 0.027], euler: [0, Math.PI / 2, 0], rgba: LEAF, density: 0, visual: true },
    ],
    restZ: 0,
    footprint: 0.07,
    height: 0.05,
    grasp: { point: [0, 0, 0.025], yawPeriod: Math.PI },
  },
  spoon: {
    kind: 'spoon',
    noun: 'spoon',
    geoms: [
      // A toy spoon: a chunky handle and a shallow bowl; the bowl is light (a thin shell) so the
      // center of mass sits on the handle, near the grasp point.
      { type: 'box', size: [0.05, 0.0065, 0.006], pos: [-0.03, 0, 0.006], rgba: STEEL, density: 2000 },
      { type: 'ellipsoid', size: [0.028, 0.019, 0.008], pos: [0.045, 0, 0.008], rgba: STEEL, density: 600 },
    ],
    restZ: 0,
    footprint: 0.08,
    height: 0.016,
    grasp: { point: [-0.012, 0, 0.006], yawPeriod: Math.PI },
  },
  'green-cube': {
    kind: 'green-cube',
    noun: 'green cube',
    geoms: [{ type: 'box', size: [0.02, 0.02, 0.02], pos: [0, 0, 0.02], rgba: srgbHex('#2fa84f'), density: 600 }],
    restZ: 0,
    footprint: 0.03,
    height: 0.04,
    grasp: { point: [0, 0, 0.02], yawPeriod: Math.PI / 2 },
    support: { shape: 'rect', halfX: 0.02, halfY: 0.02, topZ: 0.04, alignPeriod: Math.PI / 2 },
  },
  'yellow-cube': {
    kind: 'yellow-cube',
    noun: 'yellow cube',
    geoms: [{ type: 'box', size: [0.025, 0.025, 0.025], pos: [0, 0, 0.025], rgba: srgbHex('#f2c521'), density: 600 }],
    restZ: 0,
    footprint: 0.037,
    height: 0.05,
    grasp: { point: [0, 0, 0.025], yawPeriod: Math.PI / 2 },
    support: { shape: 'rect', halfX: 0.025, halfY: 0.025, topZ: 0.05, alignPeriod: Math.PI / 2 },
  },
  plate: {
    kind: 'plate',
    noun: 'plate',
    geoms: [
      { type: 'cylinder', size: [0.075, 0.005], pos: [0, 0, 0.005], rgba: srgbHex('#e9e6df'), density: 1500 },
      { type: 'cylinder', size: [0.055, 0.0008], pos: [0, 0, 0.0102], rgba: srgbHex('#f6f4ee'), density: 0, visual: true },
    ],
    restZ: 0,
    footprint: 0.078,
    height: 0.01,
    support: { shape: 'disc', radius: 0.07, topZ: 0.01, alignPeriod: 0 },
  },
  basket: {
    kind: 'basket',
    noun: 'basket',
    // Pale straw, not wood brown: at 64x64 a basket the table's color was hard to tell apart.
    geoms: [
      { type: 'box', size: [0.085, 0.065, 0.004], pos: [0, 0, 0.004], rgba: srgbHex('#cfa95e'), density: 500 },
      // Walls stand on the floor board (not on the table): fewer table contacts to solve.
      { type: 'box', size: [0.004, 0.065, 0.021], pos: [0.081, 0, 0.029], rgba: srgbHex('#e3c680'), density: 500 },
      { type: 'box', size: [0.004, 0.065, 0.021], pos: [-0.081, 0, 0.029], rgba: srgbHex('#e3c680'), density: 500 },
      { type: 'box', size: [0.077, 0.004, 0.021], pos: [0, 0.061, 0.029], rgba: srgbHex('#e3c680'), density: 500 },
      { type: 'box', size: [0.077, 0.004, 0.021], pos: [0, -0.061, 0.029], rgba: srgbHex('#e3c680'), density: 500 },
    ],
    restZ: 0,
    footprint: 0.107,
    height: 0.05,
    support: { shape: 'rect', halfX: 0.077, halfY: 0.057, topZ: 0.008, wallTopZ: 0.05, alignPeriod: Math.PI },
  },
  towel: {
    kind: 'towel',
    noun: 'towel',
    geoms: [{ type: 'box', size: [0.085, 0.07, 0.002], pos: [0, 0, 0.002], rgba: srgbHex('#8fb3d9'), density: 400, friction: [1.2, 0.005, 0.0001] }],
    restZ: 0,
    footprint: 0.11,
    height: 0.004,
    support: { shape: 'rect', halfX: 0.085, halfY: 0.07, topZ: 0.004, alignPeriod: Math.PI },
  },
};

/** An object in a scene: a unique instance name (its MuJoCo body name) and its kind. */
export interface ObjectInstance {
  name: string;
  kind: ObjectKind;
}
