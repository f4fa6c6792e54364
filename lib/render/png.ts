/**
 * A dependency-free PNG encoder for 8-bit RGB images (node:zlib for deflate): for saving
 * rendered frames, filmstrips and contact sheets.
 *
 * Each row gets the PNG filter (None, Sub, Up, Average or Paeth) with the smallest sum of
 * absolute residuals, the usual heuristic: upscaled frames and flat backgrounds compress well.
 *
 * @example
 * ```ts
 * import { writeFileSync } from 'node:fs';
 * import { encodePng, renderScenes } from 'vla-ttt';
 * const out = renderScenes(scenes, { width: 64, height: 64 });
 * writeFileSync('frame.png', encodePng(out.image(0), 64, 64));
 * ```
 */
import { deflateSync } from 'node:zlib';

const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** CRC-32 (ISO 3309, polynomial 0xEDB88320) as PNG chunks use it. */
const crcTable: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 of bytes, continuing from `crc` (0 to start). */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Filters every row (3 bytes per pixel) with the best of the five PNG filters. */
function filterRows(rgb: Uint8Array, width: number, height: number): Uint8Array {
  const stride = width * 3;
  const out = new Uint8Array(height * (stride + 1));
  const candidate = new Uint8Array(stride);
  const zeros = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const row = rgb.subarray(y * stride, (y + 1) * stride);
    const prev = y > 0 ? rgb.subarray((y - 1) * stride, y * stride) : zeros;
    let bestScore = Infinity;
    const rowStart = y * (stride + 1);
    for (let filter = 0; filter < 5; filter++) {
      let score = 0;
      for (let i = 0; i < stride; i++) {
        const left = i >= 3 ? row[i - 3]! : 0;
        const up = prev[i]!;
        const upLeft = i >= 3 ? prev[i - 3]! : 0;
        const predicted =
          filter === 0 ? 0 : filter === 1 ? left : filter === 2 ? up : filter === 3 ? (left + up) >> 1 : paeth(left, up, upLeft);
        const v = (row[i]! - predicted) & 0xff;
        candidate[i] = v;
        score += v < 128 ? v : 256 - v;
      }
      if (score < bestScore) {
        bestScore = score;
        out[rowStart] = filter;
        out.set(candidate, rowStart + 1);
      }
    }
  }
  return out;
}

/**
 * Encodes an 8-bit RGB image (rows top to bottom, `width * height * 3` bytes) as a PNG file.
 */
export function encodePng(rgb: Uint8Array, width: number, height: number): Buffer {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > 0x7fffffff || height > 0x7fffffff) {
    throw new RangeError(`encodePng: width and height must be positive integers, got ${width} x ${height}`);
  }
  if (rgb.length !== width * height * 3) {
    throw new RangeError(`encodePng: rgb has ${rgb.length} bytes, expected width * height * 3 = ${width * height * 3}`);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // color type: truecolor RGB
  header[10] = 0; // compression: deflate
  header[11] = 0; // filter method: adaptive
  header[12] = 0; // no interlace
  const idat = deflateSync(filterRows(rgb, width, height), { level: 9 });
  return Buffer.concat([signature, chunk('IHDR', header), chunk('IDAT', idat), chunk('IEND', new Uint8Array(0))]);
}
