/**
 * Domain shifts: named presets, each with a strength (0 = no change, 1 = the nominal shift,
 * larger = stronger, at most MAX_SHIFT_STRENGTH = 5), composed with '+': `camera`, `camera:0.5+friction`, `lighting+latency:2`.
 * Each shift resolves, under a shift seed, into the domain an environment runs in: the camera,
 * the lighting, the table's look, the number of distractor objects, the dynamics and the
 * embodiment. The shift seed fixes one realization of the domain (the direction the camera
 * moves, the light's new color) for every episode, as a deployment site would; per-episode
 * randomness (where distractors go) comes from the episode seed instead.
 *
 * | preset        | kind       | at strength s                                                       |
 * |---------------|------------|---------------------------------------------------------------------|
 * | source        | -          | the training domain (alone only)                                    |
 * | camera        | visual     | orbit 0.35*s rad, elevation 0.12*s rad, distance x(1+-0.15*s), aim 4*s cm, fov +-5*s deg |
 * | lighting      | visual     | light direction turned 1.2*s rad, dimmer/brighter x(1+-0.5*s), tint 0.4*s, ambient x(1+-0.4*s) |
 * | table         | visual     | table color blended min(1, s) toward a new color; texture pattern changes at s >= 0.5 |
 * | distractors   | visual     | round(3*s) extra objects on the table                               |
 * | gain          | dynamics   | every action delta multiplied by 1 + 0.5*s                          |
 * | latency       | dynamics   | actions take effect s control steps late (fractions in physics steps) |
 * | friction      | dynamics   | every friction coefficient x max(0.15, 1 - 0.55*s)                  |
 * | finger-length | embodiment | see embodiments.ts (id 1)                                           |
 * | wrist-offset  | embodiment | see embodiments.ts (id 2)                                           |
 * | action-scale  | embodiment | see embodiments.ts (id 3)                                           |
 * | unannounced   | report     | no strength; with an embodiment preset only: the robot keeps reporting the source id (0) |
 *
 * `unannounced` models a robot whose gripper or arm was changed without telling the controller:
 * the world has the embodiment's geometry, but observations carry the source robot's id, so the
 * policy picks the source robot's latent prompt (e.g. `finger-length+unannounced`). Test-time
 * adaptation then has to find the embodiment from the robot's own experience.
 *
 * @example
 * ```ts
 * const shift = parseShift('camera:0.5+friction');
 * const domain = resolveDomain(shift, 0);
 * domain.frictionScale; // 0.45
 * ```
 */
import { ArgumentError, RangeValueError } from '../errors.js';
import type { Camera, Lighting } from '../render/scene.js';
import { TextureKind } from '../render/scene.js';
import { mixRgb, srgbHex, type Rgb } from '../util/color.js';
import { add, cross, normalize, quatFromAxisAngle, rotateVec, scale, sub, type Vec3 } from '../util/math3d.js';
import { deriveSeed, Rng } from '../util/random.js';
import { EMBODIMENT_IDS, makeEmbodiment, SOURCE_EMBODIMENT, type Embodiment, type EmbodimentName } from './embodiments.js';

export const VISUAL_PRESETS = ['camera', 'lighting', 'table', 'distractors'] as const;
export const DYNAMICS_PRESETS = ['gain', 'latency', 'friction'] as const;
export const EMBODIMENT_PRESETS = ['finger-length', 'wrist-offset', 'action-scale'] as const;
/** Presets that are a shift on their own (what a sweep over 'all' runs). */
export const STANDALONE_PRESETS = ['source', ...VISUAL_PRESETS, ...DYNAMICS_PRESETS, ...EMBODIMENT_PRESETS] as const;
/** Modifies an embodiment preset instead of being a shift of its own (see the module comment). */
export const UNANNOUNCED = 'unannounced';
export const SHIFT_PRESETS = [...STANDALONE_PRESETS, UNANNOUNCED] as const;
export type ShiftPreset = (typeof SHIFT_PRESETS)[number];

export interface ShiftComponent {
  preset: ShiftPreset;
  strength: number;
}

