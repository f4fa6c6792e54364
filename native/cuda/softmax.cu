#include "cuda/dialect.h"

#include <cmath>

#include "cuda/cuda_check.h"
#include "cuda/kernel_utils.h"
#include "cuda/softmax_cuda.h"

namespace vla::VLA_CUDA_NS {

namespace {

constexpr int kThreads = 256;

template <bool kBlock>
__global__ void softmax_fwd_kernel(const float* x, float* y, int64_t M, int64_t N) {
  __shared__ float red[32];
  const RowGroup<kBlock> g;
  for (int64_t r = g.first; r < M; r += g.stride) {  // uniform over the group
    const float* xr = x + r * N;
    float* yr = y + r * N;
    float mx = -INFINITY;
    for (int64_t j = g.lane; j < N; j += g.width) mx = fmaxf(mx, xr[j]);
    mx = group_reduce<kBlock>(mx, -INFINITY, MaxOp(), red);
    float acc = 0.0f;
    for (int64_t j = g.lane; j < N; j += g.width) acc += expf(xr[j] - mx);
    const float inv = 1.0f / group_sum<kBlock>(acc, red);
    for (int64_t j = g.lane; j < N; j += g.width) yr[j] = expf(xr[j] - mx) * inv;
  }
}

template <bool kBlock>
__global__ void softmax_bwd_kernel(const float* y, const float* dy, float* dx, int64_t M, int64_t N) {
  __shared__ float red[32];
  const RowGroup<kBlock> g;
  for (int64_t r = g.first; r < M; r += g.stride) {
    const float* yr = y + r * N;
    const float* dyr = dy + r * N;
    float acc = 0.0f;
    for (int64_t j = g.lane; j < N; j += g.width) acc += dyr[j] * yr[j];
    const float inner = group_sum<kBlock>(acc, red);
    float* dxr = dx + r * N;
    for (int64_t j = g.lane; j < N; j += g.width) dxr[j] += yr[j] * (dyr[j] - inner);
  }
}

}  // namespace

void softmax_forward(const float* x, float* y, int64_t M, int64_t N) {
  if (M <= 0 || N <= 0) return;
  auto k = N <= kWarpRowMax ? softmax_fwd_kernel<false> : softmax_fwd_kernel<true>;
  VLA_LAUNCH(k, row_group_blocks(M, N, kThreads), kThreads, 0, x, y, M, N);
  VLA_CUDA_CHECK(cudaGetLastError());
}

void softmax_backward(const float* y, const float* dy, float* dx, int64_t M, int64_t N) {
  if (M <= 0 || N <= 0) return;
  auto k = N <= kWarpRowMax ? softmax_bwd_kernel<false> : softmax_bwd_kernel<true>;
  VLA_LAUNCH(k, row_group_blocks(M, N, kThreads), kThreads, 0, y, dy, dx, M, N);
  VLA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace vla::VLA_CUDA_NS
