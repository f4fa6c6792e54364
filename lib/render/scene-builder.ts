/**
 * Helpers to fill SceneGeoms (scene.ts) by name rather than by array offsets: for tests,
 * examples and hand-made scenes. Simulator code usually copies its arrays in directly.
 *
 * @example
 * ```ts
 * import { axisAngleRotation, buildGeoms } from 'vla-ttt';
 * const geoms = buildGeoms([
 *   { type: 'box', size: [0.05, 0.02, 0.02], pos: [0, 0, 0.02], rgba: [0.2, 0.6, 0.9, 1],
 *     mat: axisAngleRotation([0, 0, 1], Math.PI / 4) },
 *   { type: 'plane', size: [0, 0], pos: [0, 0, 0], rgba: [0.8, 0.8, 0.8, 1], texture: 'checker', texScale: 0.1 },
 * ]);
 * ```
 */
import { allocateGeoms, GeomType, TextureKind, type SceneGeoms } from './scene.js';

export type GeomTypeName = keyof typeof GeomType;
export type TextureName = keyof typeof TextureKind;

/** One geom by name. Sizes follow MuJoCo's geom_size for the type (see scene.ts). */
export interface GeomSpec {
  type: GeomTypeName;
  /** Up to 3 size parameters; missing ones are 0. */
  size: readonly number[];
  pos: readonly [number, number, number];
  /** Row-major 3x3 rotation (columns = local axes in world coordinates). Default: identity. */
  mat?: readonly number[];
  /** Linear RGBA in [0, 1]. */
  rgba: readonly [number, number, number, number];
  /** Default 'none'. */
  texture?: TextureName;
  /** Texture scale in meters (checker square side, stripe period, noise feature size). Default 0.1. */
  texScale?: number;
  /** The texture's second color, linear RGB. Default black. */
  texColor?: readonly [number, number, number];
}

const identity = [1, 0, 0, 0, 1, 0, 0, 0, 1] as const;

/** Writes geom `index` of `geoms` from a spec. */
export function setGeom(geoms: SceneGeoms, index: number, spec: GeomSpec): void {
  if (!Number.isInteger(index) || index < 0 || index >= geoms.count) {
    throw new RangeError(`setGeom: index ${index} is outside [0, ${geoms.count})`);
  }
  if (spec.size.length > 3) throw new RangeError(`setGeom: size has ${spec.size.length} values, at most 3`);
  const mat = spec.mat ?? identity;
  if (mat.length !== 9) throw new RangeError(`setGeom: mat must hold 9 numbers (row-major 3x3), got ${mat.length}`);
  geoms.type[index] = GeomType[spec.type];
  for (let k = 0; k < 3; k++) geoms.size[index * 3 + k] = spec.size[k] ?? 0;
  geoms.pos.set(spec.pos, index * 3);
  geoms.mat.set(mat, index * 9);
  geoms.rgba.set(spec.rgba, index * 4);
  geoms.texture[index] = TextureKind[spec.texture ?? 'none'];
  geoms.texParams[index * 4] = spec.texScale ?? 0.1;
  geoms.texParams.set(spec.texColor ?? [0, 0, 0], index * 4 + 1);
}

/** Allocates SceneGeoms for the specs and fills them in order. */
export function buildGeoms(specs: readonly GeomSpec[]): SceneGeoms {
  const geoms = allocateGeoms(specs.length);
  specs.forEach((spec, i) => setGeom(geoms, i, spec));
  return geoms;
}

/** The row-major rotation by `angle` radians about `axis` (normalized here), right-handed. */
export function axisAngleRotation(axis: readonly [number, number, number], angle: number): number[] {
  const n = Math.hypot(axis[0], axis[1], axis[2]);
  if (!(n > 0)) throw new RangeError('axisAngleRotation: axis must be a non-zero vector');
  const [x, y, z] = [axis[0] / n, axis[1] / n, axis[2] / n];
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  const t = 1 - c;
  return [
    t * x * x + c, t * x * y - s * z, t * x * z + s * y,
    t * x * y + s * z, t * y * y + c, t * y * z - s * x,
    t * x * z - s * y, t * y * z + s * x, t * z * z + c,
  ];
}
