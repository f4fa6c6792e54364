// Lists the native sources for binding.gyp (CMake globs the same folders itself).
//   node scripts/native-sources.cjs baseline|avx2|avx512
// baseline: everything compiled for plain x86-64 (core, ops, registry, render, napi);
// avx2 / avx512: the kernels compiled for that instruction set (*_avx2.cc, *_avx512.cc).
const { readdirSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const dirs = ['native/core', 'native/io', 'native/model', 'native/ops', 'native/registry', 'native/render', 'native/napi'];

function list(kind) {
  const files = [];
  for (const dir of dirs) {
    for (const f of readdirSync(join(root, dir)).sort()) {
      if (!f.endsWith('.cc')) continue;
      const isa = f.endsWith('_avx512.cc') ? 'avx512' : f.endsWith('_avx2.cc') ? 'avx2' : 'baseline';
      if (isa === kind) files.push(`${dir}/${f}`);
    }
  }
  return files;
}

module.exports = { list };
if (require.main === module) {
  const kind = process.argv[2] || 'baseline';
  if (!['baseline', 'avx2', 'avx512'].includes(kind)) {
    console.error(`native-sources: unknown kind '${kind}' (baseline, avx2, avx512)`);
    process.exit(1);
  }
  // gyp reads one path per line.
  process.stdout.write(list(kind).join('\n') + '\n');
}
