// Peak FMA loop on 512-bit registers; compiled with -mavx512f ... (cmake/VlaIsaFlags.cmake).
#include "peak_fma.h"

#if defined(__AVX512F__) && defined(__FMA__)
#include <immintrin.h>

namespace vla::bench {
namespace {
struct Avx512Vec {
  using Vec = __m512;
  static Vec set1(float x) { return _mm512_set1_ps(x); }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  static float first(Vec v) { return _mm512_cvtss_f32(v); }
};
}  // namespace
float fma_block_avx512(int64_t iterations) { return fma_block<Avx512Vec>(iterations); }
}  // namespace vla::bench
#else
#include <cstdlib>
namespace vla::bench {
float fma_block_avx512(int64_t) { std::abort(); }  // the caller checks the build and CPU first
}  // namespace vla::bench
#endif
