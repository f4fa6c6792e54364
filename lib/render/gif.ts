/**
 * A dependency-free animated GIF encoder (GIF89a) for rollout animations: each frame gets its
 * own palette of at most 256 colors (median cut; exact when the frame has 256 colors or fewer),
 * pixels map to the nearest palette color, and the indices are LZW-compressed with the
 * variable-length codes GIF uses (3 to 12 bits, a clear code when the table is full).
 *
 * Every frame covers the whole image (no transparency, no partial frames), shown for
 * `delayMs` (GIF stores hundredths of a second), looping forever by default.
 *
 * @example
 * ```ts
 * import { writeFileSync } from 'node:fs';
 * import { encodeGif } from 'vla-ttt';
 * // frames: { width, height, data } RGB images of one size, e.g. a rollout's observations
 * writeFileSync('rollout.gif', encodeGif(frames, { delayMs: 200 }));
 * ```
 */
import type { RgbImage } from './image-grid.js';

export interface GifOptions {
  /** How long each frame shows, milliseconds, rounded to hundredths (default 200: 5 Hz). */
  delayMs?: number;
  /** How many times the animation plays: 0 = forever (default). */
  loops?: number;
}

/** The largest LZW code: GIF codes have at most 12 bits. */
const MAX_CODES = 4096;

function packedKey(r: number, g: number, b: number): number {
  return (r << 16) | (g << 8) | b;
}

/**
 * A palette of at most `maxColors` colors for an RGB image, as RGB triples: the image's own
 * colors when it has no more than that, else the count-weighted means of median-cut boxes (the
 * box with the widest channel range is split at the weighted median of that channel until
 * there are `maxColors` boxes).
 */
