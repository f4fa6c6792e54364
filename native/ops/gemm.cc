// GEMM entry points: argument checks, degenerate cases, the float backend switch and the ISA
// dispatch of the own kernels. The kernels themselves are in gemm_driver.h (blocking, packing,
// threading) and gemm_{generic,avx2,avx512}.cc (micro-kernels).
#include "ops/gemm.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>
#include <type_traits>

#include "core/cpu_features.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "ops/gemm_kernels.h"

#ifdef VLA_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace vla {

namespace gemm_detail {

namespace {
struct PackBuffers {
  void* data[kNumPackSlots] = {};
  size_t bytes[kNumPackSlots] = {};
  ~PackBuffers() {
    for (void* p : data) std::free(p);
  }
};
thread_local PackBuffers t_pack_buffers;
}  // namespace

void* pack_buffer(PackSlot slot, size_t bytes) {
  PackBuffers& b = t_pack_buffers;
  if (bytes > b.bytes[slot]) {
    // Page-aligned (hence cache-line and vector aligned), rounded to whole pages as aligned_alloc needs.
    constexpr size_t kPage = 4096;
    size_t capacity = (bytes + kPage - 1) / kPage * kPage;
    std::free(b.data[slot]);
    b.data[slot] = std::aligned_alloc(kPage, capacity);
    b.bytes[slot] = b.data[slot] ? capacity : 0;
    if (!b.data[slot]) fail(ErrorCode::kOutOfMemory, "gemm: cannot allocate a ", capacity, "-byte pack buffer");
  }
  return b.data[slot];
}

}  // namespace gemm_detail

namespace {

// VLA_TTT_GEMM=auto|own|openblas selects the float backend at start-up (set_gemm_backend later).
GemmBackend backend_from_env() {
  const char* env = std::getenv("VLA_TTT_GEMM");
  if (!env || !*env || std::string(env) == "auto") return GemmBackend::kAuto;
  if (std::string(env) == "own") return GemmBackend::kOwn;
  if (std::string(env) == "openblas") return GemmBackend::kOpenBlas;
  fail(ErrorCode::kArgument, "VLA_TTT_GEMM='", env, "' is not one of auto, own, openblas");
}

std::atomic<GemmBackend> g_backend{backend_from_env()};

bool openblas_compiled_in() {
#ifdef VLA_HAVE_OPENBLAS
  return true;
#else
  return false;
#endif
}

// Auto means the own kernels: inside the policy's loops they measured faster than OpenBLAS on
// this project's machines (OpenBLAS's threads contend with the op thread pool), and their
// results do not depend on how many rows share a call (an episode's actions do not change with
// its batch mates). OpenBLAS runs when asked for.
bool use_openblas() { return g_backend.load(std::memory_order_relaxed) == GemmBackend::kOpenBlas; }

template <typename T>
void check_args(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B,
                int64_t ldb, const T* C, int64_t ldc) {
  if (M < 0 || N < 0 || K < 0)
    fail(ErrorCode::kShape, "gemm: sizes must be >= 0, got M=", M, ", N=", N, ", K=", K);
  const int64_t a_cols = trans_a ? M : K, b_cols = trans_b ? K : N;
  if (lda < a_cols)
    fail(ErrorCode::kShape, "gemm: lda=", lda, " is less than the row length ", a_cols, " of A (stored ",
         trans_a ? "[K, M] = [" : "[M, K] = [", trans_a ? K : M, ", ", a_cols, "])");
  if (ldb < b_cols)
    fail(ErrorCode::kShape, "gemm: ldb=", ldb, " is less than the row length ", b_cols, " of B (stored ",
         trans_b ? "[N, K] = [" : "[K, N] = [", trans_b ? N : K, ", ", b_cols, "])");
  if (ldc < N) fail(ErrorCode::kShape, "gemm: ldc=", ldc, " is less than N=", N, " (C is [M, N] = [", M, ", ", N, "])");
  if (M > 0 && N > 0) {
    if (!C) fail(ErrorCode::kArgument, "gemm: C is null");
    if (K > 0 && (!A || !B)) fail(ErrorCode::kArgument, "gemm: ", A ? "B" : "A", " is null");
  }
}

// C = beta * C, for alpha == 0 or K == 0. beta == 0 writes zeros without reading C.
template <typename T>
void scale_c(int64_t M, int64_t N, T beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    T* c = C + i * ldc;
    if (beta == T(0)) {
      for (int64_t j = 0; j < N; ++j) c[j] = T(0);
    } else if (beta != T(1)) {
      for (int64_t j = 0; j < N; ++j) c[j] *= beta;
    }
  }
}

// Checks, handles the degenerate cases and fills `p`; false when nothing is left to compute.
template <typename T>
bool prepare(gemm_detail::GemmProblem<T>& p, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha,
             const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  check_args(trans_a, trans_b, M, N, K, A, lda, B, ldb, C, ldc);
  if (M == 0 || N == 0) return false;
  if (K == 0 || alpha == T(0)) {
    scale_c(M, N, beta, C, ldc);
    return false;
  }
  p = gemm_detail::GemmProblem<T>{trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc};
  return true;
}

void run_own_f32(const gemm_detail::GemmProblem<float>& p) {
  // The ISA kernels exist only in x86-64 builds (node-gyp compiles *_avx2.cc / *_avx512.cc there
  // only); elsewhere active_isa() is always generic.
#if defined(__x86_64__) || defined(_M_X64)
  switch (active_isa()) {
    case Isa::kAvx512: gemm_detail::gemm_f32_avx512(p); return;
    case Isa::kAvx2: gemm_detail::gemm_f32_avx2(p); return;
    case Isa::kGeneric: break;
  }
#endif
  gemm_detail::gemm_f32_generic(p);
}

