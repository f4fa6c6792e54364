// The array-directory exchange format bench/torch_ref.py reads (test/helpers/array-dir.ts is the
// tests' side): one raw little-endian file per array and a manifest.json naming dtype and shape.
import { writeFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';

/** Writes `arrays` ({ name: { data, shape } }) into `directory`, with `extra` fields in the manifest. */
export function writeArrays(directory, arrays, extra) {
  if (endianness() !== 'LE') throw new Error('array directories are little-endian');
  const entries = {};
  Object.entries(arrays).forEach(([name, a], i) => {
    const dtype = a.data instanceof Uint8Array ? 'uint8' : a.data instanceof Int32Array ? 'int32' : 'float32';
    const file = `a${String(i).padStart(4, '0')}.bin`;
    writeFileSync(join(directory, file), Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength));
    entries[name] = { file, dtype, shape: a.shape };
  });
  writeFileSync(join(directory, 'manifest.json'), JSON.stringify({ ...extra, arrays: entries }));
}
