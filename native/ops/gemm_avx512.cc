// AVX-512 float GEMM: the same SIMD micro-kernel as AVX2 (ops/gemm_simd_kernel.h) on 512-bit
// registers, 12 x 32: 24 zmm accumulators, 2 for B, 1 broadcast, of 32. Only Avx512Vec below is
// specific to it; the shape runs on AVX2 registers in a test where the CPU lacks AVX-512.
// Compiled with -mavx512f/bw/dq/vl -mfma; called only when the CPU and OS support AVX-512.
#include "core/error.h"
#include "ops/gemm_kernels.h"

#if defined(__AVX512F__) && defined(__FMA__)

#include <immintrin.h>

#include "ops/gemm_driver.h"
#include "ops/gemm_simd_kernel.h"

namespace vla::gemm_detail {

namespace {

struct Avx512Vec {
  using Vec = __m512;
  static constexpr int kLanes = 16;
  static Vec zero() { return _mm512_setzero_ps(); }
  static Vec set1(float x) { return _mm512_set1_ps(x); }
  static Vec load(const float* p) { return _mm512_load_ps(p); }
  static Vec loadu(const float* p) { return _mm512_loadu_ps(p); }
  static void storeu(float* p, Vec v) { _mm512_storeu_ps(p, v); }
  static Vec broadcast(const float* p) { return _mm512_set1_ps(*p); }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  static Vec mul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
};

using Avx512Kernel = Avx512ShapeKernel<Avx512Vec>;

}  // namespace

void gemm_f32_avx512(const GemmProblem<float>& p) { gemm_blocked<Avx512Kernel>(p); }
int64_t packed_b_floats_avx512(int64_t N, int64_t K) { return packed_b_floats<Avx512Kernel>(N, K); }
void pack_b_avx512(const float* W, int64_t ldw, int64_t N, int64_t K, float* dst) { pack_b_whole<Avx512Kernel>(W, ldw, N, K, dst); }
void gemm_f32_avx512_prepacked(const GemmProblem<float>& p, const float* packed) { gemm_blocked<Avx512Kernel>(p, packed); }

}  // namespace vla::gemm_detail

#else

namespace vla::gemm_detail {
void gemm_f32_avx512(const GemmProblem<float>&) {
  fail(ErrorCode::kUnsupported, "gemm: this build compiled the AVX-512 kernels without -mavx512f -mfma");
}
int64_t packed_b_floats_avx512(int64_t, int64_t) {
  fail(ErrorCode::kUnsupported, "gemm: this build compiled the AVX-512 kernels without -mavx512f -mfma");
}
void pack_b_avx512(const float*, int64_t, int64_t, int64_t, float*) {
  fail(ErrorCode::kUnsupported, "gemm: this build compiled the AVX-512 kernels without -mavx512f -mfma");
}
void gemm_f32_avx512_prepacked(const GemmProblem<float>&, const float*) {
  fail(ErrorCode::kUnsupported, "gemm: this build compiled the AVX-512 kernels without -mavx512f -mfma");
}
}  // namespace vla::gemm_detail

#endif
