#include "ops/rmsnorm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/thread_pool.h"
#include "ops/vector_math.h"

namespace vla {

namespace {
constexpr int64_t kGrain = 1 << 14;     // elements per parallel chunk, at least
constexpr int64_t kRowsPerDwChunk = 32;  // fixed: sets the summation order of dw

int64_t rows_per_task(int64_t C) { return std::max<int64_t>(1, kGrain / std::max<int64_t>(C, 1)); }
}  // namespace

template <typename T>
void rmsnorm_forward(const T* x, const T* w, T eps, T* y, T* rstd, int64_t M, int64_t C) {
  parallel_for(M, rows_per_task(C), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const T* xr = x + r * C;
      T* yr = y + r * C;
      T s = T(1) / std::sqrt(dot(xr, xr, C) / static_cast<T>(C) + eps);
      rstd[r] = s;
      for (int64_t c = 0; c < C; ++c) yr[c] = xr[c] * s * w[c];
    }
  });
}

template <typename T>
void rmsnorm_backward(const T* dy, const T* x, const T* w, const T* rstd, T* dx, T* dw, int64_t M, int64_t C) {
  if (M == 0 || C == 0) return;
  const int64_t chunks = num_chunks(M, kRowsPerDwChunk);
  std::vector<T> dw_partial(static_cast<size_t>(chunks * C), T(0));
  parallel_for(chunks, std::max<int64_t>(1, rows_per_task(C) / kRowsPerDwChunk), [&](int64_t cb, int64_t ce) {
    std::vector<T> wdy(static_cast<size_t>(C));
    for (int64_t chunk = cb; chunk < ce; ++chunk) {
      T* part = dw_partial.data() + chunk * C;
      const int64_t r_end = std::min(M, (chunk + 1) * kRowsPerDwChunk);
      for (int64_t r = chunk * kRowsPerDwChunk; r < r_end; ++r) {
        const T* xr = x + r * C;
        const T* dyr = dy + r * C;
        T* dxr = dx + r * C;
        const T s = rstd[r];
        for (int64_t c = 0; c < C; ++c) wdy[c] = w[c] * dyr[c];
        const T k = dot(wdy.data(), xr, C) * s * s * s / static_cast<T>(C);
        for (int64_t c = 0; c < C; ++c) {
          dxr[c] += s * wdy[c] - k * xr[c];
          part[c] += dyr[c] * xr[c] * s;
        }
      }
    }
  });
  parallel_for(C, std::max<int64_t>(1, kGrain / chunks), [&](int64_t begin, int64_t end) {
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
      const T* part = dw_partial.data() + chunk * C;
      for (int64_t c = begin; c < end; ++c) dw[c] += part[c];
    }
  });
}

#define VLA_INSTANTIATE(T)                                                                   \
  template void rmsnorm_forward<T>(const T*, const T*, T, T*, T*, int64_t, int64_t);        \
  template void rmsnorm_backward<T>(const T*, const T*, const T*, const T*, T*, T*, int64_t, \
                                    int64_t);
VLA_INSTANTIATE(float)
VLA_INSTANTIATE(double)
#undef VLA_INSTANTIATE

}  // namespace vla
