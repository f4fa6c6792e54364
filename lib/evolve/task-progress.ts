/**
 * Ground-truth task progress from the simulator's privileged state, on the critic's 0..100
 * scale. It labels frame pairs for training the progress critic (critic-data.ts,
 * progressLabel) and serves as an oracle reward in ablations. A robot never has it.
 *
 * Each stage (pick the source, place it on or in the target) counts 100 / stages, split in four
 * equal parts: reaching (pad center to source, relative to where it started), grasping (both pads
 * on the source), transporting (source to target horizontally, relative to the start) and placing
 * (the stage's success rule holds). Completed stages count in full. Progress is not monotonic in
 * time: dropping the object or pushing it away lowers it, which is what a critic must see.
 *
 * @example
 * ```ts
 * env.reset(episode);
 * const start = env.privileged();
 * // ... steps ...
 * taskProgress(env.privileged(), start);   // 0..100
 * ```
 */
import type { PrivilegedState } from '../tabletop/env.js';
import { isGrasped } from '../tabletop/metrics.js';

type Vec3 = readonly [number, number, number] | readonly number[];

const dist3 = (a: Vec3, b: Vec3) => Math.hypot(a[0]! - b[0]!, a[1]! - b[1]!, a[2]! - b[2]!);
const dist2 = (a: Vec3, b: Vec3) => Math.hypot(a[0]! - b[0]!, a[1]! - b[1]!);
const clamp01 = (x: number) => Math.min(1, Math.max(0, x));

/** Progress in [0, 100] of `now`, with distances relative to `start` (the episode's first frame). */
export function taskProgress(now: PrivilegedState, start: PrivilegedState): number {
  const stages = now.task.stages.length;
  const holds = now.stageHolds;
  let done = 0;
  while (done < stages && holds[done]) done++;
  if (done === stages) return 100;
  const { source, target } = now.stageObjects[done]!;
  const snap = now.snapshot;
  const src = snap.com[source]!;
  const tgt = snap.pos[target]!;
  const grasped = isGrasped(snap, source);
  const reachStart = Math.max(1e-3, dist3(start.padCenter, start.snapshot.com[source]!));
  const carryStart = Math.max(1e-3, dist2(start.snapshot.com[source]!, start.snapshot.pos[target]!));
  // Reaching counts as done once the object is held (the pads are then at it by definition).
  const reach = grasped ? 1 : clamp01(1 - dist3(now.padCenter, src) / reachStart);
  const carry = clamp01(1 - dist2(src, tgt) / carryStart);
  // Carrying only counts while held, or once released over the target (placing it).
  const transport = grasped || carry > 0.9 ? carry : 0;
  const stage = 0.25 * reach + 0.25 * (grasped ? 1 : 0) + 0.25 * transport;
  return (100 * (done + stage)) / stages;
}
