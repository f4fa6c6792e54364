#include "ops/softmax.h"

#include <algorithm>

#include "core/thread_pool.h"
#include "ops/vector_math.h"

namespace vla {

namespace {
constexpr int64_t kGrain = 1 << 14;  // elements per parallel chunk, at least

int64_t rows_per_chunk(int64_t N) { return std::max<int64_t>(1, kGrain / std::max<int64_t>(N, 1)); }
}  // namespace

template <typename T>
void softmax_forward(const T* x, T* y, int64_t M, int64_t N) {
  if (N == 0) return;
  parallel_for(M, rows_per_chunk(N), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const T* xr = x + r * N;
      T* yr = y + r * N;
      T row_max = xr[0];
      for (int64_t j = 1; j < N; ++j) row_max = std::max(row_max, xr[j]);
      std::copy(xr, xr + N, yr);
      exp_shifted_inplace(yr, row_max, N);
      T inv = T(1) / sum(yr, N);  // >= 1 before inverting: the max element contributes exp(0)
      for (int64_t j = 0; j < N; ++j) yr[j] *= inv;
    }
  });
}

template <typename T>
void softmax_backward(const T* y, const T* dy, T* dx, int64_t M, int64_t N) {
  parallel_for(M, rows_per_chunk(N), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const T* yr = y + r * N;
      const T* dyr = dy + r * N;
      T* dxr = dx + r * N;
      T inner = dot(dyr, yr, N);
      for (int64_t j = 0; j < N; ++j) dxr[j] += yr[j] * (dyr[j] - inner);
    }
  });
}

#define VLA_INSTANTIATE(T)                                          \
  template void softmax_forward<T>(const T*, T*, int64_t, int64_t); \
  template void softmax_backward<T>(const T*, const T*, T*, int64_t, int64_t);
VLA_INSTANTIATE(float)
VLA_INSTANTIATE(double)
#undef VLA_INSTANTIATE

}  // namespace vla