export function medianCutPalette(rgb: Uint8Array, maxColors = 256): Uint8Array {
  if (!Number.isInteger(maxColors) || maxColors < 1 || maxColors > 256) throw new RangeError(`medianCutPalette: maxColors must be an integer in [1, 256], got ${maxColors}`);
  if (rgb.length % 3 !== 0) throw new RangeError(`medianCutPalette: ${rgb.length} bytes are not RGB triples`);
  const histogram = new Map<number, number>();
  for (let i = 0; i < rgb.length; i += 3) {
    const k = packedKey(rgb[i]!, rgb[i + 1]!, rgb[i + 2]!);
    histogram.set(k, (histogram.get(k) ?? 0) + 1);
  }
  const keys = [...histogram.keys()].sort((a, b) => a - b);
  if (keys.length <= maxColors) {
    const exact = new Uint8Array(keys.length * 3);
    keys.forEach((k, i) => exact.set([k >> 16, (k >> 8) & 255, k & 255], i * 3));
    return exact;
  }
  const channel = (k: number, c: number): number => (k >> (16 - 8 * c)) & 255;
  // A box is a range of `keys`, kept sorted along the channel it was last split on.
  interface Box {
    start: number;
    end: number;
    widest: number;
    range: number;
  }
  const measure = (start: number, end: number): Box => {
    let widest = 0;
    let range = -1;
    for (let c = 0; c < 3; c++) {
      let lo = 255;
      let hi = 0;
      for (let i = start; i < end; i++) {
        const v = channel(keys[i]!, c);
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      if (hi - lo > range) {
        range = hi - lo;
        widest = c;
      }
    }
    return { start, end, widest, range };
  };
  const boxes: Box[] = [measure(0, keys.length)];
  while (boxes.length < maxColors) {
    let pick = -1;
    for (let b = 0; b < boxes.length; b++) {
      if (boxes[b]!.end - boxes[b]!.start >= 2 && boxes[b]!.range > 0 && (pick < 0 || boxes[b]!.range > boxes[pick]!.range)) pick = b;
    }
    if (pick < 0) break;
    const box = boxes[pick]!;
    const c = box.widest;
    const part = keys.slice(box.start, box.end).sort((a, b) => channel(a, c) - channel(b, c) || a - b);
    for (let i = 0; i < part.length; i++) keys[box.start + i] = part[i]!;
    let total = 0;
    for (let i = box.start; i < box.end; i++) total += histogram.get(keys[i]!)!;
    // Split after the weighted median, keeping at least one color on each side.
    let seen = 0;
    let split = box.start + 1;
    for (let i = box.start; i < box.end - 1; i++) {
      seen += histogram.get(keys[i]!)!;
      split = i + 1;
      if (seen * 2 >= total) break;
    }
    boxes.splice(pick, 1, measure(box.start, split), measure(split, box.end));
  }
  const palette = new Uint8Array(boxes.length * 3);
  boxes.forEach((box, b) => {
    let n = 0;
    const sum = [0, 0, 0];
    for (let i = box.start; i < box.end; i++) {
      const k = keys[i]!;
      const w = histogram.get(k)!;
      n += w;
      for (let c = 0; c < 3; c++) sum[c]! += channel(k, c) * w;
    }
    for (let c = 0; c < 3; c++) palette[b * 3 + c] = Math.round(sum[c]! / n);
  });
  return palette;
}

/** The index of the nearest palette color (squared RGB distance) for every pixel. */
export function mapToPalette(rgb: Uint8Array, palette: Uint8Array): Uint8Array {
  const colors = palette.length / 3;
  const nearest = new Map<number, number>();
  const out = new Uint8Array(rgb.length / 3);
  for (let p = 0, i = 0; i < rgb.length; p++, i += 3) {
    const r = rgb[i]!;
    const g = rgb[i + 1]!;
    const b = rgb[i + 2]!;
    const k = packedKey(r, g, b);
    let best = nearest.get(k);
    if (best === undefined) {
      let bestDistance = Infinity;
      for (let c = 0; c < colors; c++) {
        const dr = r - palette[c * 3]!;
        const dg = g - palette[c * 3 + 1]!;
        const db = b - palette[c * 3 + 2]!;
        const d = dr * dr + dg * dg + db * db;
        if (d < bestDistance) {
          bestDistance = d;
          best = c;
        }
      }
      nearest.set(k, best!);
    }
    out[p] = best!;
  }
  return out;
}

/** Packs variable-length codes least significant bit first, as GIF's LZW stream wants. */
class BitWriter {
  private bytes = new Uint8Array(1024);
  private length = 0;
  private bits = 0;
  private pending = 0;

  write(code: number, size: number): void {
    this.pending |= code << this.bits;
    this.bits += size;
    while (this.bits >= 8) {
      this.push(this.pending & 255);
      this.pending >>>= 8;
      this.bits -= 8;
    }
  }

  private push(byte: number): void {
    if (this.length === this.bytes.length) {
      const grown = new Uint8Array(this.bytes.length * 2);
      grown.set(this.bytes);
      this.bytes = grown;
    }
    this.bytes[this.length++] = byte;
  }

  finish(): Uint8Array {
    if (this.bits > 0) this.push(this.pending & 255);
    this.bits = 0;
    this.pending = 0;
    return this.bytes.subarray(0, this.length);
  }
}

/**
 * GIF's LZW: codes start at minCodeSize + 1 bits and grow to 12; a clear code starts the
 * stream and restarts the table whenever it fills; an end code finishes it.
 */
export function lzwEncode(indices: Uint8Array, minCodeSize: number): Uint8Array {
  if (!Number.isInteger(minCodeSize) || minCodeSize < 2 || minCodeSize > 8) throw new RangeError(`lzwEncode: minCodeSize must be an integer in [2, 8], got ${minCodeSize}`);
  const clear = 1 << minCodeSize;
  const end = clear + 1;
  const out = new BitWriter();
  let codeSize = minCodeSize + 1;
  let next = end + 1;
  // (prefix code, next index) -> code; prefix < 4096 and index < 256 make a key below 2^20.
  const table = new Map<number, number>();
  out.write(clear, codeSize);
  if (indices.length === 0) {
    out.write(end, codeSize);
    return out.finish();
  }
  let prefix = indices[0]!;
  if (prefix >= clear) throw new RangeError(`lzwEncode: index ${prefix} does not fit ${minCodeSize} bits`);
  for (let i = 1; i < indices.length; i++) {
    const k = indices[i]!;
    if (k >= clear) throw new RangeError(`lzwEncode: index ${k} does not fit ${minCodeSize} bits`);
    const key = (prefix << 8) | k;
    const code = table.get(key);
    if (code !== undefined) {
      prefix = code;
      continue;
    }
    out.write(prefix, codeSize);
    if (next === MAX_CODES) {
      out.write(clear, codeSize);
      table.clear();
      next = end + 1;
      codeSize = minCodeSize + 1;
    } else {
      // The decoder adds this entry one code later; it widens its codes when the entry
      // about to be added needs another bit, so the encoder widens them here.
      if (next >= 1 << codeSize) codeSize++;
      table.set(key, next++);
    }
    prefix = k;
  }
  out.write(prefix, codeSize);
  out.write(end, codeSize);
  return out.finish();
}

/** Splits bytes into GIF data sub-blocks (length byte, up to 255 bytes) and the terminator. */
function subBlocks(data: Uint8Array): Uint8Array {
  const blocks = Math.ceil(data.length / 255);
  const out = new Uint8Array(data.length + blocks + 1);
  let o = 0;
  for (let i = 0; i < data.length; i += 255) {
    const n = Math.min(255, data.length - i);
    out[o++] = n;
    out.set(data.subarray(i, i + n), o);
    o += n;
  }
  out[o] = 0;
  return out;
}

function u16(v: number): [number, number] {
  return [v & 255, (v >> 8) & 255];
}

/** Encodes RGB frames of one size as an animated GIF (see the module comment). */
export function encodeGif(frames: readonly RgbImage[], options: GifOptions = {}): Uint8Array {
  if (frames.length === 0) throw new RangeError('encodeGif: no frames');
  const { width, height } = frames[0]!;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > 65535 || height > 65535) {
    throw new RangeError(`encodeGif: width and height must be integers in [1, 65535], got ${width} x ${height}`);
  }
  frames.forEach((f, i) => {
    if (f.width !== width || f.height !== height) throw new RangeError(`encodeGif: frame ${i} is ${f.width} x ${f.height}, frame 0 is ${width} x ${height}`);
    if (f.data.length !== width * height * 3) throw new RangeError(`encodeGif: frame ${i} has ${f.data.length} bytes, expected width * height * 3 = ${width * height * 3}`);
  });
  const delayMs = options.delayMs ?? 200;
  const delay = Math.round(delayMs / 10);
  if (!Number.isFinite(delayMs) || delay < 0 || delay > 65535) throw new RangeError(`encodeGif: delayMs must be in [0, 655350], got ${delayMs}`);
  const loops = options.loops ?? 0;
  if (!Number.isInteger(loops) || loops < 0 || loops > 65535) throw new RangeError(`encodeGif: loops must be an integer in [0, 65535], got ${loops}`);

  const parts: Uint8Array[] = [];
  parts.push(new TextEncoder().encode('GIF89a'));
  // Logical screen: no global color table, 8 bits per primary color.
  parts.push(Uint8Array.from([...u16(width), ...u16(height), 0x70, 0, 0]));
  // The NETSCAPE2.0 extension: the loop count.
  parts.push(Uint8Array.from([0x21, 0xff, 0x0b, ...new TextEncoder().encode('NETSCAPE2.0'), 0x03, 0x01, ...u16(loops), 0x00]));
  for (const frame of frames) {
    const palette = medianCutPalette(frame.data, 256);
    const colors = palette.length / 3;
    // The color table holds 2^(n + 1) entries; LZW needs at least 2 bits.
    const tableBits = Math.max(1, Math.ceil(Math.log2(colors)));
    const table = new Uint8Array((1 << tableBits) * 3);
    table.set(palette);
    const indices = mapToPalette(frame.data, palette);
    // Graphic control: disposal "leave in place" (every frame covers the image), the delay.
    parts.push(Uint8Array.from([0x21, 0xf9, 0x04, 0x04, ...u16(delay), 0x00, 0x00]));
    parts.push(Uint8Array.from([0x2c, 0, 0, 0, 0, ...u16(width), ...u16(height), 0x80 | (tableBits - 1)]));
    parts.push(table);
    const minCodeSize = Math.max(2, tableBits);
    parts.push(Uint8Array.from([minCodeSize]));
    parts.push(subBlocks(lzwEncode(indices, minCodeSize)));
  }
  parts.push(Uint8Array.from([0x3b]));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
