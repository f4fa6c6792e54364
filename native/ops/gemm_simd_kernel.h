// The float micro-kernel of the AVX2 and AVX-512 builds, written once over a vector-traits type V.
// Each ISA translation unit defines V on its own intrinsics, in its anonymous namespace, and
// instantiates SimdKernel with it; so one body of code is both kernels, and the AVX-512 one (which
// cannot run on every development machine) differs from the tested AVX2 one only in V and sizes.
//
// V provides:
//   using Vec; static constexpr int kLanes;        floats per register
//   Vec zero(); Vec set1(float);
//   Vec load(const float*)      aligned to the register width (packed B panels are 64-byte aligned)
//   Vec loadu(const float*); void storeu(float*, Vec)
//   Vec broadcast(const float*)                     one float to every lane
//   Vec fmadd(Vec a, Vec b, Vec c)                  a * b + c with one rounding
//   Vec mul(Vec a, Vec b)
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "ops/gemm_driver.h"

namespace vla::gemm_detail {

// A register-blocked MR x (NVec * V::kLanes) micro-kernel (see the Kernel concept in gemm_driver.h).
// The tile lives in MR * NVec accumulators; per k: NVec loads of B, MR broadcasts of A, MR * NVec FMAs.
template <class V, int MR, int NVec, int64_t MC, int64_t KC, int64_t NC>
struct SimdKernel {
  using T = float;
  using Vec = typename V::Vec;
  static constexpr int kLanes = V::kLanes;
  static constexpr int kMR = MR, kNR = NVec * kLanes;
  static constexpr int64_t kMC = MC, kKC = KC, kNC = NC;
  static constexpr int64_t kPrefetchRows = 16;  // how far ahead tile_packing_b prefetches B rows

  template <int kRows, bool kPackedA>
  static void tile(int64_t kc, const float* a, int64_t lda, const float* b, float* c, int64_t ldc, float alpha,
                   float beta) {
    tile_impl<kRows, kPackedA, false>(kc, a, lda, b, 0, nullptr, c, ldc, alpha, beta);
  }

  template <int kRows, bool kPackedA>
  static void tile_packing_b(int64_t kc, const float* a, int64_t lda, const float* b_src, int64_t ldb, float* b_dst,
                             float* c, int64_t ldc, float alpha, float beta) {
    tile_impl<kRows, kPackedA, true>(kc, a, lda, b_src, ldb, b_dst, c, ldc, alpha, beta);
  }

  // kPackB: B row k comes from b + k * ldb (in place) and is also stored to b_dst + k * kNR (the
  // packed panel, 64-byte aligned); otherwise from the packed panel b + k * kNR.
  template <int kRows, bool kPackedA, bool kPackB>
  static void tile_impl(int64_t kc, const float* a, int64_t lda, const float* b, int64_t ldb, float* b_dst, float* c,
                        int64_t ldc, float alpha, float beta) {
    // A element (r, k): a[k * MR + r] packed; in place, row r is its own stream a_rows[r][k].
    const float* a_rows[kRows];
#pragma GCC unroll 32
    for (int r = 0; r < kRows; ++r) a_rows[r] = kPackedA ? a + r : a + r * lda;
    constexpr int64_t a_k = kPackedA ? MR : 1;

    // C is only touched after the k loop: fetch its lines now (for writing), so the final update
    // does not wait on memory.
#pragma GCC unroll 32
    for (int r = 0; r < kRows; ++r) {
      __builtin_prefetch(c + r * ldc, 1);
      __builtin_prefetch(c + r * ldc + kNR - 1, 1);
    }

    Vec acc[kRows][NVec];
#pragma GCC unroll 32
    for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NVec; ++v) acc[r][v] = V::zero();

#pragma GCC unroll 4
    for (int64_t k = 0; k < kc; ++k) {
      Vec bk[NVec];
      if (kPackB) {
        // B comes from memory here, a row (one or two cache lines) per k: ask for rows well ahead
        // (prefetches past the end of B are harmless: they never fault).
        __builtin_prefetch(b + (k + kPrefetchRows) * ldb);
        __builtin_prefetch(b + (k + kPrefetchRows) * ldb + kNR - 1);
      }
#pragma GCC unroll 4
      for (int v = 0; v < NVec; ++v) {
        if (kPackB) {
          bk[v] = V::loadu(b + k * ldb + v * kLanes);
          V::storeu(b_dst + k * kNR + v * kLanes, bk[v]);
        } else {
          bk[v] = V::load(b + k * kNR + v * kLanes);
        }
      }
#pragma GCC unroll 32
      for (int r = 0; r < kRows; ++r) {
        const Vec ar = V::broadcast(a_rows[r] + k * a_k);
#pragma GCC unroll 4
        for (int v = 0; v < NVec; ++v) acc[r][v] = V::fmadd(ar, bk[v], acc[r][v]);
      }
    }

