/**
 * The gripper robot: a wrist (the "hand" body, free-floating) welded to a mocap body, so that it
 * follows commanded poses through a soft equality constraint, and two position-actuated slide
 * fingers with high-friction pads. Objects are held only by contact and friction.
 *
 * Frames (meters, radians): the flange frame is the hand body's frame, identical to the mocap
 * body's frame when the weld is satisfied. Its local z points up, away from the fingers (so the
 * identity orientation is "gripper pointing down"); the fingers close along local y; local x is
 * the gripper's heading. The controlled point (the end effector in observations and actions) is
 * fixed in the flange frame at EE_OFFSET: between the source robot's pads.
 */
import { srgbHex } from '../util/color.js';
import type { Quat, Vec3 } from '../util/math3d.js';
import type { Embodiment } from './embodiments.js';
import { SOURCE_FINGER_LENGTH } from './embodiments.js';
import { el, type XmlElement } from './mjcf.js';

/** Palm half extents (x, y, z); the palm spans z in [-2*PALM_HALF[2], 0] of the flange frame. */
export const PALM_HALF: Vec3 = [0.025, 0.062, 0.012];
/** Finger pad half extents: width (x), thickness (y), height (z). */
export const PAD_HALF: Vec3 = [0.011, 0.003, 0.016];
/** Finger link half thickness (y) and half width (x). */
const FINGER_HALF_THICKNESS = 0.005;
const FINGER_HALF_WIDTH = 0.01;
/** Travel of each finger from closed (pads touching) to open, meters: opening in [0, 0.09]. */
export const FINGER_TRAVEL = 0.045;
/** The controlled point in the flange frame: the source robot's pad center. */
export const EE_OFFSET: Vec3 = [0, 0, -(2 * PALM_HALF[2] + SOURCE_FINGER_LENGTH - PAD_HALF[2])];
/** Grip force limit of each finger actuator, newtons. */
export const GRIP_FORCE = 12;
/** Pad friction: sliding, torsional (m), rolling (m). High, like rubber pads. */
export const PAD_FRICTION: Vec3 = [1.5, 0.01, 0.0001];

/** Where episodes start: the end effector above the table's center-back, gripper open. */
export const HOME_EE: Vec3 = [-0.12, 0, 0.2];

export const ROBOT_NAMES = {
  mocap: 'robot/target',
  hand: 'robot/hand',
  fingerLeft: 'robot/finger_left',
  fingerRight: 'robot/finger_right',
  padLeft: 'robot/pad_left',
  padRight: 'robot/pad_right',
  weld: 'robot/weld',
} as const;

const METAL = srgbHex('#3a3d42');
const DARK = srgbHex('#1d1f22');
const PAD_COLOR = srgbHex('#202020');

function finger(side: 'left' | 'right', emb: Embodiment): XmlElement {
  const sign = side === 'left' ? 1 : -1;
  const top = -2 * PALM_HALF[2];
  const tip = top - emb.fingerLength;
  const [ox, oy, oz] = emb.handOffset;
  const linkHalfZ = emb.fingerLength / 2;
  // At joint position 0 the pad's inner face lies on the y = 0 plane (pads touching).
  const padY = sign * PAD_HALF[1];
  const linkY = sign * (2 * PAD_HALF[1] + FINGER_HALF_THICKNESS);
  return el('body', { name: side === 'left' ? ROBOT_NAMES.fingerLeft : ROBOT_NAMES.fingerRight, pos: [ox, oy, oz] }, [
    el('joint', {
      name: side === 'left' ? ROBOT_NAMES.fingerLeft : ROBOT_NAMES.fingerRight,
      type: 'slide',
      axis: [0, sign, 0],
      range: [0, FINGER_TRAVEL],
      damping: 25,
      armature: 0.01,
    }),
    el('geom', {
      name: `robot/finger_link_${side}`,
      type: 'box',
      size: [FINGER_HALF_WIDTH, FINGER_HALF_THICKNESS, linkHalfZ],
      pos: [0, linkY, top - linkHalfZ],
      rgba: METAL,
      mass: 0.04,
    }),
    el('geom', {
      name: side === 'left' ? ROBOT_NAMES.padLeft : ROBOT_NAMES.padRight,
      type: 'box',
      size: PAD_HALF,
      pos: [0, padY, tip + PAD_HALF[2]],
      rgba: PAD_COLOR,
      mass: 0.01,
      friction: PAD_FRICTION,
      condim: 4,
      priority: 1,
    }),
  ]);
}

/**
 * The robot's MJCF parts for the embodiment, starting with the controlled point at `ee` and the
 * flange at orientation `quat`.
 */
export function robotMjcf(emb: Embodiment, flangePos: Vec3, quat: Quat): { bodies: XmlElement[]; equality: XmlElement[]; actuators: XmlElement[] } {
  const [ox, oy, oz] = emb.handOffset;
  const hand = el('body', { name: ROBOT_NAMES.hand, pos: flangePos, quat, gravcomp: 1, sleep: 'never' }, [
    el('freejoint', { name: ROBOT_NAMES.hand }),
    el('geom', { name: 'robot/palm', type: 'box', size: PALM_HALF, pos: [ox, oy, oz - PALM_HALF[2]], rgba: METAL, mass: 0.35 }),
    // Visual-only wrist and forearm: they show the arm in images but never touch anything.
    el('geom', { name: 'robot/wrist', type: 'cylinder', size: [0.022, 0.025], pos: [0, 0, 0.025], rgba: DARK, contype: 0, conaffinity: 0, mass: 0.05 }),
    el('geom', { name: 'robot/forearm', type: 'capsule', fromto: [0, 0, 0.05, 0, 0, 0.32], size: [0.02], rgba: METAL, contype: 0, conaffinity: 0, mass: 0.05 }),
    finger('left', emb),
    finger('right', emb),
  ]);
  const mocap = el('body', { name: ROBOT_NAMES.mocap, mocap: true, pos: flangePos, quat });
  // Soft weld: time constant 10 ms, critically damped; the hand tracks the mocap pose within a
  // few physics steps while contacts can still push back.
  const equality = [el('weld', { name: ROBOT_NAMES.weld, body1: ROBOT_NAMES.mocap, body2: ROBOT_NAMES.hand, solref: [0.01, 1] })];
  const actuators = ['left', 'right'].map((side) =>
    el('position', {
      name: `robot/grip_${side}`,
      joint: side === 'left' ? ROBOT_NAMES.fingerLeft : ROBOT_NAMES.fingerRight,
      kp: 1500,
      ctrlrange: [0, FINGER_TRAVEL],
      forcerange: [-GRIP_FORCE, GRIP_FORCE],
    }),
  );
  return { bodies: [mocap, hand], equality, actuators };
}
