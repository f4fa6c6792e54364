/**
 * The scene description the native renderer draws: what the tabletop world (MuJoCo) hands to
 * the renderer for each environment at each control step. It is plain data (typed arrays), so a
 * batch of scenes packs into a few flat buffers and crosses into native code without copies.
 *
 * Conventions (MuJoCo's own, so geoms come straight from MjModel/MjData):
 * - World frame: z up, meters. Positions are geom centers (data.geom_xpos); rotations are 3x3
 *   row-major matrices whose columns are the geom's local axes in world coordinates
 *   (data.geom_xmat).
 * - Geom types and sizes follow mjtGeom and model.geom_size:
 *     plane (0):     size[0], size[1] = half extents in local x, y (0 = infinite); normal = local +z
 *     sphere (2):    size[0] = radius
 *     capsule (3):   size[0] = radius, size[1] = half length of the cylinder part along local z
 *     ellipsoid (4): size[0..2] = semi-axes along local x, y, z
 *     cylinder (5):  size[0] = radius, size[1] = half length along local z
 *     box (6):       size[0..2] = half extents along local x, y, z
 *   Other MuJoCo types (hfield 1, mesh 7, sdf 8) are not drawn; geoms with rgba alpha 0 are skipped.
 * - Colors are linear RGBA in [0, 1]. Images come back as sRGB-ish uint8 RGB, row 0 at the top.
 * - Procedural textures modulate a geom's color in its local frame (so they move with it):
 *     0 none; 1 checker (squares of side texScale meters, alternating rgba and texColor);
 *     2 stripes (along local x, period texScale); 3 value noise (feature size texScale).
 */

export const GeomType = {
  plane: 0,
  sphere: 2,
  capsule: 3,
  ellipsoid: 4,
  cylinder: 5,
  box: 6,
} as const;

export const TextureKind = { none: 0, checker: 1, stripes: 2, noise: 3 } as const;

/** The geoms of one scene. G = count; every array has G rows. */
export interface SceneGeoms {
  count: number;
  /** [G] mjtGeom type. */
  type: Int32Array;
  /** [G, 3] MuJoCo size parameters (see above). */
  size: Float32Array;
  /** [G, 3] world position of the geom frame. */
  pos: Float32Array;
  /** [G, 9] world rotation, row-major. */
  mat: Float32Array;
  /** [G, 4] linear RGBA in [0, 1]. */
  rgba: Float32Array;
  /** [G] TextureKind (0 = none). */
  texture: Int32Array;
  /** [G, 4] texture parameters: scale (meters), then the second color's r, g, b. */
  texParams: Float32Array;
}

/** A pinhole camera looking from `pos` towards `lookAt`. */
export interface Camera {
  pos: [number, number, number];
  lookAt: [number, number, number];
  /** World direction that appears up in the image (need not be orthogonal to the view). */
  up: [number, number, number];
  /** Vertical field of view, degrees. */
  fovyDeg: number;
}

/** One directional light plus ambient light. */
export interface Lighting {
  /** Direction from the scene towards the light (normalized by the renderer). */
  direction: [number, number, number];
  /** Light color, linear RGB (intensity folded in). */
  color: [number, number, number];
  /** Ambient light, linear RGB. */
  ambient: [number, number, number];
  /** Cast shadows from the directional light. */
  shadows: boolean;
}

/** Everything needed to draw one image. */
export interface Scene {
  geoms: SceneGeoms;
  camera: Camera;
  lighting: Lighting;
  /** Background color (linear RGB) for rays that hit nothing. */
  background: [number, number, number];
}

/** Allocates a SceneGeoms with room for `count` geoms (zero-filled). */
export function allocateGeoms(count: number): SceneGeoms {
  return {
    count,
    type: new Int32Array(count),
    size: new Float32Array(count * 3),
    pos: new Float32Array(count * 3),
    mat: new Float32Array(count * 9),
    rgba: new Float32Array(count * 4),
    texture: new Int32Array(count),
    texParams: new Float32Array(count * 4),
  };
}