/** A parsed shift: its components in the order given, and its canonical text. */
export interface Shift {
  components: ShiftComponent[];
  /** Canonical form, e.g. 'camera:0.5+friction:1'; 'source' for the training domain. */
  text: string;
}

const PRESET_LIST = SHIFT_PRESETS.join(', ');

/**
 * The strongest shift accepted: already far beyond the nominal one (1). Without a bound, a typo
 * like distractors:1e9 would try to place a billion objects and never return.
 */
export const MAX_SHIFT_STRENGTH = 5;

/** Parses a shift expression; errors name the bad token and list the valid presets. */
export function parseShift(text: string): Shift {
  if (typeof text !== 'string' || text.trim() === '') {
    throw new ArgumentError('VLA_ARGUMENT', `shift is empty; valid presets: ${PRESET_LIST} (compose with '+', strength with ':', e.g. camera:0.5+friction)`);
  }
  const components: ShiftComponent[] = [];
  for (const rawToken of text.split('+')) {
    const token = rawToken.trim();
    if (token === '') throw new ArgumentError('VLA_ARGUMENT', `shift '${text}' has an empty term; valid presets: ${PRESET_LIST}`);
    const parts = token.split(':');
    if (parts.length > 2) throw new ArgumentError('VLA_ARGUMENT', `shift term '${token}' has more than one ':'; write PRESET or PRESET:STRENGTH`);
    const name = parts[0]!.trim();
    if (!(SHIFT_PRESETS as readonly string[]).includes(name)) {
      throw new ArgumentError('VLA_ARGUMENT', `unknown shift preset '${name}'; valid presets: ${PRESET_LIST}`);
    }
    let strength = 1;
    if (parts.length === 2) {
      const s = parts[1]!.trim();
      strength = /^[+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s) ? Number(s) : NaN;
      if (!Number.isFinite(strength) || strength < 0 || strength > MAX_SHIFT_STRENGTH) {
        throw new RangeValueError('VLA_VALUE', `shift term '${token}': strength must be a finite number in [0, ${MAX_SHIFT_STRENGTH}], got '${s}'`);
      }
    }
    const preset = name as ShiftPreset;
    if (preset === UNANNOUNCED && strength !== 1) {
      throw new RangeValueError('VLA_VALUE', `shift term '${token}': '${UNANNOUNCED}' takes no strength (it hides the embodiment's id from the policy, or is absent)`);
    }
    if (components.some((c) => c.preset === preset)) throw new ArgumentError('VLA_ARGUMENT', `shift '${text}' names '${preset}' twice`);
    components.push({ preset, strength });
  }
  if (components.length > 1 && components.some((c) => c.preset === 'source')) {
    throw new ArgumentError('VLA_ARGUMENT', `shift '${text}': 'source' is the unshifted domain and cannot be combined with other presets`);
  }
  const embodiments = components.filter((c) => (EMBODIMENT_PRESETS as readonly string[]).includes(c.preset));
  if (embodiments.length > 1) {
    throw new ArgumentError('VLA_ARGUMENT', `shift '${text}' names two embodiments (${embodiments.map((c) => c.preset).join(', ')}); a shift has at most one`);
  }
  if (embodiments.length === 0 && components.some((c) => c.preset === UNANNOUNCED)) {
    throw new ArgumentError(
      'VLA_ARGUMENT',
      `shift '${text}': '${UNANNOUNCED}' hides an embodiment change from the policy and needs one of ${EMBODIMENT_PRESETS.join(', ')}, e.g. finger-length+${UNANNOUNCED}`,
    );
  }
  return { components, text: components.map((c) => (c.preset === 'source' || c.preset === UNANNOUNCED ? c.preset : `${c.preset}:${c.strength}`)).join('+') };
}

/** The training domain. */
export const SOURCE_SHIFT: Shift = { components: [{ preset: 'source', strength: 1 }], text: 'source' };

