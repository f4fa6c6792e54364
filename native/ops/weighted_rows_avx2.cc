// AVX2+FMA kernel of ops/weighted_rows.h. Compiled with -mavx2 -mfma on x86-64 (CMake:
// cmake/VlaIsaFlags.cmake; node-gyp: binding.gyp); called only after the run-time CPU probe.
// Uses no C++ library templates, so nothing compiled for AVX2 here can be merged by the linker
// into code that the baseline build runs.
#include "ops/weighted_rows.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

namespace vla {

namespace {

// Lane mask for the first `k` (0..8) floats of a vector.
inline __m256i first_lanes(int64_t k) {
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(k)), lanes);
}

// One output row: 32 values at a time in 4 registers, with a second set of 4 for odd rows, so
// 8 independent FMA chains hide the FMA latency.
void one_output(float* out, int64_t n, const float* w, const float* const* rows, int64_t count) {
  int64_t x = 0;
  for (; x + 32 <= n; x += 32) {
    __m256 a0 = _mm256_loadu_ps(out + x), a1 = _mm256_loadu_ps(out + x + 8);
    __m256 a2 = _mm256_loadu_ps(out + x + 16), a3 = _mm256_loadu_ps(out + x + 24);
    __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps(), b2 = _mm256_setzero_ps(), b3 = _mm256_setzero_ps();
    int64_t c = 0;
    for (; c + 2 <= count; c += 2) {
      const __m256 w0 = _mm256_broadcast_ss(w + c), w1 = _mm256_broadcast_ss(w + c + 1);
      const float* r0 = rows[c] + x;
      const float* r1 = rows[c + 1] + x;
      a0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(r0), a0);
      a1 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(r0 + 8), a1);
      a2 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(r0 + 16), a2);
      a3 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(r0 + 24), a3);
      b0 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(r1), b0);
      b1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(r1 + 8), b1);
      b2 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(r1 + 16), b2);
      b3 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(r1 + 24), b3);
    }
    if (c < count) {
      const __m256 w0 = _mm256_broadcast_ss(w + c);
      const float* r0 = rows[c] + x;
      a0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(r0), a0);
      a1 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(r0 + 8), a1);
      a2 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(r0 + 16), a2);
      a3 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(r0 + 24), a3);
    }
    _mm256_storeu_ps(out + x, _mm256_add_ps(a0, b0));
    _mm256_storeu_ps(out + x + 8, _mm256_add_ps(a1, b1));
    _mm256_storeu_ps(out + x + 16, _mm256_add_ps(a2, b2));
    _mm256_storeu_ps(out + x + 24, _mm256_add_ps(a3, b3));
  }
  // The rest, 8 at a time; a last partial vector uses masked loads and stores, which never touch
  // memory past n.
  for (; x < n; x += 8) {
    const __m256i m = first_lanes(n - x < 8 ? n - x : 8);
    __m256 a = _mm256_maskload_ps(out + x, m);
    __m256 b = _mm256_setzero_ps();
    int64_t c = 0;
    for (; c + 2 <= count; c += 2) {
      a = _mm256_fmadd_ps(_mm256_broadcast_ss(w + c), _mm256_maskload_ps(rows[c] + x, m), a);
      b = _mm256_fmadd_ps(_mm256_broadcast_ss(w + c + 1), _mm256_maskload_ps(rows[c + 1] + x, m), b);
    }
    if (c < count) a = _mm256_fmadd_ps(_mm256_broadcast_ss(w + c), _mm256_maskload_ps(rows[c] + x, m), a);
    _mm256_maskstore_ps(out + x, m, _mm256_add_ps(a, b));
  }
}

// R output rows (2..4) sharing each loaded row value: 16 values per output at a time, 2R
// accumulators.
template <int R>
void several_outputs(float* const* out, int64_t n, const float* w, int64_t ws, const float* const* rows,
                     int64_t count) {
  int64_t x = 0;
  for (; x + 16 <= n; x += 16) {
    __m256 lo[R], hi[R];
    for (int r = 0; r < R; ++r) {
      lo[r] = _mm256_loadu_ps(out[r] + x);
      hi[r] = _mm256_loadu_ps(out[r] + x + 8);
    }
    for (int64_t c = 0; c < count; ++c) {
      const __m256 v0 = _mm256_loadu_ps(rows[c] + x), v1 = _mm256_loadu_ps(rows[c] + x + 8);
      for (int r = 0; r < R; ++r) {
        const __m256 wr = _mm256_broadcast_ss(w + r * ws + c);
        lo[r] = _mm256_fmadd_ps(wr, v0, lo[r]);
        hi[r] = _mm256_fmadd_ps(wr, v1, hi[r]);
      }
    }
    for (int r = 0; r < R; ++r) {
      _mm256_storeu_ps(out[r] + x, lo[r]);
      _mm256_storeu_ps(out[r] + x + 8, hi[r]);
    }
  }
  for (; x < n; x += 8) {
    const __m256i m = first_lanes(n - x < 8 ? n - x : 8);
    __m256 a[R];
    for (int r = 0; r < R; ++r) a[r] = _mm256_maskload_ps(out[r] + x, m);
    for (int64_t c = 0; c < count; ++c) {
      const __m256 v = _mm256_maskload_ps(rows[c] + x, m);
      for (int r = 0; r < R; ++r) a[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(w + r * ws + c), v, a[r]);
    }
    for (int r = 0; r < R; ++r) _mm256_maskstore_ps(out[r] + x, m, a[r]);
  }
}

}  // namespace

void add_weighted_rows_avx2(float* const* out, int num_out, int64_t n, const float* weights, int64_t weight_stride,
                            const float* const* rows, int64_t count) {
  for (int first = 0; first < num_out; first += kMaxWeightedOutputs) {  // callers pass at most 4
    float* const* o = out + first;
    const float* w = weights + first * weight_stride;
    switch (num_out - first < kMaxWeightedOutputs ? num_out - first : kMaxWeightedOutputs) {
      case 1: one_output(o[0], n, w, rows, count); break;
      case 2: several_outputs<2>(o, n, w, weight_stride, rows, count); break;
      case 3: several_outputs<3>(o, n, w, weight_stride, rows, count); break;
      default: several_outputs<4>(o, n, w, weight_stride, rows, count); break;
    }
  }
}

bool weighted_rows_avx2_available() { return true; }

}  // namespace vla

#endif  // __AVX2__ && __FMA__ (other architectures: see weighted_rows.cc)
