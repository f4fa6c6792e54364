/**
 * Image augmentation for training (switchable): random shifts (pad by replicating the border,
 * then crop at a random offset, as DrQ does) and color jitter (brightness, contrast, saturation).
 * Every draw comes from the given seeded generator, so a training step's batch is reproducible.
 */
import type { Rng } from '../util/random.js';

export interface AugmentOptions {
  /** Largest shift in pixels (0 disables shifting). */
  maxShift: number;
  /** Largest relative change of brightness, contrast and saturation (0 disables jitter). */
  jitter: number;
}

export const DEFAULT_AUGMENT: AugmentOptions = { maxShift: 4, jitter: 0.15 };

/** Augments one S x S RGB image from `src` into `dst` (both [S * S * 3]). */
export function augmentImage(src: Uint8Array, dst: Uint8Array, size: number, rng: Rng, opts: AugmentOptions): void {
  const dx = opts.maxShift > 0 ? rng.int(2 * opts.maxShift + 1) - opts.maxShift : 0;
  const dy = opts.maxShift > 0 ? rng.int(2 * opts.maxShift + 1) - opts.maxShift : 0;
  const brightness = 1 + (opts.jitter > 0 ? rng.uniform(-opts.jitter, opts.jitter) : 0);
  const contrast = 1 + (opts.jitter > 0 ? rng.uniform(-opts.jitter, opts.jitter) : 0);
  const saturation = 1 + (opts.jitter > 0 ? rng.uniform(-opts.jitter, opts.jitter) : 0);
  // Mean intensity for the contrast pivot.
  let mean = 0;
  for (let i = 0; i < src.length; i++) mean += src[i]!;
  mean /= src.length;
  const clampi = (v: number, hi: number) => (v < 0 ? 0 : v > hi ? hi : v);
  for (let y = 0; y < size; y++) {
    const sy = clampi(y + dy, size - 1);
    for (let x = 0; x < size; x++) {
      const sx = clampi(x + dx, size - 1);
      const s = (sy * size + sx) * 3;
      const d = (y * size + x) * 3;
      let r = src[s]! * brightness;
      let g = src[s + 1]! * brightness;
      let b = src[s + 2]! * brightness;
      r = (r - mean) * contrast + mean;
      g = (g - mean) * contrast + mean;
      b = (b - mean) * contrast + mean;
      const gray = 0.299 * r + 0.587 * g + 0.114 * b;
      r = gray + (r - gray) * saturation;
      g = gray + (g - gray) * saturation;
      b = gray + (b - gray) * saturation;
      dst[d] = clampi(Math.round(r), 255);
      dst[d + 1] = clampi(Math.round(g), 255);
      dst[d + 2] = clampi(Math.round(b), 255);
    }
  }
}
