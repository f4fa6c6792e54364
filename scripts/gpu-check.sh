#!/usr/bin/env bash
# The CUDA backend on a GPU machine, in one call (no Node, no network needed): configure with
# CUDA on, build the native tests and benchmarks, run every kernel against the CPU reference on
# the device ("cuda.*") and on the emulator ("cuda_emulated.*"), then the CUDA op benchmarks.
# Logs and JSON go to $OUT (the device tool's folder) or build-gpu/out.
#
#   bash scripts/gpu-check.sh              # build + parity + benchmarks
#   bash scripts/gpu-check.sh --no-bench   # build + parity
#
# cuBLAS: the toolkit's when it has one, else the nvidia-cublas wheel of the local PyTorch
# (found on python3's sys.path and passed as VLA_TTT_CUBLAS_ROOT).
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-$PWD/build-gpu/out}"
mkdir -p "$out"
bench=1
[[ "${1:-}" == "--no-bench" ]] && bench=0

{
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1
  nvcc --version 2>&1 | tail -2
  cmake --version | head -1
} | tee "$out/machine.txt"

cublas_root=""
if ! ls /usr/local/cuda/lib64/libcublas.so* > /dev/null 2>&1; then
  cublas_root="$(python3 - << 'PY' 2> /dev/null
import glob, os, sys
for base in sys.path:
    for cand in sorted(glob.glob(os.path.join(base, "nvidia", "cu1*"))) + [os.path.join(base, "nvidia", "cublas")]:
        if os.path.exists(os.path.join(cand, "include", "cublas_v2.h")) and glob.glob(os.path.join(cand, "lib", "libcublas.so*")):
            print(cand)
            sys.exit(0)
PY
)"
  echo "cuBLAS from: ${cublas_root:-not found (the own GEMM kernel will run)}" | tee -a "$out/machine.txt"
fi
if [[ -n "$cublas_root" ]]; then export LD_LIBRARY_PATH="$cublas_root/lib:${LD_LIBRARY_PATH:-}"; fi

generator=()
command -v ninja > /dev/null && generator=(-G Ninja)
cmake -S . -B build-gpu "${generator[@]}" -DVLA_TTT_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
  ${cublas_root:+-DVLA_TTT_CUBLAS_ROOT="$cublas_root"} 2>&1 | tee "$out/configure.log" | grep "vla-ttt"
targets=(vla_tests)
cmake --build build-gpu -j "$(nproc)" --target "${targets[@]}" 2>&1 | tail -n 40 > "$out/build.log"
if [[ ! -x build-gpu/vla_tests ]]; then
  echo "build failed: see build.log"; cat "$out/build.log"; exit 1
fi

echo "== kernel parity (device and emulator)"
build-gpu/vla_tests cuda 2>&1 | tee "$out/parity.log" | grep -E "FAIL|SKIP|passed" | head -n 60
status=$?

if [[ $bench == 1 ]]; then
  if cmake --build build-gpu -j "$(nproc)" --target vla_bench_cuda > "$out/build-bench.log" 2>&1; then
    echo "== CUDA op benchmarks"
    build-gpu/vla_bench_cuda --json "$out/cuda-ops.json" 2>&1 | tee "$out/bench.log"
    echo "== PyTorch on the same shapes"
    PYTHONUNBUFFERED=1 timeout 400 python3 bench/torch_cuda_ops.py --json "$out/torch-ops.json" 2>&1 | tee "$out/torch-bench.log" | tail -n 80
  else
    echo "no CUDA benchmark built (see build-bench.log)"
  fi
fi
echo "== the rest of the native tests"
build-gpu/vla_tests 2>&1 | tail -n 3 | tee "$out/all-tests.log"
exit $status
