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
#include <cstdlib>
#include <memory>

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

// A weight matrix W [N, K] (row-major, as in y = x W^T) with its panels packed once for the own
// float kernels. Acting multiplies the same weights into a few rows many times (batch 1: 9 rows per
// denoising step), where packing W on every call cost more than the multiplication itself. The
// products are bitwise identical to gemm()'s: the same kernel, blocks and order, minus the copies.
// Packs are tied to the kernel family active when they were made; when another one is active (or
// the OpenBLAS backend), gemm_packed() multiplies by `source` instead, so a stale pack is never
// read. `source` must stay valid and unchanged while the pack is used.
struct PackedWeights {
  const float* source = nullptr;
  int64_t N = 0, K = 0;
  int family = -1;  // which own kernel family packed `data` (-1: no pack)
  int64_t bytes = 0;  // size of `data`
  struct FreeDeleter {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, FreeDeleter> data;
};

// Packs W [N, K] (row stride K) for the active own kernels (no pack with the OpenBLAS backend).
void pack_weights(const float* W, int64_t N, int64_t K, PackedWeights* out);

// y[M, N] = x[M, K] W^T + beta * y (row strides ldx >= K, ldy >= N), on W's pack when it fits the
// active kernels, else gemm() on W.source.
void gemm_packed(int64_t M, const float* x, int64_t ldx, const PackedWeights& W, float beta, float* y, int64_t ldy);

}  // namespace vla
