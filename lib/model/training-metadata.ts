/**
 * What a checkpoint's 'training' metadata (written by vla-ttt train) says about its data: which
 * embodiments' prompt blocks saw demonstrations. A block that saw none is still its random
 * initialization, so adaptation should not start from it.
 */
import type { Policy } from './policy.js';

/** Episodes per embodiment id in the training data, or null when the checkpoint does not record it. */
export function trainedEmbodiments(policy: Pick<Policy, 'metadata'>): Map<number, number> | null {
  const raw = policy.metadata['training'];
  if (raw === undefined) return null;
  try {
    const t = JSON.parse(raw) as { embodiments?: Record<string, number> };
    if (!t.embodiments || typeof t.embodiments !== 'object') return null;
    return new Map(Object.entries(t.embodiments).map(([k, v]) => [Number(k), Number(v)]));
  } catch {
    return null;
  }
}

/**
 * The block an untrained embodiment should start from: the embodiment with the most training
 * episodes, or null when `embodiment` was trained or the checkpoint does not say.
 */
export function promptSourceFor(policy: Pick<Policy, 'metadata'>, embodiment: number): number | null {
  const trained = trainedEmbodiments(policy);
  if (!trained || trained.has(embodiment) || trained.size === 0) return null;
  return [...trained.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]![0];
}
