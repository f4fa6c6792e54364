/**
 * A GIF decoder written from the GIF89a specification, for tests: blocks, color tables and
 * variable-width LZW with clear codes. It checks the structure as it goes (expect) and records
 * what the tests look at: loop count, per-frame delay, palette size, clear codes and the widest
 * code.
 */
import { expect } from 'vitest';

export interface DecodedGif {
  width: number;
  height: number;
  loops: number | null;
  frames: Array<{ rgb: Uint8Array; delayCs: number; paletteSize: number; clearCodes: number; maxCodeBits: number }>;
}

/** GIF LZW decoding: codes read LSB first, widened when the table reaches 2^bits entries. */
export function lzwDecode(data: Uint8Array, minCodeSize: number, pixels: number): { indices: Uint8Array; clearCodes: number; maxCodeBits: number } {
  const clear = 1 << minCodeSize;
  const end = clear + 1;
  let bits = minCodeSize + 1;
  let maxCodeBits = bits;
  let pos = 0; // in bits
  const read = (): number => {
    let v = 0;
    for (let i = 0; i < bits; i++, pos++) {
      if (pos >> 3 >= data.length) throw new Error('LZW data ends before the end code');
      v |= ((data[pos >> 3]! >> (pos & 7)) & 1) << i;
    }
    return v;
  };
  let table: number[][] = [];
  const reset = (): void => {
    table = Array.from({ length: end + 1 }, (_, i) => (i < clear ? [i] : []));
    bits = minCodeSize + 1;
  };
  reset();
  const out: number[] = [];
  let previous: number[] | null = null;
  let clearCodes = 0;
  for (;;) {
    const code = read();
    if (code === clear) {
      clearCodes++;
      reset();
      previous = null;
      continue;
    }
    if (code === end) break;
    let entry: number[];
    if (code < table.length) entry = table[code]!;
    else if (code === table.length && previous) entry = [...previous, previous[0]!];
    else throw new Error(`LZW code ${code} is beyond the table (${table.length} entries)`);
    out.push(...entry);
    if (previous && table.length < 4096) table.push([...previous, entry[0]!]);
    if (table.length === 1 << bits && bits < 12) bits++;
    maxCodeBits = Math.max(maxCodeBits, bits);
    previous = entry;
  }
  expect(out.length).toBe(pixels);
  return { indices: Uint8Array.from(out), clearCodes, maxCodeBits };
}

export function decodeGif(file: Uint8Array): DecodedGif {
  const ascii = (a: number, b: number): string => String.fromCharCode(...file.subarray(a, b));
  const u16 = (p: number): number => file[p]! | (file[p + 1]! << 8);
  expect(ascii(0, 6)).toBe('GIF89a');
  const width = u16(6);
  const height = u16(8);
  const screenFlags = file[10]!;
  let pos = 13;
  if (screenFlags & 0x80) pos += 3 * (1 << ((screenFlags & 7) + 1));
  const subBlocks = (): Uint8Array => {
    const parts: number[] = [];
    for (;;) {
      const n = file[pos++]!;
      if (n === 0) return Uint8Array.from(parts);
      parts.push(...file.subarray(pos, pos + n));
      pos += n;
    }
  };
  const result: DecodedGif = { width, height, loops: null, frames: [] };
  let delayCs = 0;
  for (;;) {
    const block = file[pos++];
    if (block === 0x3b) break;
    if (block === 0x21) {
      const label = file[pos++]!;
      if (label === 0xf9) {
        const body = subBlocks();
        expect(body.length).toBe(4);
        delayCs = body[1]! | (body[2]! << 8);
      } else if (label === 0xff) {
        const appLength = file[pos++]!;
        const app = ascii(pos, pos + appLength);
        pos += appLength;
        const body = subBlocks();
        if (app === 'NETSCAPE2.0') result.loops = body[1]! | (body[2]! << 8);
      } else {
        subBlocks();
      }
    } else if (block === 0x2c) {
      const [left, top, w, h] = [u16(pos), u16(pos + 2), u16(pos + 4), u16(pos + 6)];
      expect([left, top, w, h]).toEqual([0, 0, width, height]);
      const flags = file[pos + 8]!;
      pos += 9;
      expect(flags & 0x40).toBe(0); // not interlaced
      expect(flags & 0x80).toBe(0x80); // a local color table
      const paletteSize = 1 << ((flags & 7) + 1);
      const palette = file.subarray(pos, pos + 3 * paletteSize);
      pos += 3 * paletteSize;
      const minCodeSize = file[pos++]!;
      const { indices, clearCodes, maxCodeBits } = lzwDecode(subBlocks(), minCodeSize, w * h);
      const rgb = new Uint8Array(w * h * 3);
      indices.forEach((k, i) => {
        expect(k).toBeLessThan(paletteSize);
        rgb.set(palette.subarray(k * 3, k * 3 + 3), i * 3);
      });
      result.frames.push({ rgb, delayCs, paletteSize, clearCodes, maxCodeBits });
    } else {
      throw new Error(`unexpected block 0x${block?.toString(16)} at byte ${pos - 1}`);
    }
  }
  expect(pos).toBe(file.length);
  return result;
}
