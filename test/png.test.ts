// The PNG encoder: its files decode back to the same pixels with a decoder written here from the
// PNG specification (chunk CRCs, zlib inflate, all five row filters), with the right header.
import { inflateSync } from 'node:zlib';

import { describe, expect, it } from 'vitest';

import { crc32, encodePng } from '../lib/index.js';

/** CRC-32 bit by bit (no table), to check the encoder's table-driven one independently. */
function crc32Reference(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of bytes) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

interface Decoded {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  interlace: number;
  chunks: string[];
  filters: Set<number>;
  rgb: Uint8Array;
}

function decodePng(file: Buffer): Decoded {
  expect([...file.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let pos = 8;
  const chunks: string[] = [];
  const idat: Buffer[] = [];
  let header: Buffer | undefined;
  while (pos < file.length) {
    const length = file.readUInt32BE(pos);
    const type = file.toString('ascii', pos + 4, pos + 8);
    const data = file.subarray(pos + 8, pos + 8 + length);
    const crc = file.readUInt32BE(pos + 8 + length);
    expect(crc).toBe(crc32Reference(file.subarray(pos + 4, pos + 8 + length)));
    chunks.push(type);
    if (type === 'IHDR') header = data;
    if (type === 'IDAT') idat.push(data);
    pos += 12 + length;
  }
  expect(pos).toBe(file.length);
  if (!header) throw new Error('no IHDR');
  const width = header.readUInt32BE(0);
  const height = header.readUInt32BE(4);
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * 3;
  expect(raw.length).toBe(height * (stride + 1));
  const rgb = new Uint8Array(height * stride);
  const filters = new Set<number>();
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    filters.add(filter);
    for (let i = 0; i < stride; i++) {
      const x = raw[y * (stride + 1) + 1 + i]!;
      const a = i >= 3 ? rgb[y * stride + i - 3]! : 0;
      const b = y > 0 ? rgb[(y - 1) * stride + i]! : 0;
      const c = i >= 3 && y > 0 ? rgb[(y - 1) * stride + i - 3]! : 0;
      let predictor: number;
      if (filter === 0) predictor = 0;
      else if (filter === 1) predictor = a;
      else if (filter === 2) predictor = b;
      else if (filter === 3) predictor = Math.floor((a + b) / 2);
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else throw new Error(`bad filter ${filter}`);
      rgb[y * stride + i] = (x + predictor) & 0xff;
    }
  }
  return { width, height, bitDepth: header[8]!, colorType: header[9]!, interlace: header[12]!, chunks, filters, rgb };
}

/** A deterministic pseudo-random byte stream (xorshift32) for noise images. */
function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = s & 0xff;
  }
  return out;
}

function image(width: number, height: number, f: (x: number, y: number, c: number) => number): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) out[(y * width + x) * 3 + c] = f(x, y, c) & 0xff;
  return out;
}

describe('encodePng', () => {
  it('crc32 matches the bitwise definition and the known check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    const bytes = noise(1000, 9);
    expect(crc32(bytes)).toBe(crc32Reference(bytes));
    expect(crc32(bytes.subarray(400), crc32(bytes.subarray(0, 400)))).toBe(crc32(bytes));
  });

  const cases: [string, number, number, Uint8Array][] = [
    ['noise', 37, 23, noise(37 * 23 * 3, 5)],
    ['horizontal gradient', 64, 16, image(64, 16, (x, _y, c) => x * 4 + c * 20)],
    ['vertical gradient', 16, 64, image(16, 64, (_x, y, c) => y * 4 + c)],
    ['diagonal pattern', 40, 40, image(40, 40, (x, y, c) => (x * 7 + y * 13 + c * 50) ^ (x * y))],
    ['blocks', 48, 32, image(48, 32, (x, y, c) => ((x >> 3) + (y >> 3)) % 2 ? 200 - c * 40 : 30 + c * 10)],
    ['one pixel', 1, 1, Uint8Array.from([1, 2, 3])],
  ];
  for (const [name, width, height, rgb] of cases) {
    it(`round-trips ${name} (${width}x${height})`, () => {
      const file = encodePng(rgb, width, height);
      const d = decodePng(file);
      expect(d.chunks).toEqual(['IHDR', 'IDAT', 'IEND']);
      expect([d.width, d.height, d.bitDepth, d.colorType, d.interlace]).toEqual([width, height, 8, 2, 0]);
      expect(Buffer.compare(Buffer.from(d.rgb), Buffer.from(rgb))).toBe(0);
    });
  }

  it('uses several row filters across images, and compresses flat images well', () => {
    const used = new Set<number>();
    for (const [, width, height, rgb] of cases) for (const f of decodePng(encodePng(rgb, width, height)).filters) used.add(f);
    expect(used.size).toBeGreaterThanOrEqual(3);
    const flat = new Uint8Array(256 * 256 * 3).fill(128);
    expect(encodePng(flat, 256, 256).length).toBeLessThan(1000);
  });

  it('rejects bad sizes', () => {
    expect(() => encodePng(new Uint8Array(11), 2, 2)).toThrow(/rgb has 11 bytes, expected width \* height \* 3 = 12/);
    expect(() => encodePng(new Uint8Array(0), 0, 0)).toThrow(/positive integers/);
    expect(() => encodePng(new Uint8Array(6), 1.5, 1)).toThrow(/positive integers/);
  });
});
