#include "cuda/dialect.h"

#include "core/error.h"
#include "cuda/cuda_check.h"
#include "cuda/device_buffer.h"
#include "cuda/embedding_cuda.h"
#include "cuda/kernel_utils.h"

namespace vla::VLA_CUDA_NS {

namespace {

constexpr int kThreads = 256;

// Grid (row_grid): tokens n over grid.y, blocks of columns over grid.x (grid-stride both ways):
// coalesced along D.
__global__ void embedding_fwd_kernel(const int32_t* ids, const float* table, float* out, int64_t N, int64_t D) {
  for (int64_t n = blockIdx.y; n < N; n += gridDim.y) {
    const float* src = table + static_cast<int64_t>(ids[n]) * D;
    float* dst = out + n * D;
    for (int64_t c = grid_index(); c < D; c += grid_stride())
      dst[c] = src[c];
  }
}

// next[n]: the smallest m > n with ids[m] == ids[n], or N; first[n]: 1 when no m < n has the
// same id. Each block compares its kThreads tokens against all ids, a shared tile at a time.
__global__ void embedding_links_kernel(const int32_t* ids, int32_t* next, int32_t* first, int64_t N) {
  __shared__ int32_t tile[kThreads];
  for (int64_t base = blockIdx.x * int64_t(kThreads); base < N; base += int64_t(gridDim.x) * kThreads) {  // uniform
    const int64_t n = base + threadIdx.x;
    const bool active = n < N;
    const int32_t id = active ? ids[n] : 0;
    int64_t nxt = N;
    bool is_first = true;
    for (int64_t t0 = 0; t0 < N; t0 += kThreads) {
      __syncthreads();  // the previous tile is consumed
      if (t0 + threadIdx.x < N) tile[threadIdx.x] = ids[t0 + threadIdx.x];
      __syncthreads();
      const int64_t count = N - t0 < kThreads ? N - t0 : kThreads;
      for (int64_t j = 0; j < count; ++j) {
        if (tile[j] != id) continue;
        const int64_t m = t0 + j;
        if (m < n) is_first = false;
        else if (m > n && m < nxt) nxt = m;
      }
    }
    if (active) {
      next[n] = static_cast<int32_t>(nxt);
      first[n] = is_first ? 1 : 0;
    }
  }
}

// For each first occurrence n (grid.y) and column c (grid.x): dtable[id, c] += dout[m, c] for
// the chain m = n, next[n], ... in order, accumulated in a register and stored once. Blocks of
// other tokens skip (the test is uniform over the block).
__global__ void embedding_bwd_kernel(const int32_t* ids, const float* dout, float* dtable, const int32_t* next,
                                     const int32_t* first, int64_t N, int64_t D) {
  for (int64_t n = blockIdx.y; n < N; n += gridDim.y) {
    if (!first[n]) continue;
    float* dst = dtable + static_cast<int64_t>(ids[n]) * D;
    for (int64_t c = grid_index(); c < D; c += grid_stride()) {
      float acc = dst[c];
      for (int64_t m = n; m < N; m = next[m]) acc += dout[m * D + c];
      dst[c] = acc;
    }
  }
}

}  // namespace

void embedding_forward(const int32_t* ids, const float* table, float* out, int64_t N, int64_t V, int64_t D) {
  (void)V;
  if (N <= 0 || D <= 0) return;
  VLA_LAUNCH(embedding_fwd_kernel, row_grid(N, D, kThreads), kThreads, 0, ids, table, out, N, D);
  VLA_CUDA_CHECK(cudaGetLastError());
}

void embedding_backward(const int32_t* ids, const float* dout, float* dtable, int64_t N, int64_t V, int64_t D,
                        int32_t* scratch) {
  (void)V;
  if (N <= 0 || D <= 0) return;
  if (N >= INT32_MAX)
    fail(ErrorCode::kArgument, "cuda embedding_backward: ", N, " ids; at most ", INT32_MAX - 1, " supported");
  DeviceBuffer own;
  if (!scratch) {
    own = DeviceBuffer(static_cast<size_t>(embedding_backward_scratch_ints(N)) * sizeof(int32_t));
    scratch = own.as<int32_t>();
  }
  int32_t* next = scratch;
  int32_t* first = scratch + N;
  VLA_LAUNCH(embedding_links_kernel, blocks_for(N, kThreads), kThreads, 0, ids, next, first, N);
  VLA_CUDA_CHECK(cudaGetLastError());
  VLA_LAUNCH(embedding_bwd_kernel, row_grid(N, D, kThreads), kThreads, 0, ids, dout, dtable, next, first, N, D);
  VLA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace vla::VLA_CUDA_NS
