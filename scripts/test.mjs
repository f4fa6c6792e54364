// `npm test`: the native tests (ctest, no Node involved), then the TypeScript tests (vitest).
//   1. configure and build the C++ test executable in build-native/ and run it with ctest;
//   2. bring the addon in build/ up to date with cmake-js (incremental);
//   3. typecheck the TypeScript (library and tests) and run vitest.
// Extra arguments go to vitest (e.g. `npm test -- test/errors.test.ts`).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const jobs = String(availableParallelism());

function step(title, cmd, args) {
  console.log(`\n=== ${title}: ${cmd} ${args.join(' ')}`);
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
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
step('build addon (cmake-js)', process.execPath, [cmakeJs, 'build', '--CDVLA_TTT_TESTS=OFF']);
step('TypeScript tests (vitest)', process.execPath, [vitest, 'run', ...process.argv.slice(2)]);