/** How the table looks (the scene contract's texture fields). */
export interface TableLook {
  /** Linear RGBA. */
  rgba: [number, number, number, number];
  texture: number;
  /** Texture scale (meters), then the second color (linear RGB). */
  texParams: [number, number, number, number];
}

/** Everything a shift changes, resolved to numbers. */
export interface Domain {
  shift: Shift;
  shiftSeed: number;
  camera: Camera;
  lighting: Lighting;
  background: Rgb;
  table: TableLook;
  /** Extra objects per episode. */
  distractors: number;
  /** Multiplies every action delta (before the embodiment's action scale). */
  gain: number;
  /** Delay of actions, in control steps (fractional values allowed). */
  latencySteps: number;
  frictionScale: number;
  embodiment: Embodiment;
}

/**
 * The source camera: in front of the table, facing the robot, looking down at 50 degrees, so
 * that the table fills the image and the objects get as many pixels as a 64x64 image allows (a
 * 4 cm cube at the table's center spans about 4 x 3.3 pixels) while the hand stays in view at
 * its home pose. Every task object of every configuration lies inside the frame, footprint
 * included (a test checks it); the front corners of the distractor region do not.
 */
export const SOURCE_CAMERA: Camera = { pos: [0.43, 0, 0.58], lookAt: [-0.04, 0, 0.02], up: [0, 0, 1], fovyDeg: 48 };
export const SOURCE_LIGHTING: Lighting = {
  direction: [0.35, 0.25, 1],
  color: [0.95, 0.92, 0.86],
  ambient: [0.28, 0.28, 0.3],
  shadows: true,
};
const SOURCE_BACKGROUND: Rgb = [0.55, 0.6, 0.66];
const WOOD = srgbHex('#9c7a55');
const WOOD_DARK = srgbHex('#7d5f40');
export const SOURCE_TABLE: TableLook = {
  rgba: [WOOD[0], WOOD[1], WOOD[2], 1],
  texture: TextureKind.noise,
  texParams: [0.04, WOOD_DARK[0], WOOD_DARK[1], WOOD_DARK[2]],
};

function sign(rng: Rng): number {
  return rng.next() < 0.5 ? -1 : 1;
}

function shiftCamera(base: Camera, s: number, rng: Rng): Camera {
  const offset = sub(base.pos, base.lookAt);
  // Orbit about the vertical through the look-at point, then raise/lower the elevation.
  const orbit = sign(rng) * 0.35 * s;
  let v = rotateVec(quatFromAxisAngle([0, 0, 1], orbit), offset);
  const side = normalize(cross([0, 0, 1], v));
  const elevation = sign(rng) * 0.12 * s;
  v = rotateVec(quatFromAxisAngle(side, elevation), v);
  v = scale(v, 1 + sign(rng) * 0.15 * Math.min(s, 2));
  const lookAt = add(base.lookAt, [rng.uniform(-1, 1) * 0.04 * s, rng.uniform(-1, 1) * 0.04 * s, 0]);
  const fovyDeg = Math.min(80, Math.max(25, base.fovyDeg + sign(rng) * 5 * s));
  return { pos: add(lookAt, v), lookAt, up: [0, 0, 1], fovyDeg };
}

function shiftLighting(base: Lighting, s: number, rng: Rng): Lighting {
  const azimuth = sign(rng) * 1.2 * s;
  let dir = rotateVec(quatFromAxisAngle([0, 0, 1], azimuth), normalize(base.direction));
  // Lower the light toward the horizon (longer shadows), never below 15 degrees.
  const elev = Math.max(Math.asin(Math.min(1, dir[2])) - 0.4 * Math.min(s, 2), 0.26);
  const horiz = normalize([dir[0], dir[1], 0]);
  dir = [horiz[0] * Math.cos(elev), horiz[1] * Math.cos(elev), Math.sin(elev)];
  const tint: Rgb = [rng.uniform(0.4, 1), rng.uniform(0.4, 1), rng.uniform(0.4, 1)];
  const intensity = Math.max(0.2, 1 + sign(rng) * 0.5 * s);
  const color = mixRgb(base.color, tint, Math.min(1, 0.4 * s)).map((c) => c * intensity) as Rgb;
  const ambientScale = Math.max(0.2, 1 + sign(rng) * 0.4 * s);
  const ambient = base.ambient.map((c) => c * ambientScale) as Rgb;
  return { direction: dir, color, ambient, shadows: base.shadows };
}

