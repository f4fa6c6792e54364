/**
 * Episode layouts: which objects an episode has and where they start. A configuration fixes
 * the nominal placements (tasks.ts); the episode seed adds a small jitter and, under the
 * `distractors` shift, picks and places the extra objects. Everything is a pure function of
 * (task, configuration, distractor count, episode seed, jitter).
 */
import { quatFromYaw } from '../util/math3d.js';
import { deriveSeed, Rng } from '../util/random.js';
import { OBJECTS, type ObjectInstance, type ObjectKind } from './objects.js';
import type { TaskSpec } from './tasks.js';
import type { Pose } from './world.js';

/** Per-episode random perturbation of the nominal placements. */
export interface PlacementJitter {
  /** Uniform offset in x and y, meters, in [-position, position]. */
  position: number;
  /** Uniform yaw offset, radians, in [-yaw, yaw]. */
  yaw: number;
}

/** Small enough that no two task objects come closer than their footprints allow. */
export const DEFAULT_JITTER: PlacementJitter = { position: 0.008, yaw: 0.1 };

/** Objects that can serve as distractors (movable, graspable). */
const DISTRACTOR_KINDS: readonly ObjectKind[] = ['carrot', 'eggplant', 'spoon', 'green-cube', 'yellow-cube'];
/** Region where distractors may be placed (meters). */
const DISTRACTOR_REGION = { x: [-0.24, 0.24], y: [-0.33, 0.33] } as const;
const CLEARANCE = 0.01;

export interface EpisodeLayout {
  objects: ObjectInstance[];
  poses: Pose[];
  /** Object indices of each stage's source and target. */
  stageObjects: { source: number; target: number }[];
  /** Distractors actually placed (fewer than asked when the table is full). */
  distractors: number;
}

export function episodeLayout(task: TaskSpec, configuration: number, distractors: number, seed: number, jitter: PlacementJitter = DEFAULT_JITTER): EpisodeLayout {
  const config = task.configurations[configuration]!;
  const rng = new Rng(deriveSeed(seed, 'placement'));
  const objects: ObjectInstance[] = [];
  const poses: Pose[] = [];
  const xy: [number, number, number][] = []; // x, y, footprint
  for (const p of config.placements) {
    const x = p.x + rng.uniform(-1, 1) * jitter.position;
    const y = p.y + rng.uniform(-1, 1) * jitter.position;
    const yaw = p.yaw + rng.uniform(-1, 1) * jitter.yaw;
    const spec = OBJECTS[p.kind];
    objects.push({ name: p.kind, kind: p.kind });
    // A hair above the table: the settle phase lets it come to rest.
    poses.push({ pos: [x, y, spec.restZ + 0.0005], quat: quatFromYaw(yaw) });
    xy.push([x, y, spec.footprint]);
  }
  const stageObjects = task.stages.map((s) => ({
    source: objects.findIndex((o) => o.kind === s.source),
    target: objects.findIndex((o) => o.kind === s.target),
  }));

  let placed = 0;
  if (distractors > 0) {
    const drng = new Rng(deriveSeed(seed, 'distractors'));
    const pool = drng.shuffled(DISTRACTOR_KINDS.filter((k) => !task.objects.includes(k)));
    for (let d = 0; d < distractors && pool.length > 0; d++) {
      const kind = pool[d % pool.length]!;
      const spec = OBJECTS[kind];
      for (let attempt = 0; attempt < 400; attempt++) {
        const x = drng.uniform(DISTRACTOR_REGION.x[0], DISTRACTOR_REGION.x[1]);
        const y = drng.uniform(DISTRACTOR_REGION.y[0], DISTRACTOR_REGION.y[1]);
        if (xy.every(([ox, oy, of]) => Math.hypot(x - ox, y - oy) >= of + spec.footprint + CLEARANCE)) {
          objects.push({ name: `distractor-${placed}`, kind });
          poses.push({ pos: [x, y, spec.restZ + 0.0005], quat: quatFromYaw(drng.uniform(-Math.PI, Math.PI)) });
          xy.push([x, y, spec.footprint]);
          placed++;
          break;
        }
      }
    }
  }
  return { objects, poses, stageObjects, distractors: placed };
}
