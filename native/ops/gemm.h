// General matrix multiply, row-major:
//
//   C[M, N] = alpha * op(A) * op(B) + beta * C
//
//   op(A) = A    : A is [M, K], row stride lda >= K      op(A) = A^T (trans_a): A is stored [K, M], lda >= M
//   op(B) = B    : B is [K, N], row stride ldb >= N      op(B) = B^T (trans_b): B is stored [N, K], ldb >= K
//   C is [M, N], row stride ldc >= N.
//
// beta == 0 overwrites C without reading it (NaN or garbage in C is ignored), as in BLAS.
// alpha == 0 or K == 0 reads neither A nor B: C = beta * C.
//
// float runs on the selected backend: vla-ttt's own BLIS-style kernels (generic C++, AVX2 or
// AVX-512, picked by active_isa()) by default, or OpenBLAS when compiled in (VLA_HAVE_OPENBLAS) and
// selected (set_gemm_backend, or VLA_TTT_GEMM=openblas). double always runs
// the own blocked driver with a portable micro-kernel: it is the float64 reference of gradient checks.
//
// The own kernels give bitwise identical results for any thread count: every element of C is
// computed by one thread, with K reduced in fixed blocks in a fixed order.
//
// OpenBLAS takes 32-bit sizes: a problem with a size or leading dimension beyond 2^31 - 1 runs on
// the own kernels whatever the backend.
#pragma once

#include <cstdint>

namespace vla {

enum class GemmBackend {
  kAuto,      // the own kernels (faster in the policy's loops, batch-invariant; see gemm.cc)
  kOwn,       // vla-ttt's own kernels
  kOpenBlas,  // OpenBLAS's cblas_sgemm (fails with kUnsupported in a build without it)
};

// Selects the float backend for the whole process. Not to be called while GEMMs are running.
void set_gemm_backend(GemmBackend backend);
GemmBackend gemm_backend();  // as requested (may be kAuto)

// What float GEMM runs on now: "openblas", or "own-avx2" / "own-avx512" / "own-generic".
const char* gemm_backend_name();

// True when this build links OpenBLAS.
bool gemm_has_openblas();

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
          const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

// The own float kernels at the active ISA, whatever the backend (benchmarks, tests).
void gemm_own_f32(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                  int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace vla
