/**
 * Array directories, the exchange format with the PyTorch reference (bench/torch_ref.py):
 * `manifest.json` = { arrays: { name: { file, dtype, shape } }, ...extra } and one raw file per
 * array, little-endian, row-major, dtype uint8 | int32 | float32 | float64.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';

export type ArrayData = Uint8Array | Int32Array | Float32Array | Float64Array;
export interface NamedArray {
  data: ArrayData;
  shape: number[];
}

const DTYPE_OF = new Map<Function, string>([
  [Uint8Array, 'uint8'],
  [Int32Array, 'int32'],
  [Float32Array, 'float32'],
  [Float64Array, 'float64'],
]);
const CTOR_OF: Record<string, new (b: ArrayBuffer) => ArrayData> = {
  uint8: Uint8Array,
  int32: Int32Array,
  float32: Float32Array,
  float64: Float64Array,
};

function requireLittleEndian(): void {
  // Typed arrays are written in the platform's byte order; the format is little-endian.
  if (endianness() !== 'LE') throw new Error('array directories are little-endian; this platform is big-endian');
}

export function writeArrayDir(dir: string, arrays: Record<string, NamedArray>, extra: Record<string, unknown> = {}): void {
  requireLittleEndian();
  mkdirSync(dir, { recursive: true });
  const entries: Record<string, { file: string; dtype: string; shape: number[] }> = {};
  Object.entries(arrays).forEach(([name, a], i) => {
    const dtype = DTYPE_OF.get(a.data.constructor);
    if (!dtype) throw new Error(`writeArrayDir: '${name}' is not a uint8/int32/float32/float64 array`);
    const n = a.shape.reduce((x, y) => x * y, 1);
    if (n !== a.data.length) throw new Error(`writeArrayDir: '${name}' has ${a.data.length} elements for shape [${a.shape}]`);
    const file = `a${String(i).padStart(4, '0')}.bin`;
    writeFileSync(join(dir, file), Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength));
    entries[name] = { file, dtype, shape: a.shape };
  });
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ ...extra, arrays: entries }));
}

export function readArrayDir(dir: string): { arrays: Map<string, NamedArray>; manifest: Record<string, unknown> } {
  requireLittleEndian();
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { arrays: Record<string, { file: string; dtype: string; shape: number[] }> };
  const arrays = new Map<string, NamedArray>();
  for (const [name, e] of Object.entries(manifest.arrays)) {
    const bytes = readFileSync(join(dir, e.file));
    const Ctor = CTOR_OF[e.dtype];
    if (!Ctor) throw new Error(`readArrayDir: '${name}' has unknown dtype ${e.dtype}`);
    const copy = new ArrayBuffer(bytes.byteLength);
    new Uint8Array(copy).set(bytes);
    arrays.set(name, { data: new Ctor(copy), shape: e.shape });
  }
  return { arrays, manifest: manifest as unknown as Record<string, unknown> };
}
