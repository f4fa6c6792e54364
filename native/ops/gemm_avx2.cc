// AVX2 + FMA float GEMM: the shared SIMD micro-kernel (ops/gemm_simd_kernel.h) on 256-bit
// registers, 6 x 16: 12 ymm accumulators, 2 for B, 1 broadcast.
// Compiled with -mavx2 -mfma (see cmake/VlaIsaFlags.cmake); called only when the CPU has both.
#include "core/error.h"
#include "ops/gemm_kernels.h"

#if defined(__AVX2__) && defined(__FMA__)

#include <immintrin.h>

#include "ops/gemm_driver.h"
#include "ops/gemm_simd_kernel.h"

namespace vla::gemm_detail {

namespace {

struct Avx2Vec {
  using Vec = __m256;
  static constexpr int kLanes = 8;
  static Vec zero() { return _mm256_setzero_ps(); }
  static Vec set1(float x) { return _mm256_set1_ps(x); }
  static Vec load(const float* p) { return _mm256_load_ps(p); }
  static Vec loadu(const float* p) { return _mm256_loadu_ps(p); }
  static void storeu(float* p, Vec v) { _mm256_storeu_ps(p, v); }
  static Vec broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
  static Vec mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
};

using Avx2Kernel = Avx2ShapeKernel<Avx2Vec>;

}  // namespace

void gemm_f32_avx2(const GemmProblem<float>& p) { gemm_blocked<Avx2Kernel>(p); }
int64_t packed_b_floats_avx2(int64_t N, int64_t K) { return packed_b_floats<Avx2Kernel>(N, K); }
void pack_b_avx2(const float* W, int64_t ldw, int64_t N, int64_t K, float* dst) { pack_b_whole<Avx2Kernel>(W, ldw, N, K, dst); }
void gemm_f32_avx2_prepacked(const GemmProblem<float>& p, const float* packed) { gemm_blocked<Avx2Kernel>(p, packed); }

}  // namespace vla::gemm_detail

#else

namespace vla::gemm_detail {
void gemm_f32_avx2(const GemmProblem<float>&) {
  fail(ErrorCode::kUnsupported, "gemm: this build compiled the AVX2 kernels without -mavx2 -mfma");
}
int64_t packed_b_floats_avx2(int64_t, int64_t) {
  fail(ErrorCode::kUnsupported, "gemm: this build compiled the AVX2 kernels without -mavx2 -mfma");
}
void pack_b_avx2(const float*, int64_t, int64_t, int64_t, float*) {
  fail(ErrorCode::kUnsupported, "gemm: this build compiled the AVX2 kernels without -mavx2 -mfma");
}
void gemm_f32_avx2_prepacked(const GemmProblem<float>&, const float*) {
  fail(ErrorCode::kUnsupported, "gemm: this build compiled the AVX2 kernels without -mavx2 -mfma");
}
}  // namespace vla::gemm_detail

#endif
