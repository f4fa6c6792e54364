/**
 * Group-relative advantages and the flow-policy update weights (EVOLVE-VLA's GRPO on a flow
 * policy, methods digest section 3). G rollouts start from the same initial configuration; their
 * rewards are normalized within the group, so no value network is needed.
 *
 * @example
 * ```ts
 * groupAdvantages([0.2, 0.9, 0.5, 0.5]);   // zero mean, unit std within the group
 * advantageWeights([1.2, -0.4], { beta: 1, maxWeight: 5 }); // exp(A / beta), clipped
 * fpoSurrogate({ oldLoss: 0.31, newLoss: 0.29, advantage: 1.1, clip: 0.2 });
 * ```
 */
import { ArgumentError, RangeValueError } from '../errors.js';

/** (r - mean) / (std + eps) within one group; a group whose rewards are all equal gets zeros. */
export function groupAdvantages(rewards: readonly number[], eps = 1e-6): number[] {
  if (rewards.length === 0) throw new ArgumentError('VLA_ARGUMENT', 'groupAdvantages: the group is empty');
  rewards.forEach((r, i) => {
    if (!Number.isFinite(r)) throw new RangeValueError('VLA_VALUE', `groupAdvantages: reward ${i} is ${String(r)}`);
  });
  const n = rewards.length;
  const mean = rewards.reduce((s, r) => s + r, 0) / n;
  const variance = rewards.reduce((s, r) => s + (r - mean) ** 2, 0) / n;
  const std = Math.sqrt(variance);
  // Equal rewards carry no preference: zero, not 0/eps noise.
  if (std < 1e-12) return rewards.map(() => 0);
  return rewards.map((r) => (r - mean) / (std + eps));
}

/**
 * Advantage-weighted CFM: each sample's flow-matching loss is weighted by w = exp(A / beta),
 * clipped to [0, maxWeight] so one lucky rollout cannot dominate the update.
 */
export function advantageWeights(advantages: readonly number[], o: { beta?: number; maxWeight?: number } = {}): number[] {
  const beta = o.beta ?? 1;
  const maxWeight = o.maxWeight ?? 5;
  if (!(beta > 0)) throw new ArgumentError('VLA_ARGUMENT', `advantageWeights: beta must be positive, got ${String(beta)}`);
  if (!(maxWeight > 0)) throw new ArgumentError('VLA_ARGUMENT', `advantageWeights: maxWeight must be positive, got ${String(maxWeight)}`);
  return advantages.map((a, i) => {
    if (!Number.isFinite(a)) throw new RangeValueError('VLA_VALUE', `advantageWeights: advantage ${i} is ${String(a)}`);
    return Math.min(maxWeight, Math.exp(a / beta));
  });
}

/**
 * FPO's clipped surrogate for one action: rho = exp(L_old - L_new) (mean CFM losses over the
 * stored (eps, t) draws stand in for the likelihood ratio), objective -min(rho A, clip(rho) A).
 * Returns the loss and its derivative with respect to L_new (for the per-sample weights of the
 * native weighted-CFM step: d loss / d L_new).
 */
export function fpoSurrogate(o: { oldLoss: number; newLoss: number; advantage: number; clip?: number }): { loss: number; ratio: number; dLossDNewLoss: number; clipped: boolean } {
  const clip = o.clip ?? 0.2;
  if (!(clip > 0 && clip < 1)) throw new ArgumentError('VLA_ARGUMENT', `fpoSurrogate: clip must be in (0, 1), got ${String(clip)}`);
  for (const [k, v] of [['oldLoss', o.oldLoss], ['newLoss', o.newLoss], ['advantage', o.advantage]] as const) {
    if (!Number.isFinite(v)) throw new RangeValueError('VLA_VALUE', `fpoSurrogate: ${k} is ${String(v)}`);
  }
  const ratio = Math.exp(o.oldLoss - o.newLoss);
  const A = o.advantage;
  const unclipped = ratio * A;
  const clippedRatio = Math.min(1 + clip, Math.max(1 - clip, ratio));
  const clippedValue = clippedRatio * A;
  // The min picks the pessimistic term; when it is the clipped one the gradient is zero.
  const useClipped = clippedValue < unclipped;
  const loss = -(useClipped ? clippedValue : unclipped);
  // d(-rho A)/dL_new = rho A (since d rho / d L_new = -rho).
  const dLossDNewLoss = useClipped ? 0 : ratio * A;
  return { loss, ratio, dLossDNewLoss, clipped: useClipped };
}
