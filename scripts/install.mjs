// `npm install` hook: make sure a loadable native addon exists.
//   1. A prebuilt binary for this platform that loads is used as is (unless VLA_TTT_BUILD_FROM_SOURCE=1
//      or VLA_TTT_CUDA=1, which need a local build).
//   2. Otherwise the addon is compiled with cmake-js (the primary build: OpenBLAS and CUDA are
//      detected, see CMakeLists.txt).
//   3. If CMake is not installed, the CPU addon is compiled with node-gyp (binding.gyp) instead.
// VLA_TTT_SKIP_BUILD=1 skips all of this (for packagers who build separately).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const say = (msg) => console.log(`vla-ttt: ${msg}`);

function run(cmd, args, env = process.env) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env });
  if (r.error) return { ok: false, why: r.error.message };
  return { ok: r.status === 0, why: `${cmd} exited with ${r.status}` };
}

function hasCommand(cmd) {
  const r = spawnSync(cmd, ['--version'], { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

function loadablePrebuild() {
  const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  if (!existsSync(dir)) return undefined;
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.node')) continue;
    try {
      require(join(dir, f));
      return join(dir, f);
    } catch {
      // try the next one; a source build follows if none loads
    }
  }
  return undefined;
}

function binPath(pkg, bin) {
  const pkgJson = require.resolve(`${pkg}/package.json`, { paths: [root] });
  const meta = require(pkgJson);
  const rel = typeof meta.bin === 'string' ? meta.bin : meta.bin[bin];
  return join(dirname(pkgJson), rel);
}

if (process.env.VLA_TTT_SKIP_BUILD === '1') {
  say('VLA_TTT_SKIP_BUILD=1: not building the native addon');
  process.exit(0);
}

const wantSource = process.env.VLA_TTT_BUILD_FROM_SOURCE === '1' || ['1', 'ON', 'on'].includes(process.env.VLA_TTT_CUDA ?? '');
if (!wantSource) {
  const prebuilt = loadablePrebuild();
  if (prebuilt) {
    say(`using the prebuilt binary ${prebuilt} (set VLA_TTT_BUILD_FROM_SOURCE=1 to compile instead)`);
    process.exit(0);
  }
}

if (hasCommand('cmake')) {
  say('compiling the native addon with cmake-js (CUDA and OpenBLAS are detected; see the lines above the build)');
  const r = run(process.execPath, [binPath('cmake-js', 'cmake-js'), 'compile', '--CDVLA_TTT_TESTS=OFF']);
  if (r.ok) process.exit(0);
  console.error(`vla-ttt: the cmake-js build failed (${r.why}). The CMake output above says why.`);
  console.error('vla-ttt: retry without optional parts: VLA_TTT_CUDA=0 VLA_TTT_BLAS=OFF npm rebuild vla-ttt');
  process.exit(1);
}

say('CMake not found: compiling the CPU addon with node-gyp instead (install CMake >= 3.18 for OpenBLAS and CUDA builds)');
let nodeGyp;
try {
  nodeGyp = binPath('node-gyp', 'node-gyp');
} catch {
  // npm ships its own node-gyp
  nodeGyp = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
}
const r = run(process.execPath, [nodeGyp, 'rebuild']);
if (!r.ok) {
  console.error(`vla-ttt: the node-gyp build failed (${r.why}). It needs python3, make and a C++17 compiler.`);
  process.exit(1);
}
