/**
 * Reads 8-bit, non-interlaced PNG files (grey, RGB, grey+alpha, RGBA) into RGB pixels: enough to
 * look at screenshots a browser wrote. (test/png.test.ts has its own, stricter decoder for the
 * encoder's round trip.)
 */
import { inflateSync } from 'node:zlib';

export interface PngPixels {
  width: number;
  height: number;
  /** width * height * 3 bytes, alpha dropped. */
  rgb: Uint8Array;
}

export function readPng(file: Uint8Array): PngPixels {
  const buf = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  if (buf.length < 8 || buf.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG file');
  let pos = 8;
  let header: Buffer | undefined;
  const idat: Buffer[] = [];
  while (pos + 8 <= buf.length) {
    const length = buf.readUInt32BE(pos);
    const type = buf.toString('ascii', pos + 4, pos + 8);
    if (type === 'IHDR') header = buf.subarray(pos + 8, pos + 8 + length);
    if (type === 'IDAT') idat.push(buf.subarray(pos + 8, pos + 8 + length));
    pos += 12 + length;
  }
  if (!header) throw new Error('PNG without IHDR');
  const width = header.readUInt32BE(0);
  const height = header.readUInt32BE(4);
  const [depth, colorType, interlace] = [header[8]!, header[9]!, header[12]!];
  const channels = ({ 0: 1, 2: 3, 4: 2, 6: 4 } as Record<number, number>)[colorType];
  if (depth !== 8 || channels === undefined || interlace !== 0) throw new Error(`unsupported PNG: depth ${depth}, color type ${colorType}, interlace ${interlace}`);
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const px = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    for (let i = 0; i < stride; i++) {
      const x = raw[y * (stride + 1) + 1 + i]!;
      const a = i >= channels ? px[y * stride + i - channels]! : 0;
      const b = y > 0 ? px[(y - 1) * stride + i]! : 0;
      const c = i >= channels && y > 0 ? px[(y - 1) * stride + i - channels]! : 0;
      let p = 0;
      if (filter === 1) p = a;
      else if (filter === 2) p = b;
      else if (filter === 3) p = (a + b) >> 1;
      else if (filter === 4) {
        const q = a + b - c;
        const [pa, pb, pc] = [Math.abs(q - a), Math.abs(q - b), Math.abs(q - c)];
        p = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else if (filter !== 0) throw new Error(`bad PNG filter ${filter} in row ${y}`);
      px[y * stride + i] = (x + p) & 0xff;
    }
  }
  const rgb = new Uint8Array(width * height * 3);
  for (let k = 0; k < width * height; k++) {
    for (let ch = 0; ch < 3; ch++) rgb[k * 3 + ch] = channels >= 3 ? px[k * channels + ch]! : px[k * channels]!;
  }
  return { width, height, rgb };
}
