/**
 * Embodiments: variants of the gripper robot, each with an integer id that the policy's prompt
 * router uses to pick a latent prompt (TTT-VLA's multi-embodiment setting).
 *
 * | id | name           | what changes (at strength s)                                          |
 * |----|----------------|-----------------------------------------------------------------------|
 * | 0  | widowx-like    | the source robot: 6 cm fingers, hand centered on the flange, scale 1   |
 * | 1  | finger-length  | fingers longer by 3*s cm (the pads sit lower than the controlled point) |
 * | 2  | wrist-offset   | the hand is mounted 3*s cm forward along the flange's x axis            |
 * | 3  | action-scale   | the controller scales every delta by max(0.2, 1 - 0.4*s) (a slower arm) |
 *
 * The controlled point (the end-effector position in observations and actions) is the same for
 * every embodiment: the flange plus the source robot's pad-center offset. So on a non-source
 * embodiment the pads are not where a source-trained policy expects them, which is the point.
 * The id identifies the kind of robot, whatever the strength.
 */
import type { Vec3 } from '../util/math3d.js';

export const EMBODIMENT_IDS = {
  'widowx-like': 0,
  'finger-length': 1,
  'wrist-offset': 2,
  'action-scale': 3,
} as const;

export type EmbodimentName = keyof typeof EMBODIMENT_IDS;

/** Source finger length, meters (palm bottom to fingertip). */
export const SOURCE_FINGER_LENGTH = 0.06;

export interface Embodiment {
  id: number;
  name: EmbodimentName;
  /** Palm bottom to fingertip, meters. */
  fingerLength: number;
  /** Where the hand (palm, fingers) sits relative to the flange, in the flange frame, meters. */
  handOffset: Vec3;
  /** Multiplies the translation and rotation deltas of every action. */
  actionScale: number;
}

/** The source robot. */
export const SOURCE_EMBODIMENT: Embodiment = {
  id: 0,
  name: 'widowx-like',
  fingerLength: SOURCE_FINGER_LENGTH,
  handOffset: [0, 0, 0],
  actionScale: 1,
};

/** The embodiment variant `name` at `strength` (0 = the source geometry, still under its own id). */
export function makeEmbodiment(name: EmbodimentName, strength: number): Embodiment {
  switch (name) {
    case 'widowx-like':
      return { ...SOURCE_EMBODIMENT };
    case 'finger-length':
      return { ...SOURCE_EMBODIMENT, id: EMBODIMENT_IDS[name], name, fingerLength: SOURCE_FINGER_LENGTH + 0.03 * strength };
    case 'wrist-offset':
      return { ...SOURCE_EMBODIMENT, id: EMBODIMENT_IDS[name], name, handOffset: [0.03 * strength, 0, 0] };
    case 'action-scale':
      return { ...SOURCE_EMBODIMENT, id: EMBODIMENT_IDS[name], name, actionScale: Math.max(0.2, 1 - 0.4 * strength) };
  }
}
