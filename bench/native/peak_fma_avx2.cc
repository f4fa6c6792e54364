// Peak FMA loop on 256-bit registers; compiled with -mavx2 -mfma (cmake/VlaIsaFlags.cmake).
#include "peak_fma.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

namespace vla::bench {
namespace {
struct Avx2Vec {
  using Vec = __m256;
  static Vec set1(float x) { return _mm256_set1_ps(x); }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
  static float first(Vec v) { return _mm256_cvtss_f32(v); }
};
}  // namespace
float fma_block_avx2(int64_t iterations) { return fma_block<Avx2Vec>(iterations); }
}  // namespace vla::bench
#else
#include <cstdlib>
namespace vla::bench {
float fma_block_avx2(int64_t) { std::abort(); }  // the caller checks the build and CPU first
}  // namespace vla::bench
#endif
