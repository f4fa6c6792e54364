// `npm run bench`: the kernel benchmark (GEMM and attention at the policy's shapes) against
// OpenBLAS's sgemm and this machine's measured peak. Builds in build-bench/ with OpenBLAS absent
// from the build (own kernels only; OpenBLAS is loaded at run time as the reference) and writes
// bench/results/kernels-cpu.json. Extra arguments go to the benchmark (--quick, --filter S).
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
function step(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.error || r.status !== 0) process.exit(1);
}
const args = process.argv.slice(2);
const out = args.includes('--out') ? [] : ['--out', 'bench/results/kernels-cpu.json'];
step('cmake', ['-S', '.', '-B', 'build-bench', '-DCMAKE_BUILD_TYPE=Release', '-DVLA_TTT_BLAS=OFF', '-DVLA_TTT_CUDA=OFF']);
step('cmake', ['--build', 'build-bench', '-j', String(availableParallelism()), '--target', 'vla_bench_kernels']);
step(join(root, 'build-bench', 'vla_bench_kernels'), [...out, ...args]);
