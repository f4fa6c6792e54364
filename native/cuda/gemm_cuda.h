// CUDA twin of native/ops/gemm.h: float32 GEMM on device pointers, row-major,
//
//   C[M, N] = alpha * op(A) * op(B) + beta * C
//
// with the CPU gemm's argument order, stored shapes and leading dimensions (op(A) = A: A is
// [M, K], lda >= K; trans_a: A is stored [K, M], lda >= M; likewise B [K, N] / stored [N, K];
// C [M, N], ldc >= N). beta == 0 overwrites C without reading it (NaN in C is ignored);
// alpha == 0 or K == 0 reads neither A nor B (C = beta * C); M == 0 or N == 0 does nothing.
// Everything is launched on the default (legacy) stream, like the other kernels here.
//
// Backends. gemm() runs cuBLAS when the build has it (VLA_HAVE_CUBLAS, never in the CPU
// emulator), else vla-ttt's own tiled SIMT kernel (gemm_own(), always compiled). Problems whose
// sizes or leading dimensions pass 2^31 - 1 (cuBLAS takes int) run on the own kernel.
// Row-major through column-major cuBLAS: C^T = op(B)^T op(A)^T, i.e. the operands swapped.
//
// Math modes (GemmMath) only change the cuBLAS path:
//   kFp32: full fp32 (CUBLAS_COMPUTE_32F, no tensor-op down-conversion);
//   kTf32: fp32 in and out, products on tensor cores in TF32 (CUBLAS_COMPUTE_32F_FAST_TF32),
//          ~1e-3 relative error;
//   kBf16: A and B are converted to bfloat16 into a per-device scratch buffer (every call: cache
//          converted weights yourself if that matters) and multiplied with fp32 accumulation
//          and fp32 C, ~4e-3 relative error.
// The own kernel (and so the emulator, and a build without cuBLAS) computes in fp32 in every
// mode: the mode is a no-op there. The mode is a process-wide setting (set_gemm_math, default
// kFp32) that a call can override with the overload taking a GemmMath.
//
// Determinism: the own kernel is bitwise deterministic (each element of C is reduced by one
// thread over K in a fixed order). cuBLAS is run-to-run deterministic for a given problem, device
// and library version on one stream, but its results differ from the own kernel's in the last bits.
//
// Thread safety: gemm() may be called from several host threads. The cuBLAS handle (one per
// device, created on first use and kept until the process exits) is shared; the math mode is
// chosen per call through the compute type, never by changing the handle's settings. The bf16
// scratch buffer is guarded by a mutex from conversion until the cuBLAS call is enqueued.
#pragma once

#include "cuda/namespace.h"

#include <cstdint>

namespace vla::VLA_CUDA_NS {

enum class GemmMath { kFp32, kTf32, kBf16 };

// The process-wide math mode used by gemm() without a GemmMath argument (and so by
// linear_forward/linear_backward/gemm_op_backward). Atomic: safe to call any time; a call already
// issued keeps the mode it read.
void set_gemm_math(GemmMath math);
GemmMath gemm_math();
const char* gemm_math_name(GemmMath math);  // "fp32", "tf32", "bf16"

// What gemm() runs on in this build: "cublas" or "own".
const char* gemm_backend_name();
// True when this build calls cuBLAS (never in the emulator).
bool gemm_has_cublas();

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc, GemmMath math);

// The own tiled kernel whatever the build (tests, benchmarks); always fp32.
void gemm_own(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
              const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

namespace detail {
// The cuBLAS path (cuda/gemm_cublas.cu, only in builds with cuBLAS). Takes a problem that the
// dispatcher already reduced: M, N, K >= 1, alpha != 0, every size and leading dimension < 2^31.
void gemm_cublas(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                 int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc, GemmMath math);
}  // namespace detail

}  // namespace vla::VLA_CUDA_NS
