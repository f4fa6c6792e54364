/**
 * Draws batches of scenes (see scene.ts) into 8-bit RGB images with the native CPU renderer:
 * ray casting against analytic shapes, Lambert diffuse plus ambient light, optional hard
 * shadows, procedural textures, sRGB output, optional supersampling. docs/renderer.md has the
 * details and measured speed.
 *
 * Images come back as one Uint8Array [B, H, W, 3] (row 0 at the top); `image(i)` views one.
 * Output depends only on the input (any thread count gives the same bytes).
 *
 * @example
 * ```ts
 * import { buildGeoms, renderScenes, type Scene } from 'vla-ttt';
 * const scene: Scene = {
 *   geoms: buildGeoms([
 *     { type: 'plane', size: [0, 0], pos: [0, 0, 0], rgba: [0.8, 0.8, 0.8, 1], texture: 'checker', texScale: 0.1, texColor: [0.3, 0.3, 0.3] },
 *     { type: 'sphere', size: [0.05], pos: [0, 0, 0.05], rgba: [0.9, 0.2, 0.1, 1] },
 *   ]),
 *   camera: { pos: [0.6, -0.6, 0.5], lookAt: [0, 0, 0], up: [0, 0, 1], fovyDeg: 45 },
 *   lighting: { direction: [0.3, -0.2, 1], color: [0.8, 0.8, 0.8], ambient: [0.2, 0.2, 0.2], shadows: true },
 *   background: [0.5, 0.6, 0.8],
 * };
 * const out = renderScenes([scene], { width: 64, height: 64 });
 * const rgb = out.image(0); // Uint8Array of 64 * 64 * 3
 *
 * // A control loop: pack into the same buffers each step, draw into the same output.
 * let packed = packScenes(scenes);
 * const frames = new Uint8Array(scenes.length * 64 * 64 * 3);
 * for (;;) {
 *   packed = packScenes(scenes, packed);
 *   const images = await renderScenesAsync(packed, { width: 64, height: 64, out: frames });
 * }
 * ```
 */
import { ShapeError, fromNativeError } from '../errors.js';
import type { NativeSceneBatch } from '../native/addon-types.js';
import { addon } from '../native/loader.js';
import type { Scene, SceneGeoms } from './scene.js';

/**
 * A batch of B scenes with G geoms in all as flat arrays, the form the native renderer reads.
 * Scene b owns geoms [geomOffsets[b], geomOffsets[b + 1]). Field meanings are those of
 * SceneGeoms, Camera and Lighting (scene.ts); per-scene rows are
 * cameras [B, 10] = pos 3, lookAt 3, up 3, fovyDeg; lights [B, 10] = direction 3, color 3,
 * ambient 3, shadows (0 or 1); background [B, 3]. Build one with packScenes, or fill the arrays
 * directly (from a simulator's buffers, say).
 */
export type PackedSceneBatch = NativeSceneBatch;

export interface RenderOptions {
  /** Image width in pixels, 1 to 4096. */
  width: number;
  /** Image height in pixels, 1 to 4096. */
  height: number;
  /** Samples per pixel side for antialiasing (1 to 8; 2 means 2x2 samples). Default 1. */
  supersample?: number;
  /**
   * Default true: the work is spread over the global thread pool. false: the calling thread
   * draws the whole batch (no hand-offs or spin-waits), for callers that already run one
   * renderer per thread, e.g. worker threads that each draw their own batches. Same bytes.
   */
  threadPool?: boolean;
  /** A Uint8Array of B * H * W * 3 bytes to draw into instead of allocating one. */
  out?: Uint8Array;
}

/** Images [batch, height, width, 3] in one buffer, uint8 sRGB, row 0 at the top. */
export class RenderedBatch {
  constructor(
    /** All images, [batch, height, width, 3]. */
    readonly data: Uint8Array,
    readonly batch: number,
    readonly height: number,
    readonly width: number,
  ) {}

  /** Bytes per image: height * width * 3. */
  get imageBytes(): number {
    return this.height * this.width * 3;
  }

  /** Image i, [height, width, 3], as a view into `data` (no copy). */
  image(i: number): Uint8Array {
    if (!Number.isInteger(i) || i < 0 || i >= this.batch) {
      throw new RangeError(`RenderedBatch.image(${i}): index must be an integer in [0, ${this.batch})`);
    }
    return this.data.subarray(i * this.imageBytes, (i + 1) * this.imageBytes);
  }
}

/** The number of scenes in a packed batch. */
export function packedSceneCount(batch: PackedSceneBatch): number {
  return batch.geomOffsets.length - 1;
}

type ArrayCtor<T> = { new (n: number): T; new (buffer: ArrayBufferLike, byteOffset: number, length: number): T; BYTES_PER_ELEMENT: number };

/** A view of n elements over `previous`'s memory when it is large enough, else a new array. */
function reuse<T extends Int32Array | Float32Array>(previous: T | undefined, Ctor: ArrayCtor<T>, n: number): T {
  if (previous && previous.buffer.byteLength - previous.byteOffset >= n * Ctor.BYTES_PER_ELEMENT) {
    return previous.length === n ? previous : new Ctor(previous.buffer, previous.byteOffset, n);
  }
  return new Ctor(n);
}

const geomFields = [
  ['type', 1],
  ['size', 3],
  ['pos', 3],
  ['mat', 9],
  ['rgba', 4],
  ['texture', 1],
  ['texParams', 4],
] as const satisfies readonly (readonly [keyof SceneGeoms & keyof NativeSceneBatch, number])[];

