/**
 * Observation images: their size convention (stated here once) and how the tabletop draws them
 * with the native batched renderer.
 *
 * Every observation carries a 64x64 RGB image by default (`DEFAULT_IMAGE_SIZE`, the policy
 * model's default input); environments, rollouts, the CLI and datasets take their default from
 * this constant, and all accept another size or no images at all.
 *
 * `ObservationRenderer` draws a batch of scenes (one per environment) in one native call. It
 * packs the scenes into the flat buffers it used last time (`packScenes(scenes, previous)`), so
 * a control loop allocates no scene buffers after the first step, and draws straight into one
 * output array per batch (no per-image allocation or copy): the images of a batch are views
 * into that array, which the caller owns. With `threadPool: false` the calling thread draws
 * alone: rollout workers that each draw their own batch use it when there are at least as many
 * workers as CPUs, so that they do not hand work to (and spin-wait on) one shared pool.
 *
 * @example
 * ```ts
 * const renderer = new ObservationRenderer(DEFAULT_IMAGE_SIZE);
 * const pixels = renderer.render([envA.liveScene(), envB.liveScene()]); // 2 x 64 x 64 x 3 bytes
 * const images = renderer.split(pixels, 2); // [{ width: 64, height: 64, data: view }, ...]
 * ```
 */
import { ArgumentError } from '../errors.js';
import { packScenes, renderScenes, renderScenesAsync, type PackedSceneBatch } from '../render/renderer.js';
import type { Scene } from '../render/scene.js';

/** Width and height of an image in pixels. */
export interface ImageSize {
  width: number;
  height: number;
}

/** An RGB image, row 0 at the top, height * width * 3 bytes. */
export interface RgbImage extends ImageSize {
  data: Uint8Array;
}

/** The size of observation images unless a caller asks otherwise: 64 x 64 RGB. */
export const DEFAULT_IMAGE_SIZE: Readonly<ImageSize> = Object.freeze({ width: 64, height: 64 });

/** The renderer's limit on each side, pixels. */
export const MAX_IMAGE_SIDE = 4096;

/** Validates an image size; errors name the field (`${field}.width`). */
export function checkImageSize(size: unknown, field = 'imageSize'): ImageSize {
  if (typeof size !== 'object' || size === null) throw new ArgumentError('VLA_ARGUMENT', `${field} must be { width, height } in pixels, got ${String(size)}`);
  const s = size as Partial<ImageSize>;
  for (const key of ['width', 'height'] as const) {
    const v = s[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1 || v > MAX_IMAGE_SIDE) {
      throw new ArgumentError('VLA_ARGUMENT', `${field}.${key} must be an integer in [1, ${MAX_IMAGE_SIDE}], got ${String(v)}`);
    }
  }
  return { width: s.width!, height: s.height! };
}

/**
 * A batched renderer as rollouts accept it: B scenes in, B*H*W*3 bytes out (RGB, row 0 at the
 * top). Rollouts call it on the main thread with the scenes of every environment that needs an
 * action; use it for custom renderers and test doubles (the default, 'native', draws inside
 * the workers instead).
 */
export type BatchRenderer = (scenes: Scene[], opts: ImageSize) => Promise<Uint8Array>;

/** The native renderer in BatchRenderer form (drawn off the event loop). */
export const nativeBatchRenderer: BatchRenderer = async (scenes, opts) => (await renderScenesAsync(scenes, { width: opts.width, height: opts.height })).data;

/** Draws batches of scenes of one image size, reusing its packed scene buffers between calls. */
export class ObservationRenderer {
  readonly size: ImageSize;
  /** Whether draws use the native thread pool (true) or only the calling thread (false). */
  readonly threadPool: boolean;
  private packed: PackedSceneBatch | undefined;

  constructor(size: ImageSize = DEFAULT_IMAGE_SIZE, options: { threadPool?: boolean } = {}) {
    this.size = checkImageSize(size);
    this.threadPool = options.threadPool ?? true;
  }

  /** Bytes of one image: height * width * 3. */
  get imageBytes(): number {
    return this.size.width * this.size.height * 3;
  }

  /**
   * Draws every scene in one native call into one new array of B*H*W*3 bytes, which the caller
   * owns (it can be transferred to another thread). The scenes are copied into the packed
   * buffers before drawing, so the caller may change them as soon as this returns.
   */
  render(scenes: readonly Scene[]): Uint8Array {
    const out = new Uint8Array(scenes.length * this.imageBytes);
    if (scenes.length === 0) return out;
    this.packed = packScenes(scenes, this.packed);
    renderScenes(this.packed, { width: this.size.width, height: this.size.height, out, threadPool: this.threadPool });
    return out;
  }

  /** The images of a rendered batch, as views into `pixels` (no copies). */
  split(pixels: Uint8Array, count: number): RgbImage[] {
    const n = this.imageBytes;
    if (pixels.length !== count * n) throw new ArgumentError('VLA_ARGUMENT', `ObservationRenderer.split: ${pixels.length} bytes are not ${count} images of ${this.size.width}x${this.size.height}x3`);
    return Array.from({ length: count }, (_, i) => ({ width: this.size.width, height: this.size.height, data: pixels.subarray(i * n, (i + 1) * n) }));
  }
}
