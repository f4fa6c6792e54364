#include "ops/rope.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "core/thread_pool.h"

namespace vla {

namespace {

constexpr int64_t kGrain = 1 << 13;  // elements per parallel chunk, at least

// cos and sin of pos * inv_freq[i] for i in [0, D/2).
struct RotationTable {
  int64_t half = 0;
  std::vector<double> inv_freq;  // [half]

  RotationTable(int64_t D, double theta) : half(D / 2), inv_freq(static_cast<size_t>(D / 2)) {
    for (int64_t i = 0; i < half; ++i)
      inv_freq[i] = std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(D));
  }

  template <typename T>
  void fill(int64_t pos, T* cos_out, T* sin_out) const {
    for (int64_t i = 0; i < half; ++i) {
      double angle = static_cast<double>(pos) * inv_freq[i];
      cos_out[i] = static_cast<T>(std::cos(angle));
      sin_out[i] = static_cast<T>(std::sin(angle));
    }
  }
};

// Rotates every (b, s) row of H heads by its position's angles; `direction` is +1 (forward) or
// -1 (backward: the transpose of a rotation is the rotation by the negative angle). Accumulates
// into `out` when `accumulate`, else writes.
template <typename T>
void rotate(const T* in, const int32_t* positions, double theta, T* out, const RopeShape& s, T direction,
            bool accumulate) {
  const int64_t rows = s.B * s.S;
  const int64_t half = s.D / 2;
  if (rows == 0 || s.H == 0 || half == 0) return;
  const int64_t num_positions = s.positions_per_batch ? rows : s.S;

  // Positions are usually a small non-negative range (0..S-1, maybe an offset). Their cos/sin
  // come from a per-thread table of positions [0, n) for this (D, theta), grown on demand and
  // kept between calls (acting calls RoPE 80 times per action chunk with the same positions); a
  // sparse, negative or huge range falls back to one computation per row. Every path computes
  // the same values (RotationTable::fill).
  int64_t pmin = positions[0], pmax = positions[0];
  for (int64_t i = 1; i < num_positions; ++i) {
    pmin = std::min<int64_t>(pmin, positions[i]);
    pmax = std::max<int64_t>(pmax, positions[i]);
  }
  constexpr int64_t kMaxTablePositions = int64_t(1) << 16;
  const bool use_cache = pmin >= 0 && pmax < kMaxTablePositions && pmax + 1 <= std::max<int64_t>(num_positions, 4096);
  std::unique_ptr<RotationTable> own_table;
  const RotationTable* table_ptr = nullptr;
  const T* cache = nullptr;
  if (use_cache) {
    struct Cached {
      int64_t D = -1;
      double theta = 0;
      int64_t positions = 0;
      std::vector<T> data;  // [positions, 2 * half]: cos then sin
    };
    thread_local Cached cached;
    if (cached.D != s.D || cached.theta != theta || cached.positions < pmax + 1) {
      const int64_t grown = cached.D == s.D && cached.theta == theta ? 2 * cached.positions : 128;
      const int64_t n = std::max<int64_t>(pmax + 1, std::min(grown, kMaxTablePositions));
      RotationTable table(s.D, theta);
      cached.data.resize(static_cast<size_t>(n * 2 * half));
      T* data = cached.data.data();
      parallel_for(n, std::max<int64_t>(1, 256 / half), [&](int64_t b, int64_t e) {
        for (int64_t p = b; p < e; ++p) table.fill(p, data + p * 2 * half, data + p * 2 * half + half);
      });
      cached.D = s.D;
      cached.theta = theta;
      cached.positions = n;
    }
    cache = cached.data.data();
  } else {
    own_table = std::make_unique<RotationTable>(s.D, theta);
    table_ptr = own_table.get();
  }

  const int64_t row_elems = s.H * s.D;
  parallel_for(rows, std::max<int64_t>(1, kGrain / row_elems), [&](int64_t begin, int64_t end) {
    std::vector<T> own(static_cast<size_t>(use_cache ? 0 : 2 * half));
    const RotationTable* table = table_ptr;
    for (int64_t r = begin; r < end; ++r) {
      const int64_t pos = positions[s.positions_per_batch ? r : r % s.S];
      const T* cos_v;
      const T* sin_v;
      if (use_cache) {
        cos_v = cache + pos * 2 * half;
      } else {
        table->fill(pos, own.data(), own.data() + half);
        cos_v = own.data();
      }
      sin_v = cos_v + half;
      for (int64_t h = 0; h < s.H; ++h) {
        const T* x1 = in + r * row_elems + h * s.D;
        const T* x2 = x1 + half;
        T* y1 = out + r * row_elems + h * s.D;
        T* y2 = y1 + half;
        if (accumulate) {
          for (int64_t i = 0; i < half; ++i) {
            T sn = direction * sin_v[i];
            y1[i] += x1[i] * cos_v[i] - x2[i] * sn;
            y2[i] += x2[i] * cos_v[i] + x1[i] * sn;
          }
        } else {
          for (int64_t i = 0; i < half; ++i) {
            T sn = direction * sin_v[i];
            y1[i] = x1[i] * cos_v[i] - x2[i] * sn;
            y2[i] = x2[i] * cos_v[i] + x1[i] * sn;
          }
        }
      }
    }
  });
}

}  // namespace

template <typename T>
void rope_forward(const T* x, const int32_t* positions, double theta, T* y, const RopeShape& s) {
  rotate<T>(x, positions, theta, y, s, T(1), false);
}

template <typename T>
void rope_backward(const T* dy, const int32_t* positions, double theta, T* dx, const RopeShape& s) {
  rotate<T>(dy, positions, theta, dx, s, T(-1), true);
}

#define VLA_INSTANTIATE(T)                                                                   \
  template void rope_forward<T>(const T*, const int32_t*, double, T*, const RopeShape&); \
  template void rope_backward<T>(const T*, const int32_t*, double, T*, const RopeShape&);
VLA_INSTANTIATE(float)
VLA_INSTANTIATE(double)
#undef VLA_INSTANTIATE

}  // namespace vla
