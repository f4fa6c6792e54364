#!/usr/bin/env bash
# The CUDA backend on a GPU machine (no Node, no network needed), in phases that each fit one
# device call of at most 10 minutes; logs and JSON go to $OUT (the device tool's folder) or
# build-gpu/out. build-gpu/ persists between calls while the machine stays warm.
#
#   bash scripts/gpu-check.sh build     # configure (CUDA on, sm_90) and build tests + benchmarks
#   bash scripts/gpu-check.sh parity    # every kernel, the layer stack and the policy against
#                                       # the CPU reference on the device (cuda.*) and emulator
#   bash scripts/gpu-check.sh ops       # CUDA op benchmarks, then PyTorch on the same shapes
#   bash scripts/gpu-check.sh model     # the policy: act b1/b256, prompt step b128 (small, base, pi0)
#   bash scripts/gpu-check.sh torch [ARGS]  # PyTorch's policy on the same shapes (eager,
#                                       # torch.compile); ARGS go to bench/torch_cuda_model.py, e.g.
#                                       # `--preset small,base`, then `--preset pi0 --no-compile`,
#                                       # then `--preset pi0 --no-eager --compile-scope layers --ops act`
#   bash scripts/gpu-check.sh all       # build + parity + ops (what fits one call)
#
# cuBLAS: the toolkit's when it has one, else the nvidia-cublas wheel of the local PyTorch
# (found on python3's sys.path and passed as VLA_TTT_CUBLAS_ROOT).
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-$PWD/build-gpu/out}"
mkdir -p "$out"
phase="${1:-all}"
shift || true

find_cublas() {
  ls /usr/local/cuda/lib64/libcublas.so* > /dev/null 2>&1 && return
  python3 - << 'PY' 2> /dev/null
import glob, os, sys
for base in sys.path:
    for cand in sorted(glob.glob(os.path.join(base, "nvidia", "cu1*"))) + [os.path.join(base, "nvidia", "cublas")]:
        if os.path.exists(os.path.join(cand, "include", "cublas_v2.h")) and glob.glob(os.path.join(cand, "lib", "libcublas.so*")):
            print(cand)
            sys.exit(0)
PY
}
cublas_root="$(find_cublas)"
[[ -n "$cublas_root" ]] && export LD_LIBRARY_PATH="$cublas_root/lib:${LD_LIBRARY_PATH:-}"

do_build() {
  {
    date -u
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1
    nvcc --version 2>&1 | tail -2
    cmake --version | head -1
    echo "cuBLAS from: ${cublas_root:-the toolkit, or none (the own GEMM kernel runs)}"
  } | tee "$out/machine.txt"
  local generator=()
  command -v ninja > /dev/null && generator=(-G Ninja)
  cmake -S . -B build-gpu "${generator[@]}" -DVLA_TTT_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
    ${cublas_root:+-DVLA_TTT_CUBLAS_ROOT="$cublas_root"} > "$out/configure.log" 2>&1
  grep "vla-ttt" "$out/configure.log"
  cmake --build build-gpu -j "$(nproc)" --target vla_tests vla_bench_cuda vla_bench_cuda_model > "$out/build.log" 2>&1
  local rc=$?
  tail -n 30 "$out/build.log"
  return $rc
}

do_parity() {
  echo "== kernels, layer stack and policy against the CPU reference (device and emulator)"
  build-gpu/vla_tests cuda 2>&1 | tee "$out/parity.log" | grep -E "FAIL|SKIP|passed"
  local rc=${PIPESTATUS[0]}
  echo "== the rest of the native tests"
  build-gpu/vla_tests 2>&1 | tail -n 3 | tee "$out/all-tests.log"
  return $rc
}

do_ops() {
  echo "== CUDA op benchmarks"
  build-gpu/vla_bench_cuda --json "$out/cuda-ops.json" 2>&1 | tee "$out/bench-ops.log"
  echo "== PyTorch on the same shapes"
  PYTHONUNBUFFERED=1 timeout 300 python3 bench/torch_cuda_ops.py --json "$out/torch-ops.json" 2>&1 | tee "$out/torch-ops.log" | tail -n 80
}

do_model() {
  echo "== the policy on the device"
  timeout 540 build-gpu/vla_bench_cuda_model --json "$out/cuda-model.json" 2>&1 | tee "$out/bench-model.log"
}

do_torch() {
  echo "== PyTorch's policy on the device"
  local tag
  tag="$(echo "$*" | tr -c 'a-zA-Z0-9' '-' | sed 's/-\+/-/g; s/^-//; s/-$//')"
  PYTHONUNBUFFERED=1 timeout 540 python3 bench/torch_cuda_model.py --json "$out/torch-model${tag:+-$tag}.json" "$@" 2>&1 |
    tee "$out/torch-model${tag:+-$tag}.log" | tail -n 80
}

case "$phase" in
  build) do_build ;;
  parity) do_parity ;;
  ops) do_ops ;;
  model) do_model ;;
  torch) do_torch "$@" ;;
  all) do_build && do_parity; do_ops ;;
  *) echo "usage: bash scripts/gpu-check.sh build|parity|ops|model|torch|all" >&2; exit 2 ;;
esac
