// AVX2 + FMA instantiation of the float activation kernels (compiled with -mavx2 -mfma).
#include <immintrin.h>

#include "ops/activation_kernels.h"
#include "ops/activation_simd.h"

namespace vla {
namespace {

struct Avx2Vec {
  using R = __m256;
  static constexpr int kWidth = 8;
  static R load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, R v) { _mm256_storeu_ps(p, v); }
  static R set1(float v) { return _mm256_set1_ps(v); }
  static R add(R a, R b) { return _mm256_add_ps(a, b); }
  static R sub(R a, R b) { return _mm256_sub_ps(a, b); }
  static R mul(R a, R b) { return _mm256_mul_ps(a, b); }
  static R div(R a, R b) { return _mm256_div_ps(a, b); }
  static R fmadd(R a, R b, R c) { return _mm256_fmadd_ps(a, b, c); }
  static R min(R a, R b) { return _mm256_min_ps(a, b); }
  static R max(R a, R b) { return _mm256_max_ps(a, b); }
  static R pow2i(R k) {
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
    return _mm256_castsi256_ps(e);
  }
};

}  // namespace

FloatActivationKernels activation_kernels_avx2() {
  return {silu_forward_kernel<Avx2Vec>, silu_backward_kernel<Avx2Vec>, gelu_forward_kernel<Avx2Vec>,
          gelu_backward_kernel<Avx2Vec>, geglu_forward_kernel<Avx2Vec>, geglu_backward_kernel<Avx2Vec>};
}

}  // namespace vla
