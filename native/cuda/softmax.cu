#include "cuda/dialect.h"

#include <cmath>

#include "cuda/cuda_check.h"
#include "cuda/softmax_cuda.h"

namespace vla::VLA_CUDA_NS {

namespace {

constexpr int kThreads = 256;
constexpr int64_t kWarpRowMaxN = 512;    // rows up to this width: one warp per row
constexpr int64_t kMaxBlocks = 1 << 16;  // grid-stride loops cover the rest

struct SumOp {
  __device__ float operator()(float a, float b) const { return a + b; }
};
struct MaxOp {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

template <typename Op>
__device__ inline float warp_reduce(float v, Op op) {
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Reduction over a row's thread group: the warp, or the whole block (blockDim.x a multiple of 32;
// every thread of the block calls it; red is 32 floats of shared memory). Every thread gets the
// same result, combined in a fixed order.
template <bool kBlock, typename Op>
__device__ inline float group_reduce(float v, float identity, Op op, float* red) {
  v = warp_reduce(v, op);
  if (kBlock) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) red[warp] = v;
    __syncthreads();
    v = lane < static_cast<int>(blockDim.x >> 5) ? red[lane] : identity;
    v = warp_reduce(v, op);
    __syncthreads();  // red may be reused
  }
  return v;
}

// The rows a thread group handles: kBlock, one row per block; else one row per warp.
template <bool kBlock>
struct RowGroup {
  int lane, width;
  int64_t first, stride;
  __device__ RowGroup() {
    if (kBlock) {
      lane = threadIdx.x;
      width = blockDim.x;
      first = blockIdx.x;
      stride = gridDim.x;
    } else {
      const int64_t warps = blockDim.x >> 5;
      lane = threadIdx.x & 31;
      width = 32;
      first = blockIdx.x * warps + (threadIdx.x >> 5);
      stride = gridDim.x * warps;
    }
  }
};

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
    const float inv = 1.0f / group_reduce<kBlock>(acc, 0.0f, SumOp(), red);
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
    const float inner = group_reduce<kBlock>(acc, 0.0f, SumOp(), red);
    float* dxr = dx + r * N;
    for (int64_t j = g.lane; j < N; j += g.width) dxr[j] += yr[j] * (dyr[j] - inner);
  }
}

inline unsigned row_blocks(int64_t M, int64_t N) {
  const int64_t rows_per_block = N <= kWarpRowMaxN ? kThreads / 32 : 1;
  const int64_t b = (M + rows_per_block - 1) / rows_per_block;
  return static_cast<unsigned>(b < kMaxBlocks ? b : kMaxBlocks);
}

}  // namespace

void softmax_forward(const float* x, float* y, int64_t M, int64_t N) {
  if (M <= 0 || N <= 0) return;
  auto k = N <= kWarpRowMaxN ? softmax_fwd_kernel<false> : softmax_fwd_kernel<true>;
  VLA_LAUNCH(k, row_blocks(M, N), kThreads, 0, x, y, M, N);
  VLA_CUDA_CHECK(cudaGetLastError());
}

void softmax_backward(const float* y, const float* dy, float* dx, int64_t M, int64_t N) {
  if (M <= 0 || N <= 0) return;
  auto k = N <= kWarpRowMaxN ? softmax_bwd_kernel<false> : softmax_bwd_kernel<true>;
  VLA_LAUNCH(k, row_blocks(M, N), kThreads, 0, y, dy, dx, M, N);
  VLA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace vla::VLA_CUDA_NS
