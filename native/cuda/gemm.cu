#include "cuda/dialect.h"

#include "cuda/gemm_cuda.h"

#include <atomic>
#include <climits>

#include "cuda/cuda_check.h"
#include "cuda/kernel_utils.h"

// The cuBLAS path exists in device builds that found cuBLAS (cuda/gemm_cublas.cu); the emulator
// never has it, whatever the build defines.
#if defined(VLA_HAVE_CUBLAS) && !defined(VLA_CUDA_EMULATION)
#define VLA_GEMM_CUBLAS 1
#else
#define VLA_GEMM_CUBLAS 0
#endif

#if defined(VLA_CUDA_EMULATION)
#define VLA_GEMM_UNROLL
#define VLA_GEMM_ALIGN16
#else
#define VLA_GEMM_UNROLL _Pragma("unroll")
#define VLA_GEMM_ALIGN16 __align__(16)
#endif

namespace vla::VLA_CUDA_NS {

namespace {

// The own kernel: a 64 x 64 tile of C per block of 256 threads (16 x 16), each thread a 4 x 4
// register block (rows ty*4.., columns tx*4..), K in steps of 16 through shared memory. The next
// K step's tile is fetched into registers while the current one is multiplied. Out-of-range
// elements of A and B load as 0, so any M, N, K works; C is written under bounds checks. Blocks
// walk the M tiles with a grid-stride loop (gridDim.y is capped at 65535). Indexing is int64.
constexpr int kBM = 64, kBN = 64, kBK = 16;
constexpr int kThreads = 256;
constexpr int kPad = 4;  // row padding of the shared tiles: fewer bank conflicts on the k-fast stores
constexpr int kPerThread = kBM * kBK / kThreads;  // elements of each tile one thread loads: 4

// Both operands load the same way: op(A) is [M, K] and op(B)^T is [N, K], so each is an operand
// X viewed as [R, K], stored k-fast (X[r * ldx + k]: A untransposed, B stored [N, K]) or r-fast
// (X[k * ldx + r]: A stored [K, M], B untransposed [K, N]). A thread's element idx of the tile
// [r0, r0 + 64) x [k0, k0 + 16) follows X's contiguous axis, so a warp's loads coalesce; the
// shared tile is Xs[kk][rr] either way.
static_assert(kBM == kBN, "the A and B tiles share one loader");

template <bool kKFast>
__device__ inline void tile_coords(int idx, int& kk, int& rr) {
  kk = kKFast ? idx % kBK : idx / kBM;
  rr = kKFast ? idx / kBK : idx % kBM;
}

// Loads thread `tid`'s kPerThread elements of X's tile into v (0 outside [R, K]).
template <bool kKFast>
__device__ inline void load_tile(const float* X, int64_t ldx, int64_t R, int64_t K, int64_t r0, int64_t k0, int tid,
                                 float* v) {
  for (int i = 0; i < kPerThread; ++i) {
    int kk, rr;
    tile_coords<kKFast>(tid + i * kThreads, kk, rr);
    const int64_t r = r0 + rr, k = k0 + kk;
    v[i] = (r < R && k < K) ? (kKFast ? X[r * ldx + k] : X[k * ldx + r]) : 0.0f;
  }
}

template <bool kKFast>
__device__ inline void store_tile(float (*Xs)[kBM + kPad], int tid, const float* v) {
  for (int i = 0; i < kPerThread; ++i) {
    int kk, rr;
    tile_coords<kKFast>(tid + i * kThreads, kk, rr);
    Xs[kk][rr] = v[i];
  }
}

// Four consecutive floats of a shared tile (16-byte aligned): one 128-bit load on the device.
__device__ inline void load4(const float* p, float* out) {
#if defined(VLA_CUDA_EMULATION)
  for (int i = 0; i < 4; ++i) out[i] = p[i];
#else
  const float4 v = *reinterpret_cast<const float4*>(p);
  out[0] = v.x, out[1] = v.y, out[2] = v.z, out[3] = v.w;
#endif
}

template <bool kTransA, bool kTransB>
__global__ void __launch_bounds__(kThreads)
    sgemm_tiled(int64_t M, int64_t N, int64_t K, float alpha, const float* __restrict__ A, int64_t lda,
                const float* __restrict__ B, int64_t ldb, float beta, float* __restrict__ C, int64_t ldc,
                int64_t tiles_m) {
  __shared__ VLA_GEMM_ALIGN16 float As[kBK][kBM + kPad];
  __shared__ VLA_GEMM_ALIGN16 float Bs[kBK][kBN + kPad];
  const int tid = threadIdx.x;
  const int tx = tid % 16, ty = tid / 16;
  const int64_t n0 = int64_t(blockIdx.x) * kBN;
  constexpr bool kAKFast = !kTransA, kBKFast = kTransB;  // see load_tile

  for (int64_t tm = blockIdx.y; tm < tiles_m; tm += gridDim.y) {
    const int64_t m0 = tm * kBM;
    float acc[4][4];
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;
    float ra[kPerThread], rb[kPerThread];
    load_tile<kAKFast>(A, lda, M, K, m0, 0, tid, ra);
    load_tile<kBKFast>(B, ldb, N, K, n0, 0, tid, rb);

    for (int64_t k0 = 0; k0 < K; k0 += kBK) {
      store_tile<kAKFast>(As, tid, ra);
      store_tile<kBKFast>(Bs, tid, rb);
      __syncthreads();
      if (k0 + kBK < K) {  // prefetch the next step while this one is multiplied
        load_tile<kAKFast>(A, lda, M, K, m0, k0 + kBK, tid, ra);
        load_tile<kBKFast>(B, ldb, N, K, n0, k0 + kBK, tid, rb);
      }
      VLA_GEMM_UNROLL
      for (int kk = 0; kk < kBK; ++kk) {
        float a[4], b[4];
        load4(&As[kk][ty * 4], a);
        load4(&Bs[kk][tx * 4], b);
        for (int i = 0; i < 4; ++i)
          for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
      }
      __syncthreads();  // the tiles are overwritten by the next step
    }

    for (int i = 0; i < 4; ++i) {
      const int64_t m = m0 + ty * 4 + i;
      if (m >= M) break;
      float* row = C + m * ldc;
      for (int j = 0; j < 4; ++j) {
        const int64_t n = n0 + tx * 4 + j;
        if (n < N) row[n] = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * row[n];
      }
    }
  }
}

// C = beta * C over [M, N] with row stride ldc (beta == 0 writes zeros without reading): the
// alpha == 0 / K == 0 case, which reads neither A nor B.
__global__ void scale_matrix(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
  const int64_t total = M * N;
  for (int64_t i = grid_index(); i < total; i += grid_stride()) {
    float* c = C + (i / N) * ldc + i % N;
    *c = beta == 0.0f ? 0.0f : beta * *c;
  }
}

std::atomic<int> g_math{static_cast<int>(GemmMath::kFp32)};

#if VLA_GEMM_CUBLAS
bool fits_int(int64_t v) { return v <= INT_MAX; }
#endif

void check_args(const char* who, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, int64_t lda,
                int64_t ldb, int64_t ldc) {
  if (M < 0 || N < 0 || K < 0)
    fail(ErrorCode::kArgument, who, ": negative size M=", M, " N=", N, " K=", K);
  if (M == 0 || N == 0) return;
  if (ldc < N) fail(ErrorCode::kArgument, who, ": ldc ", ldc, " < N ", N);
  if (K == 0) return;
  if (lda < (trans_a ? M : K)) fail(ErrorCode::kArgument, who, ": lda ", lda, " too small");
  if (ldb < (trans_b ? K : N)) fail(ErrorCode::kArgument, who, ": ldb ", ldb, " too small");
}

void launch_scale(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
  VLA_LAUNCH(scale_matrix, blocks_for(M * N, 256), 256, 0, M, N, beta, C, ldc);
  VLA_CUDA_CHECK(cudaGetLastError());
}

void launch_own(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  const int64_t tiles_m = (M + kBM - 1) / kBM, tiles_n = (N + kBN - 1) / kBN;
  if (tiles_n > INT_MAX) fail(ErrorCode::kArgument, "cuda gemm: N ", N, " too large");
  const dim3 grid(static_cast<unsigned>(tiles_n), static_cast<unsigned>(tiles_m < 65535 ? tiles_m : 65535));
  if (!trans_a && !trans_b) {
    auto k = sgemm_tiled<false, false>;
    VLA_LAUNCH(k, grid, kThreads, 0, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, tiles_m);
  } else if (!trans_a && trans_b) {
    auto k = sgemm_tiled<false, true>;
    VLA_LAUNCH(k, grid, kThreads, 0, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, tiles_m);
  } else if (trans_a && !trans_b) {
    auto k = sgemm_tiled<true, false>;
    VLA_LAUNCH(k, grid, kThreads, 0, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, tiles_m);
  } else {
    auto k = sgemm_tiled<true, true>;
    VLA_LAUNCH(k, grid, kThreads, 0, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, tiles_m);
  }
  VLA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void set_gemm_math(GemmMath math) { g_math.store(static_cast<int>(math), std::memory_order_relaxed); }
GemmMath gemm_math() { return static_cast<GemmMath>(g_math.load(std::memory_order_relaxed)); }

const char* gemm_math_name(GemmMath math) {
  switch (math) {
    case GemmMath::kFp32: return "fp32";
    case GemmMath::kTf32: return "tf32";
    case GemmMath::kBf16: return "bf16";
  }
  return "?";
}

const char* gemm_backend_name() { return VLA_GEMM_CUBLAS ? "cublas" : "own"; }
bool gemm_has_cublas() { return VLA_GEMM_CUBLAS != 0; }

void gemm_own(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
              const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  check_args("cuda gemm_own", trans_a, trans_b, M, N, K, lda, ldb, ldc);
  if (M == 0 || N == 0) return;
  if (K == 0 || alpha == 0.0f) return launch_scale(M, N, beta, C, ldc);
  launch_own(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc, GemmMath math) {
  check_args("cuda gemm", trans_a, trans_b, M, N, K, lda, ldb, ldc);
  if (M == 0 || N == 0) return;
  if (K == 0 || alpha == 0.0f) return launch_scale(M, N, beta, C, ldc);
#if VLA_GEMM_CUBLAS
  if (fits_int(M) && fits_int(N) && fits_int(K) && fits_int(lda) && fits_int(ldb) && fits_int(ldc))
    return detail::gemm_cublas(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, math);
#else
  (void)math;  // the own kernel is fp32 in every mode
#endif
  launch_own(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, gemm_math());
}

}  // namespace vla::VLA_CUDA_NS
