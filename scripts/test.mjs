// `npm test`: the native tests (ctest, no Node involved), then the TypeScript tests (vitest).
//   1. configure and build the C++ test executable in build-native/ and run it with ctest;
//   2. bring the addon in build/ up to date with cmake-js (incremental), with the test addon
//      build/emulated/vla_ttt_cuda_emulated.node (device 'cuda' on the CUDA emulator);
//   3. typecheck the TypeScript (library and tests) and run vitest (the emulated-device tests
//      fail, instead of skipping, when the test addon is missing).
// Extra arguments go to vitest (e.g. `npm test -- test/errors.test.ts`).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const jobs = String(availableParallelism());

function step(title, cmd, args, env = process.env) {
  console.log(`\n=== ${title}: ${cmd} ${args.join(' ')}`);
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env });
  if (r.error || r.status !== 0) {
    console.error(`\n${title} failed (${r.error ? r.error.message : `exit code ${r.status}`})`);
    process.exit(1);
  }
  console.log(`=== ${title}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

const cmakeJs = join(dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
const vitest = join(dirname(require.resolve('vitest/package.json')), 'vitest.mjs');

step('configure native tests', 'cmake', ['-S', '.', '-B', 'build-native', '-DCMAKE_BUILD_TYPE=Release']);
step('build native tests', 'cmake', ['--build', 'build-native', '-j', jobs]);
step('native tests (ctest)', 'ctest', ['--test-dir', 'build-native', '--output-on-failure']);
const tsc = join(dirname(require.resolve('typescript/package.json')), 'bin', 'tsc');
step('typecheck (tsc)', process.execPath, [tsc, '-p', 'tsconfig.json']);
// Configured explicitly: `cmake-js build` keeps an existing configuration (npm install's, without
// the test addon). Incremental either way: turning the test addon on compiles only its sources.
step('configure addon (cmake-js)', process.execPath, [cmakeJs, 'configure', '--CDVLA_TTT_TESTS=OFF', '--CDVLA_TTT_CUDA_EMULATED_ADDON=ON']);
step('build addon (cmake-js)', process.execPath, [cmakeJs, 'build']);
step('TypeScript tests (vitest)', process.execPath, [vitest, 'run', ...process.argv.slice(2)], { ...process.env, VLA_TTT_REQUIRE_EMULATED_ADDON: '1' });
