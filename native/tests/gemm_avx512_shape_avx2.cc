// The AVX-512 kernel's exact shape and blocking (Avx512ShapeKernel: 12 x 32 tiles, KC = 192) on
// pairs of AVX2 registers. Where the CPU lacks AVX-512 (the test of the real kernel skips), this
// still runs all of that kernel's code but its register wrappers in gemm_avx512.cc: the 12-row
// tiles, the 32-column panels and their transposing copy, the blocking and the threading.
// Slow (the 48 accumulators spill), which does not matter for a correctness test.
// Compiled with -mavx2 -mfma because of its name (cmake/VlaIsaFlags.cmake).
#include "ops/gemm_kernels.h"

#if defined(__AVX2__) && defined(__FMA__)

#include <immintrin.h>

#include "ops/gemm_driver.h"
#include "ops/gemm_simd_kernel.h"

namespace vla::gemm_detail {

namespace {

// 16 lanes as two 256-bit halves: the vector-traits contract of gemm_simd_kernel.h.
struct PairedAvx2Vec {
  struct Vec {
    __m256 lo, hi;
  };
  static constexpr int kLanes = 16;
  static Vec zero() { return {_mm256_setzero_ps(), _mm256_setzero_ps()}; }
  static Vec set1(float x) { return {_mm256_set1_ps(x), _mm256_set1_ps(x)}; }
  static Vec load(const float* p) { return {_mm256_load_ps(p), _mm256_load_ps(p + 8)}; }
  static Vec loadu(const float* p) { return {_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)}; }
  static void storeu(float* p, Vec v) {
    _mm256_storeu_ps(p, v.lo);
    _mm256_storeu_ps(p + 8, v.hi);
  }
  static Vec broadcast(const float* p) { return set1(*p); }
  static Vec fmadd(Vec a, Vec b, Vec c) {
    return {_mm256_fmadd_ps(a.lo, b.lo, c.lo), _mm256_fmadd_ps(a.hi, b.hi, c.hi)};
  }
  static Vec mul(Vec a, Vec b) { return {_mm256_mul_ps(a.lo, b.lo), _mm256_mul_ps(a.hi, b.hi)}; }
};

}  // namespace

void gemm_f32_avx512_shape_on_avx2(const GemmProblem<float>& p) {
  gemm_blocked<Avx512ShapeKernel<PairedAvx2Vec>>(p);
}

}  // namespace vla::gemm_detail

#else

#include "core/error.h"

namespace vla::gemm_detail {
void gemm_f32_avx512_shape_on_avx2(const GemmProblem<float>&) {
  fail(ErrorCode::kUnsupported, "this test build has no AVX2 flags");
}
}  // namespace vla::gemm_detail

#endif