    // C = alpha * acc + beta * C; beta == 0 never reads C (it may hold NaN).
    const Vec va = V::set1(alpha);
    if (beta == 0.0f) {
#pragma GCC unroll 32
      for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < NVec; ++v) V::storeu(c + r * ldc + v * kLanes, V::mul(acc[r][v], va));
    } else {
      const Vec vb = V::set1(beta);
#pragma GCC unroll 32
      for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < NVec; ++v) {
          float* cp = c + r * ldc + v * kLanes;
          V::storeu(cp, V::fmadd(acc[r][v], va, V::mul(vb, V::loadu(cp))));
        }
    }
  }

  // The transposing copy of B (dst[k * kNR + j] = src[j * ld + k]) in 8 x 8 blocks: 8 row loads,
  // an in-register transpose, 8 aligned stores. Both ISAs (AVX-512 implies AVX2) use 256-bit
  // registers here. Partial panels and the last kc % 8 columns go element by element.
  static void pack_b_transposed(const float* src, int64_t ld, int cols, int64_t kc, float* dst) {
    static_assert(kNR % 8 == 0, "the transposing copy works on 8 x 8 blocks");
    if (cols < kNR) {
      pack_panel_gather<kNR>(src, ld, cols, kc, dst);
      return;
    }
    int64_t k = 0;
    for (; k + 8 <= kc; k += 8)
      for (int jb = 0; jb < kNR; jb += 8) {
        const float* s = src + jb * ld + k;
        __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + ld), r2 = _mm256_loadu_ps(s + 2 * ld),
               r3 = _mm256_loadu_ps(s + 3 * ld), r4 = _mm256_loadu_ps(s + 4 * ld), r5 = _mm256_loadu_ps(s + 5 * ld),
               r6 = _mm256_loadu_ps(s + 6 * ld), r7 = _mm256_loadu_ps(s + 7 * ld);
        const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
        const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
        const __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
        const __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
        const __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
        const __m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
        const __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
        const __m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
        const __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
        const __m256 u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
        const __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
        const __m256 u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
        float* d = dst + k * kNR + jb;
        _mm256_store_ps(d + 0 * kNR, _mm256_permute2f128_ps(u0, u4, 0x20));
        _mm256_store_ps(d + 1 * kNR, _mm256_permute2f128_ps(u1, u5, 0x20));
        _mm256_store_ps(d + 2 * kNR, _mm256_permute2f128_ps(u2, u6, 0x20));
        _mm256_store_ps(d + 3 * kNR, _mm256_permute2f128_ps(u3, u7, 0x20));
        _mm256_store_ps(d + 4 * kNR, _mm256_permute2f128_ps(u0, u4, 0x31));
        _mm256_store_ps(d + 5 * kNR, _mm256_permute2f128_ps(u1, u5, 0x31));
        _mm256_store_ps(d + 6 * kNR, _mm256_permute2f128_ps(u2, u6, 0x31));
        _mm256_store_ps(d + 7 * kNR, _mm256_permute2f128_ps(u3, u7, 0x31));
      }
    for (; k < kc; ++k)
      for (int j = 0; j < kNR; ++j) dst[k * kNR + j] = src[j * ld + k];
  }
};

// The two SIMD kernels' shapes and cache blocks, stated once: gemm_avx2.cc and gemm_avx512.cc
// instantiate them with their registers, and a test runs the AVX-512 shape on AVX2 registers
// (native/tests/gemm_avx512_shape_avx2.cc), so machines without AVX-512 still exercise everything
// of that kernel but its one-line intrinsic wrappers.
//   AVX2, 6 x 16 (12 ymm accumulators), blocked for Zen3 (32 KiB L1d, 512 KiB L2 per core):
//     B micro-panel KC x 16 floats = 16 KiB in L1; A block MC x KC = 144 KiB in L2.
//   AVX-512, 12 x 32 (24 zmm accumulators of 32 registers), for a 48 KiB L1d and 1-2 MiB L2 (Ice
//     Lake / Sapphire Rapids, Zen4): B micro-panel KC x 32 floats = 24 KiB; A block 108 KiB.
template <class V>
using Avx2ShapeKernel = SimdKernel<V, 6, 2, 144, 256, 2048>;
template <class V>
using Avx512ShapeKernel = SimdKernel<V, 12, 2, 144, 192, 2048>;

}  // namespace vla::gemm_detail
