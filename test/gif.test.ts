// The GIF encoder: its files decode back to the right pixels with a decoder written for the tests
// from the GIF89a specification (test/helpers/gif-decoder.ts) (blocks, color tables, variable-width LZW with clear codes), and
// carry the documented structure (header, loop extension, per-frame delay and palette).
import { describe, expect, it } from 'vitest';

import { encodeGif, lzwEncode, medianCutPalette } from '../lib/render/gif.js';
import type { RgbImage } from '../lib/render/image-grid.js';
import { Rng } from '../lib/util/random.js';
import { decodeGif } from './helpers/gif-decoder.js';

/** An image whose pixels take `colors` distinct random colors. */
function randomImage(width: number, height: number, colors: number, seed: number): RgbImage {
  const rng = new Rng(seed);
  const palette = Array.from({ length: colors }, () => [rng.int(256), rng.int(256), rng.int(256)]);
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set(palette[rng.int(colors)]!, i * 3);
  return { width, height, data };
}

describe('GIF encoder', () => {
  it('writes a tiny two-frame animation that decodes to the same pixels, with delay and looping', () => {
    const a: RgbImage = { width: 3, height: 2, data: Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 255, 0, 0]) };
    const b: RgbImage = { width: 3, height: 2, data: Uint8Array.from([9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9]) };
    const file = encodeGif([a, b], { delayMs: 250, loops: 3 });
    expect(file[file.length - 1]).toBe(0x3b);
    const gif = decodeGif(file);
    expect(gif).toMatchObject({ width: 3, height: 2, loops: 3 });
    expect(gif.frames).toHaveLength(2);
    expect(gif.frames[0]!.rgb).toEqual(a.data);
    expect(gif.frames[1]!.rgb).toEqual(b.data);
    expect(gif.frames.map((f) => f.delayCs)).toEqual([25, 25]);
    // 5 colors need an 8-entry table; 1 color the smallest table (2 entries).
    expect(gif.frames.map((f) => f.paletteSize)).toEqual([8, 2]);
    expect(decodeGif(encodeGif([a])).loops).toBe(0); // forever by default
  });

  it('compresses long images exactly, through code widening up to 12 bits and table resets', () => {
    // 200 random colors over 120 x 120 pixels: the 4096-entry table fills several times.
    const image = randomImage(120, 120, 200, 5);
    const gif = decodeGif(encodeGif([image]));
    expect(gif.frames[0]!.rgb).toEqual(image.data);
    expect(gif.frames[0]!.maxCodeBits).toBe(12);
    expect(gif.frames[0]!.clearCodes).toBeGreaterThan(2);
    // A flat image compresses to a handful of bytes (long runs become long codes).
    const flat = randomImage(120, 120, 1, 6);
    expect(lzwEncode(new Uint8Array(120 * 120), 2).length).toBeLessThan(300);
    expect(decodeGif(encodeGif([flat])).frames[0]!.rgb).toEqual(flat.data);
  });

  it('quantizes images with more than 256 colors to a median-cut palette close to them', () => {
    // A smooth two-dimensional gradient: 64 x 64 = 4096 distinct colors.
    const width = 64;
    const data = new Uint8Array(width * width * 3);
    for (let y = 0; y < width; y++) for (let x = 0; x < width; x++) data.set([x * 4, y * 4, 255 - ((x + y) * 2)], (y * width + x) * 3);
    const palette = medianCutPalette(data, 256);
    expect(palette.length).toBe(256 * 3);
    const decoded = decodeGif(encodeGif([{ width, height: width, data }])).frames[0]!.rgb;
    let error = 0;
    let worst = 0;
    for (let i = 0; i < data.length; i++) {
      const d = Math.abs(decoded[i]! - data[i]!);
      error += d;
      worst = Math.max(worst, d);
    }
    // 256 boxes over a 64 x 64 x 64-ish color cube: cells about 16 levels wide per split axis.
    expect(error / data.length).toBeLessThan(4);
    expect(worst).toBeLessThan(24);
    // Few colors are kept exactly.
    expect(Array.from(medianCutPalette(Uint8Array.from([1, 2, 3, 1, 2, 3, 7, 8, 9])))).toEqual([1, 2, 3, 7, 8, 9]);
  });

  it('rejects frames of different sizes and bad options, naming them', () => {
    const a = randomImage(4, 4, 3, 1);
    expect(() => encodeGif([])).toThrow(/no frames/);
    expect(() => encodeGif([a, randomImage(4, 5, 3, 2)])).toThrow(/frame 1 is 4 x 5, frame 0 is 4 x 4/);
    expect(() => encodeGif([{ ...a, data: a.data.subarray(1) }])).toThrow(/frame 0 has 47 bytes/);
    expect(() => encodeGif([a], { loops: -1 })).toThrow(/loops must be an integer/);
    expect(() => encodeGif([a], { delayMs: NaN })).toThrow(/delayMs/);
    expect(() => lzwEncode(Uint8Array.from([0, 9]), 2)).toThrow(/index 9 does not fit 2 bits/);
  });
});