#ifdef VLA_HAVE_OPENBLAS
void run_openblas(const gemm_detail::GemmProblem<float>& p) {
  // OpenBLAS keeps its own threads: follow vla's thread count (set_num_threads) when it changes.
  static std::atomic<int> openblas_threads{0};
  const int want = ThreadPool::in_task() ? 0 : num_threads();
  if (want > 0 && openblas_threads.exchange(want) != want) openblas_set_num_threads(want);
  cblas_sgemm(CblasRowMajor, p.trans_a ? CblasTrans : CblasNoTrans, p.trans_b ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(p.M), static_cast<blasint>(p.N), static_cast<blasint>(p.K), p.alpha, p.A,
              static_cast<blasint>(p.lda), p.B, static_cast<blasint>(p.ldb), p.beta, p.C,
              static_cast<blasint>(p.ldc));
}
#endif

}  // namespace

void set_gemm_backend(GemmBackend backend) {
  if (backend == GemmBackend::kOpenBlas && !openblas_compiled_in())
    fail(ErrorCode::kUnsupported,
         "gemm: the OpenBLAS backend was requested but this build does not include OpenBLAS (it was built with "
         "VLA_TTT_BLAS=OFF or without libopenblas-dev); use the own kernels (GemmBackend::kOwn or kAuto)");
  g_backend.store(backend, std::memory_order_relaxed);
}

GemmBackend gemm_backend() { return g_backend.load(std::memory_order_relaxed); }

bool gemm_has_openblas() { return openblas_compiled_in(); }

const char* gemm_backend_name() {
  if (use_openblas()) return "openblas";
  switch (active_isa()) {
    case Isa::kAvx512: return "own-avx512";
    case Isa::kAvx2: return "own-avx2";
    case Isa::kGeneric: return "own-generic";
  }
  return "own";
}

void gemm_own_f32(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                  int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_detail::GemmProblem<float> p;
  if (prepare(p, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)) run_own_f32(p);
}

namespace {

// The own float kernel family that runs now: 0 generic, 1 AVX2, 2 AVX-512 (-1 under OpenBLAS).
int active_family() {
  if (use_openblas()) return -1;
#if defined(__x86_64__) || defined(_M_X64)
  switch (active_isa()) {
    case Isa::kAvx512: return 2;
    case Isa::kAvx2: return 1;
    case Isa::kGeneric: break;
  }
#endif
  return 0;
}

}  // namespace

void pack_weights(const float* W, int64_t N, int64_t K, PackedWeights* out) {
  if (!W || N <= 0 || K <= 0) fail(ErrorCode::kArgument, "pack_weights: W must be a non-empty [N, K] matrix, got N=", N, ", K=", K);
  out->source = W;
  out->N = N;
  out->K = K;
  out->family = -1;
  out->bytes = 0;
  out->data.reset();
  const int family = active_family();
  if (family < 0) return;
  using namespace gemm_detail;
  const int64_t floats = family == 2 ? packed_b_floats_avx512(N, K) : family == 1 ? packed_b_floats_avx2(N, K) : packed_b_floats_generic(N, K);
  const size_t bytes = (static_cast<size_t>(floats) * sizeof(float) + 63) / 64 * 64;
  float* data = static_cast<float*>(std::aligned_alloc(64, bytes));
  if (!data) fail(ErrorCode::kOutOfMemory, "pack_weights: cannot allocate ", bytes, " bytes");
  out->data.reset(data);
  out->bytes = static_cast<int64_t>(bytes);
  if (family == 2) pack_b_avx512(W, K, N, K, data);
  else if (family == 1) pack_b_avx2(W, K, N, K, data);
  else pack_b_generic(W, K, N, K, data);
  out->family = family;
}

void gemm_packed(int64_t M, const float* x, int64_t ldx, const PackedWeights& W, float beta, float* y, int64_t ldy) {
  if (!W.source) fail(ErrorCode::kArgument, "gemm_packed: the weights were never packed");
  const int family = active_family();
  if (W.family < 0 || W.family != family) {
    gemm<float>(false, true, M, W.N, W.K, 1.0f, x, ldx, W.source, W.K, beta, y, ldy);
    return;
  }
  gemm_detail::GemmProblem<float> p;
  if (!prepare(p, false, true, M, W.N, W.K, 1.0f, x, ldx, W.source, W.K, beta, y, ldy)) return;
  if (family == 2) gemm_detail::gemm_f32_avx512_prepacked(p, W.data.get());
  else if (family == 1) gemm_detail::gemm_f32_avx2_prepacked(p, W.data.get());
  else gemm_detail::gemm_f32_generic_prepacked(p, W.data.get());
}

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
          int64_t ldb, T beta, T* C, int64_t ldc) {
  gemm_detail::GemmProblem<T> p;
  if (!prepare(p, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)) return;
  if constexpr (std::is_same_v<T, double>) {
    gemm_detail::gemm_f64_generic(p);
  } else {
#ifdef VLA_HAVE_OPENBLAS
    // cblas takes 32-bit sizes: larger problems stay on the own kernels.
    constexpr int64_t kMaxBlasInt = 0x7fffffff;
    if (use_openblas() && std::max({p.M, p.N, p.K, p.lda, p.ldb, p.ldc}) <= kMaxBlasInt) {
      run_openblas(p);
      return;
    }
#endif
    run_own_f32(p);
  }
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t,
                          float, float*, int64_t);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t, const double*,
                           int64_t, double, double*, int64_t);

}  // namespace vla
