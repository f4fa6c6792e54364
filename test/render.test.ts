// The renderer through the TypeScript API: scenes in, images out; batches, async, reused
// buffers, and errors that name the field, the scene and the geom.
import { describe, expect, it } from 'vitest';

import {
  allocateGeoms,
  ArgumentError,
  DTypeError,
  GeomType,
  packScenes,
  RangeValueError,
  renderScenes,
  renderScenesAsync,
  setNumThreads,
  cpuInfo,
  ShapeError,
  TextureKind,
  type PackedSceneBatch,
  type Scene,
} from '../lib/index.js';
import { addon } from '../lib/native/loader.js';
import { pixelAt, sphereOnPlane } from './helpers/render-scenes.js';

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
}

describe('renderScenes', () => {
  it('draws a scene built with allocateGeoms', () => {
    const geoms = allocateGeoms(1);
    geoms.type[0] = GeomType.sphere;
    geoms.size[0] = 0.3;
    geoms.mat.set([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    geoms.rgba.set([1, 0, 0, 1]);
    geoms.texture[0] = TextureKind.none;
    const scene: Scene = {
      geoms,
      camera: { pos: [0, 0, 2], lookAt: [0, 0, 0], up: [0, 1, 0], fovyDeg: 40 },
      lighting: { direction: [0, 0, 1], color: [0, 0, 0], ambient: [1, 1, 1], shadows: false },
      background: [0, 0, 1],
    };
    const out = renderScenes([scene], { width: 32, height: 24 });
    expect(out.batch).toBe(1);
    expect(out.height).toBe(24);
    expect(out.width).toBe(32);
    expect(out.data).toBeInstanceOf(Uint8Array);
    expect(out.data.length).toBe(24 * 32 * 3);
    expect(pixelAt(out.image(0), 32, 16, 12)).toEqual([255, 0, 0]); // the sphere, ambient 1
    expect(pixelAt(out.image(0), 32, 0, 0)).toEqual([0, 0, 255]); // the background
  });

  it('draws each scene of a batch from its own camera', () => {
    const scenes = [sphereOnPlane(), sphereOnPlane({ pos: [0.8, -0.6, 0.8] }), sphereOnPlane({ fovyDeg: 25 }), sphereOnPlane()];
    const out = renderScenes(scenes, { width: 48, height: 48 });
    expect(out.batch).toBe(4);
    expect(sameBytes(out.image(0), out.image(3))).toBe(true);
    expect(sameBytes(out.image(0), out.image(1))).toBe(false);
    expect(sameBytes(out.image(0), out.image(2))).toBe(false);
    // Each image equals the same scene drawn alone.
    expect(sameBytes(out.image(1), renderScenes([scenes[1]!], { width: 48, height: 48 }).image(0))).toBe(true);
    // The camera looks at the red sphere.
    const [r, g, b] = pixelAt(out.image(0), 48, 24, 24);
    expect(r).toBeGreaterThan(150);
    expect(r).toBeGreaterThan(2 * g);
    expect(r).toBeGreaterThan(2 * b);
    expect(() => out.image(4)).toThrow(RangeError);
  });

  it('async equals sync, and the event loop runs meanwhile', async () => {
    const scenes = Array.from({ length: 16 }, (_, i) => sphereOnPlane({ pos: [0.1 * i - 0.8, -1, 0.8] }));
    const sync = renderScenes(scenes, { width: 96, height: 96, supersample: 2 });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const t0 = performance.now();
    const asyncOut = await renderScenesAsync(scenes, { width: 96, height: 96, supersample: 2 });
    const elapsed = performance.now() - t0;
    clearInterval(timer);
    expect(sameBytes(asyncOut.data, sync.data)).toBe(true);
    expect(asyncOut.batch).toBe(16);
    // Tens of milliseconds of drawing: the timer fired while it ran.
    expect(elapsed).toBeGreaterThan(5);
    expect(ticks).toBeGreaterThan(0);
    const many = await Promise.all(scenes.map((s) => renderScenesAsync([s], { width: 96, height: 96, supersample: 2 })));
    many.forEach((m, i) => expect(sameBytes(m.data, sync.image(i))).toBe(true));
  });

  it('keeps the inputs alive while an async render runs', async () => {
    const scenes = Array.from({ length: 8 }, (_, i) => sphereOnPlane({ pos: [0.1 * i - 0.4, -1, 0.8] }));
    const expected = renderScenes(scenes, { width: 128, height: 128 });
    const gc = (globalThis as { gc?: () => void }).gc;
    expect(gc).toBeTypeOf('function'); // vitest.config.ts runs tests with --expose-gc
    // Only the native side holds the packed arrays while this renders.
    const pending = renderScenesAsync(packScenes(scenes), { width: 128, height: 128 });
    for (let i = 0; i < 5; i++) {
      gc!();
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(sameBytes((await pending).data, expected.data)).toBe(true);
  });

  it('gives the same bytes for 1 and 2 threads, and without the thread pool', () => {
    const scenes = [sphereOnPlane(), sphereOnPlane({ pos: [0.5, -0.9, 0.4] })];
    const before = cpuInfo().threads;
    try {
      setNumThreads(1);
      const one = renderScenes(scenes, { width: 64, height: 64, supersample: 2 });
      setNumThreads(2);
      const two = renderScenes(scenes, { width: 64, height: 64, supersample: 2 });
      expect(sameBytes(one.data, two.data)).toBe(true);
      // threadPool: false draws on the calling thread alone, with the same bytes.
      const alone = renderScenes(scenes, { width: 64, height: 64, supersample: 2, threadPool: false });
      expect(sameBytes(one.data, alone.data)).toBe(true);
    } finally {
      setNumThreads(before);
    }
  });

  it('packs into the previous buffers and draws into a given output', () => {
    const scenes = [sphereOnPlane(), sphereOnPlane({ pos: [0.3, -1, 0.8] })];
    const first = packScenes(scenes);
    const second = packScenes(scenes, first);
    for (const key of Object.keys(first) as (keyof PackedSceneBatch)[]) {
      expect(second[key].buffer).toBe(first[key].buffer);
      expect(Array.from(second[key])).toEqual(Array.from(first[key]));
    }
    // Fewer scenes fit in the same memory; more need new arrays.
    const smaller = packScenes([scenes[0]!], second);
    expect(smaller.cameras.buffer).toBe(first.cameras.buffer);
    expect(smaller.cameras.length).toBe(10);
    const larger = packScenes([...scenes, ...scenes], second);
    expect(larger.cameras.buffer).not.toBe(first.cameras.buffer);
    expect(larger.geomOffsets.length).toBe(5);

    const out = new Uint8Array(2 * 40 * 30 * 3);
    const drawn = renderScenes(second, { width: 40, height: 30, out });
    expect(drawn.data).toBe(out);
    expect(sameBytes(out, renderScenes(scenes, { width: 40, height: 30 }).data)).toBe(true);
  });

  it('uses only the first count rows of geom arrays with spare capacity', () => {
    const base = sphereOnPlane();
    const roomy = allocateGeoms(10);
    for (const key of ['type', 'size', 'pos', 'mat', 'rgba', 'texture', 'texParams'] as const) {
      (roomy[key] as Float32Array | Int32Array).set(base.geoms[key]);
    }
    roomy.count = base.geoms.count; // rows past count are zeros and would fail validation if read
    const a = renderScenes([base], { width: 32, height: 32 });
    const b = renderScenes([{ ...base, geoms: roomy }], { width: 32, height: 32 });
    expect(sameBytes(a.data, b.data)).toBe(true);
  });

  it('draws an empty batch and a scene without geoms', () => {
    expect(renderScenes([], { width: 8, height: 8 }).data.length).toBe(0);
    const empty: Scene = { ...sphereOnPlane(), geoms: allocateGeoms(0), background: [1, 1, 1] };
    const out = renderScenes([empty], { width: 4, height: 4 });
    expect(Array.from(out.data).every((v) => v === 255)).toBe(true);
  });
});

describe('renderScenes errors', () => {
  const bad = (mutate: (s: Scene) => void): Scene[] => {
    const scenes = [sphereOnPlane(), sphereOnPlane()];
    mutate(scenes[1]!);
    return scenes;
  };
  const rows: { what: string; scenes: () => Scene[]; error: new (...args: never[]) => Error; message: RegExp }[] = [
    { what: 'negative radius', scenes: () => bad((s) => { s.geoms.size[3] = -1; }), error: RangeValueError, message: /scene 1, geom 1 \(batch geom 4\): size\[0\] \(radius\) = -1 must be > 0 for a sphere/ },
    { what: 'NaN position', scenes: () => bad((s) => { s.geoms.pos[7] = NaN; }), error: RangeValueError, message: /scene 1, geom 2 \(batch geom 5\): pos\[1\] is nan/ },
    { what: 'unknown type', scenes: () => bad((s) => { s.geoms.type[0] = 42; }), error: RangeValueError, message: /scene 1, geom 0 \(batch geom 3\): type = 42 is not a MuJoCo geom type/ },
    { what: 'zero rotation', scenes: () => bad((s) => { s.geoms.mat.fill(0, 9, 18); }), error: RangeValueError, message: /scene 1, geom 1 \(batch geom 4\): mat is not a rotation matrix/ },
    { what: 'camera at its target', scenes: () => bad((s) => { s.camera.lookAt = [...s.camera.pos]; }), error: RangeValueError, message: /scene 1: camera lookAt equals pos/ },
    { what: 'up along the view', scenes: () => bad((s) => { s.camera = { pos: [0, 0, 2], lookAt: [0, 0, 0], up: [0, 0, 1], fovyDeg: 45 }; }), error: RangeValueError, message: /scene 1: camera up \(0, 0, 1\) is parallel to the view direction/ },
    { what: 'NaN field of view', scenes: () => bad((s) => { s.camera.fovyDeg = NaN; }), error: RangeValueError, message: /scene 1: cameras\.fovyDeg is nan/ },
    { what: 'short camera tuple', scenes: () => bad((s) => { s.camera.pos = [0, 0] as never; }), error: ShapeError, message: /packScenes: scenes\[1\]\.camera\.pos must hold 3 numbers, got 2/ },
    { what: 'geom arrays shorter than count', scenes: () => bad((s) => { s.geoms.count = 4; }), error: ShapeError, message: /packScenes: scenes\[1\]\.geoms\.type has 3 elements, fewer than count \* 1 = 4/ },
  ];
  for (const row of rows) {
    it(`${row.what}: sync throws, async rejects`, async () => {
      expect(() => renderScenes(row.scenes(), { width: 8, height: 8 })).toThrow(row.error);
      expect(() => renderScenes(row.scenes(), { width: 8, height: 8 })).toThrow(row.message);
      if (row.error !== ShapeError) {
        await expect(renderScenesAsync(row.scenes(), { width: 8, height: 8 })).rejects.toThrow(row.message);
        await expect(renderScenesAsync(row.scenes(), { width: 8, height: 8 })).rejects.toBeInstanceOf(row.error);
      }
    });
  }

  it('checks options and array types and lengths', async () => {
    const packed = packScenes([sphereOnPlane()]);
    expect(() => renderScenes(packed, { width: 0, height: 8 })).toThrow(ArgumentError);
    expect(() => renderScenes(packed, { width: 0, height: 8 })).toThrow(/options\.width must be an integer in \[1, 4096\]/);
    expect(() => renderScenes(packed, { width: 8, height: 8, supersample: 9 })).toThrow(/options\.supersample must be an integer in \[1, 8\]/);
    expect(() => renderScenes(packed, { width: 8, height: 8.5 })).toThrow(/options\.height must be an integer/);
    expect(() => renderScenes(packed, { width: 8, height: 8, threadPool: 'no' as never })).toThrow(/options\.threadPool must be a boolean/);
    expect(() => renderScenes(packed, { width: 8, height: 8, out: new Uint8Array(5) })).toThrow(ShapeError);
    expect(() => renderScenes(packed, { width: 8, height: 8, out: new Uint8Array(5) })).toThrow(/options\.out has 5 bytes, expected B \* H \* W \* 3 = 1 \* 8 \* 8 \* 3 = 192/);
    expect(() => renderScenes({ ...packed, size: new Float32Array(2) }, { width: 8, height: 8 })).toThrow(/batch\.size has 2 elements, expected G \* 3 = 9/);
    expect(() => renderScenes({ ...packed, mat: new Float64Array(27) as never }, { width: 8, height: 8 })).toThrow(DTypeError);
    expect(() => renderScenes({ ...packed, mat: new Float64Array(27) as never }, { width: 8, height: 8 })).toThrow(/batch\.mat must be a Float32Array/);
    const offsets = Int32Array.from([0, 5]);
    expect(() => renderScenes({ ...packed, geomOffsets: offsets }, { width: 8, height: 8 })).toThrow(/geomOffsets\[1\] = 5 must equal the number of geoms, 3/);
    await expect(renderScenesAsync(packed, { width: 8, height: -1 })).rejects.toBeInstanceOf(ArgumentError);
    // The raw addon rejects a non-object batch without crashing.
    expect(() => addon().renderBatch(null as never, { width: 8, height: 8 })).toThrow(/renderBatch\(batch, options\)/);
  });
});
