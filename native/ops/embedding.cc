#include "ops/embedding.h"

#include <algorithm>
#include <cstring>

#include "core/thread_pool.h"

namespace vla {

namespace {
constexpr int64_t kGrain = 1 << 14;     // elements per parallel chunk, at least
constexpr int64_t kColumnsPerTask = 16;  // backward: one cache line of float per visited row
}  // namespace

template <typename T>
void embedding_forward(const int32_t* ids, const T* table, T* out, int64_t N, int64_t V, int64_t D) {
  if (D == 0) return;
  parallel_for(N, std::max<int64_t>(1, kGrain / D), [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n)
      std::memcpy(out + n * D, table + static_cast<int64_t>(ids[n]) * D, static_cast<size_t>(D) * sizeof(T));
  });
}

template <typename T>
void embedding_backward(const int32_t* ids, const T* dout, T* dtable, int64_t N, int64_t V, int64_t D) {
  const int64_t column_blocks = num_chunks(D, kColumnsPerTask);
  parallel_for(column_blocks, std::max<int64_t>(1, kGrain / std::max<int64_t>(N * kColumnsPerTask, 1)),
               [&](int64_t begin, int64_t end) {
                 const int64_t c0 = begin * kColumnsPerTask;
                 const int64_t c1 = std::min(D, end * kColumnsPerTask);
                 for (int64_t n = 0; n < N; ++n) {
                   const T* src = dout + n * D;
                   T* dst = dtable + static_cast<int64_t>(ids[n]) * D;
                   for (int64_t c = c0; c < c1; ++c) dst[c] += src[c];
                 }
               });
}

int64_t find_invalid_id(const int32_t* ids, int64_t N, int64_t V) {
  for (int64_t n = 0; n < N; ++n)
    if (ids[n] < 0 || ids[n] >= V) return n;
  return -1;
}

#define VLA_INSTANTIATE(T)                                                                             \
  template void embedding_forward<T>(const int32_t*, const T*, T*, int64_t, int64_t, int64_t); \
  template void embedding_backward<T>(const int32_t*, const T*, T*, int64_t, int64_t, int64_t);
VLA_INSTANTIATE(float)
VLA_INSTANTIATE(double)
#undef VLA_INSTANTIATE

}  // namespace vla