function shiftTable(base: TableLook, s: number, rng: Rng): TableLook {
  const target: Rgb = [rng.uniform(0.05, 0.8), rng.uniform(0.05, 0.8), rng.uniform(0.05, 0.8)];
  const second: Rgb = [rng.uniform(0.02, 0.6), rng.uniform(0.02, 0.6), rng.uniform(0.02, 0.6)];
  const pattern = rng.pick([TextureKind.checker, TextureKind.stripes]);
  const t = Math.min(1, s);
  const rgb = mixRgb([base.rgba[0], base.rgba[1], base.rgba[2]], target, t);
  const rgb2 = mixRgb([base.texParams[1], base.texParams[2], base.texParams[3]], second, t);
  return {
    rgba: [rgb[0], rgb[1], rgb[2], 1],
    texture: s >= 0.5 ? pattern : base.texture,
    texParams: [base.texParams[0] * (1 + s), rgb2[0], rgb2[1], rgb2[2]],
  };
}

/** The domain of a shift under a shift seed (see the module comment). */
export function resolveDomain(shift: Shift, shiftSeed: number): Domain {
  const domain: Domain = {
    shift,
    shiftSeed,
    camera: structuredClone(SOURCE_CAMERA),
    lighting: structuredClone(SOURCE_LIGHTING),
    background: [...SOURCE_BACKGROUND],
    table: structuredClone(SOURCE_TABLE),
    distractors: 0,
    gain: 1,
    latencySteps: 0,
    frictionScale: 1,
    embodiment: { ...SOURCE_EMBODIMENT },
  };
  for (const { preset, strength: s } of shift.components) {
    // Strength 0 is exactly the source domain (the embodiment keeps its id, see embodiments.ts).
    if (s === 0 && !(EMBODIMENT_PRESETS as readonly string[]).includes(preset)) continue;
    // Each preset draws from its own stream, so composing presets never changes their draws.
    const rng = new Rng(deriveSeed(shiftSeed, 'shift', preset));
    switch (preset) {
      case 'source':
        break;
      case 'camera':
        domain.camera = shiftCamera(domain.camera, s, rng);
        break;
      case 'lighting':
        domain.lighting = shiftLighting(domain.lighting, s, rng);
        break;
      case 'table':
        domain.table = shiftTable(domain.table, s, rng);
        break;
      case 'distractors':
        domain.distractors = Math.round(3 * s);
        break;
      case 'gain':
        domain.gain = 1 + 0.5 * s;
        break;
      case 'latency':
        domain.latencySteps = s;
        break;
      case 'friction':
        domain.frictionScale = Math.max(0.15, 1 - 0.55 * s);
        break;
      case 'finger-length':
      case 'wrist-offset':
      case 'action-scale':
        domain.embodiment = makeEmbodiment(preset as EmbodimentName, s);
        break;
      case UNANNOUNCED:
        break; // applied below, whatever the order of the terms
    }
  }
  if (isUnannounced(shift)) domain.embodiment = { ...domain.embodiment, id: SOURCE_EMBODIMENT.id };
  return domain;
}

/** Whether the shift hides its embodiment's id from the policy (`+unannounced`). */
export function isUnannounced(shift: Shift): boolean {
  return shift.components.some((c) => c.preset === UNANNOUNCED);
}

/** The embodiment id a shift's observations carry (0 unless it names an embodiment preset and does not hide it). */
export function embodimentIdOf(shift: Shift): number {
  if (isUnannounced(shift)) return SOURCE_EMBODIMENT.id;
  const c = shift.components.find((x) => (EMBODIMENT_PRESETS as readonly string[]).includes(x.preset));
  return c ? EMBODIMENT_IDS[c.preset as EmbodimentName] : SOURCE_EMBODIMENT.id;
}