function checkTuple(value: readonly number[] | undefined, length: number, where: string): void {
  if (!value || value.length !== length) {
    throw new ShapeError('VLA_SHAPE', `packScenes: ${where} must hold ${length} numbers, got ${value ? value.length : String(value)}`);
  }
}

/**
 * Packs scenes into the flat arrays the renderer reads. Geom arrays may be longer than
 * `geoms.count` rows (spare capacity); only the first `count` rows are used.
 *
 * Pass the batch this function returned last time as `previous` to write into its memory when
 * it is large enough (no allocation but small view objects): for a control loop that packs
 * every step. The previous batch must not be in use by an unsettled renderScenesAsync.
 */
export function packScenes(scenes: readonly Scene[], previous?: PackedSceneBatch): PackedSceneBatch {
  let geomCount = 0;
  scenes.forEach((scene, i) => {
    const g = scene.geoms;
    if (!Number.isInteger(g.count) || g.count < 0) {
      throw new ShapeError('VLA_SHAPE', `packScenes: scenes[${i}].geoms.count must be a non-negative integer, got ${g.count}`);
    }
    for (const [field, width] of geomFields) {
      if (g[field].length < g.count * width) {
        throw new ShapeError(
          'VLA_SHAPE',
          `packScenes: scenes[${i}].geoms.${field} has ${g[field].length} elements, fewer than count * ${width} = ${g.count * width}`,
        );
      }
    }
    checkTuple(scene.camera.pos, 3, `scenes[${i}].camera.pos`);
    checkTuple(scene.camera.lookAt, 3, `scenes[${i}].camera.lookAt`);
    checkTuple(scene.camera.up, 3, `scenes[${i}].camera.up`);
    checkTuple(scene.lighting.direction, 3, `scenes[${i}].lighting.direction`);
    checkTuple(scene.lighting.color, 3, `scenes[${i}].lighting.color`);
    checkTuple(scene.lighting.ambient, 3, `scenes[${i}].lighting.ambient`);
    checkTuple(scene.background, 3, `scenes[${i}].background`);
    geomCount += g.count;
  });
  const B = scenes.length;
  const out: PackedSceneBatch = {
    geomOffsets: reuse(previous?.geomOffsets, Int32Array, B + 1),
    type: reuse(previous?.type, Int32Array, geomCount),
    size: reuse(previous?.size, Float32Array, geomCount * 3),
    pos: reuse(previous?.pos, Float32Array, geomCount * 3),
    mat: reuse(previous?.mat, Float32Array, geomCount * 9),
    rgba: reuse(previous?.rgba, Float32Array, geomCount * 4),
    texture: reuse(previous?.texture, Int32Array, geomCount),
    texParams: reuse(previous?.texParams, Float32Array, geomCount * 4),
    cameras: reuse(previous?.cameras, Float32Array, B * 10),
    lights: reuse(previous?.lights, Float32Array, B * 10),
    background: reuse(previous?.background, Float32Array, B * 3),
  };
  let offset = 0;
  scenes.forEach((scene, b) => {
    const g = scene.geoms;
    out.geomOffsets[b] = offset;
    for (const [field, width] of geomFields) {
      (out[field] as Int32Array | Float32Array).set(g[field].subarray(0, g.count * width), offset * width);
    }
    offset += g.count;
    const { camera, lighting, background } = scene;
    out.cameras.set(camera.pos, b * 10);
    out.cameras.set(camera.lookAt, b * 10 + 3);
    out.cameras.set(camera.up, b * 10 + 6);
    out.cameras[b * 10 + 9] = camera.fovyDeg;
    out.lights.set(lighting.direction, b * 10);
    out.lights.set(lighting.color, b * 10 + 3);
    out.lights.set(lighting.ambient, b * 10 + 6);
    out.lights[b * 10 + 9] = lighting.shadows ? 1 : 0;
    out.background.set(background, b * 3);
  });
  out.geomOffsets[B] = offset;
  return out;
}

function toPacked(input: readonly Scene[] | PackedSceneBatch): PackedSceneBatch {
  return Array.isArray(input) ? packScenes(input as readonly Scene[]) : (input as PackedSceneBatch);
}

/**
 * Draws every scene into one RenderedBatch. Errors name the field, the scene and the geom
 * (RangeValueError for bad values, ShapeError for array lengths, ArgumentError for options).
 */
export function renderScenes(input: readonly Scene[] | PackedSceneBatch, options: RenderOptions): RenderedBatch {
  const packed = toPacked(input);
  let data: Uint8Array;
  try {
    data = addon().renderBatch(packed, options);
  } catch (e) {
    throw fromNativeError(e);
  }
  return new RenderedBatch(data, packedSceneCount(packed), options.height, options.width);
}

/**
 * renderScenes on a worker thread: the event loop keeps running while it draws. The packed
 * arrays and `options.out` must not be changed until the promise settles.
 */
export async function renderScenesAsync(input: readonly Scene[] | PackedSceneBatch, options: RenderOptions): Promise<RenderedBatch> {
  const packed = toPacked(input);
  let data: Uint8Array;
  try {
    data = await addon().renderBatchAsync(packed, options);
  } catch (e) {
    throw fromNativeError(e);
  }
  return new RenderedBatch(data, packedSceneCount(packed), options.height, options.width);
}
