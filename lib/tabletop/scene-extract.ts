/**
 * Scene extraction: from a world's MjModel/MjData and its domain (camera, lighting, table look)
 * to the `Scene` the native renderer draws (lib/render/scene.ts). This is the whole hand-off to
 * the renderer; nothing else about MuJoCo crosses it.
 *
 * Which geoms are drawn: every geom of a type the renderer knows (plane, sphere, capsule,
 * ellipsoid, cylinder, box) whose alpha is not 0. Geoms keep MuJoCo's index order, so the same
 * world gives the same layout at every step. The table top takes the domain's color and
 * procedural texture; every other geom keeps its model color.
 */
import type { Scene, SceneGeoms } from '../render/scene.js';
import { allocateGeoms, GeomType, TextureKind } from '../render/scene.js';
import type { Domain } from './shifts.js';
import type { World } from './world.js';

const DRAWABLE = new Set<number>(Object.values(GeomType));

/** The drawn geoms of a world and their static parts (type, size, color, texture), computed once. */
export class SceneTemplate {
  /** Model geom index of each drawn geom. */
  readonly geomIds: Int32Array;
  private readonly staticGeoms: SceneGeoms;

  constructor(world: World, domain: Domain) {
    const m = world.model;
    const type = m.geom_type;
    const rgba = m.geom_rgba;
    const size = m.geom_size;
    const ids: number[] = [];
    for (let g = 0; g < m.ngeom; g++) {
      if (DRAWABLE.has(type[g]!) && rgba[g * 4 + 3]! > 0) ids.push(g);
    }
    this.geomIds = Int32Array.from(ids);
    const s = allocateGeoms(ids.length);
    ids.forEach((g, i) => {
      s.type[i] = type[g]!;
      s.size.set(size.subarray(g * 3, g * 3 + 3), i * 3);
      if (g === world.tableGeomId) {
        s.rgba.set(domain.table.rgba, i * 4);
        s.texture[i] = domain.table.texture;
        s.texParams.set(domain.table.texParams, i * 4);
      } else {
        s.rgba.set(rgba.subarray(g * 4, g * 4 + 4), i * 4);
        s.texture[i] = TextureKind.none;
      }
    });
    this.staticGeoms = s;
  }

  /** Geoms with this template's static parts and room for the moving ones (see `update`). */
  allocate(): SceneGeoms {
    const s = this.staticGeoms;
    return {
      count: s.count,
      type: s.type.slice(),
      size: s.size.slice(),
      pos: new Float32Array(s.count * 3),
      mat: new Float32Array(s.count * 9),
      rgba: s.rgba.slice(),
      texture: s.texture.slice(),
      texParams: s.texParams.slice(),
    };
  }

  /** Writes the world's current geom poses into `geoms` (from `allocate()`), in place. */
  update(world: World, geoms: SceneGeoms): SceneGeoms {
    const xpos = world.data.geom_xpos;
    const xmat = world.data.geom_xmat;
    const ids = this.geomIds;
    const pos = geoms.pos;
    const mat = geoms.mat;
    for (let i = 0; i < ids.length; i++) {
      const g = ids[i]!;
      for (let k = 0; k < 3; k++) pos[i * 3 + k] = xpos[g * 3 + k]!;
      for (let k = 0; k < 9; k++) mat[i * 9 + k] = xmat[g * 9 + k]!;
    }
    return geoms;
  }

  /** The geoms at the world's current state: fresh arrays the caller may keep. */
  geoms(world: World): SceneGeoms {
    return this.update(world, this.allocate());
  }
}

/** The scene of a world in a domain (camera, lighting and background from the domain). */
export function extractScene(world: World, domain: Domain, template = new SceneTemplate(world, domain)): Scene {
  return {
    geoms: template.geoms(world),
    camera: structuredClone(domain.camera),
    lighting: structuredClone(domain.lighting),
    background: [...domain.background],
  };
}
