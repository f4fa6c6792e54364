// Helpers shared by the kernel sources: device code and launch sizing, so for .cu files only
// (the *_cuda.h headers stay plain C++). Include it at file scope, after cuda/dialect.h.
//
//   grid sizing (host):   blocks_for, capped, row_grid, threads_for_row, row_group_blocks
//   grid-stride loops:    for (int64_t i = grid_index(); i < n; i += grid_stride())
//   reductions (device):  warp_reduce / warp_sum (xor butterflies: every lane gets the result),
//                         group_reduce / group_sum / block_sum over a RowGroup's threads
//
// Reductions combine in a fixed order (no atomics), so results are bitwise deterministic for a
// given launch shape.
#pragma once

#include "cuda/dialect.h"

#include <cstdint>

namespace vla::VLA_CUDA_NS {

// ---- Grid sizing (host) ----

// Cap of gridDim.x for grid-stride kernels: the loops cover the rest, and 2^16 blocks fill any
// current device many times over.
constexpr int64_t kMaxBlocks = 1 << 16;
// The device limit of gridDim.y (and z).
constexpr int64_t kMaxGridY = 65535;
// Row ops: rows up to this many elements get one warp each, longer ones one block (RowGroup).
constexpr int64_t kWarpRowMax = 512;

// min(n, cap) as a grid dimension (n >= 0).
inline unsigned capped(int64_t n, int64_t cap) { return static_cast<unsigned>(n < cap ? n : cap); }

// Blocks of `threads` threads covering n items, at most max_blocks (n >= 0).
inline unsigned blocks_for(int64_t n, int threads, int64_t max_blocks = kMaxBlocks) {
  return capped((n + threads - 1) / threads, max_blocks);
}

// A 2D grid over `rows` rows of n items: x covers a row in blocks of `threads`, y the rows
// (both capped: kernels grid-stride both ways, rows over blockIdx.y).
inline dim3 row_grid(int64_t rows, int64_t n, int threads, int64_t max_x = kMaxBlocks) {
  return dim3(blocks_for(n, threads, max_x), capped(rows, kMaxGridY));
}

// Threads for a block that spans a row of n items: n rounded up to a warp, at most max_threads
// (a multiple of 32), so short rows do not idle most of a block.
inline int threads_for_row(int64_t n, int max_threads) {
  const int64_t t = (n + 31) / 32 * 32;
  return static_cast<int>(t < max_threads ? t : max_threads);
}

// Blocks of `threads` for a RowGroup kernel over M rows of n elements: a warp per row when
// n <= kWarpRowMax (RowGroup<false>), else a block per row (RowGroup<true>).
inline unsigned row_group_blocks(int64_t M, int64_t n, int threads) {
  const int64_t rows_per_block = n <= kWarpRowMax ? threads / 32 : 1;
  return capped((M + rows_per_block - 1) / rows_per_block, kMaxBlocks);
}

// ---- Grid-stride loops (device) ----

// This thread's index over the x grid, and the loop stride (int64: sizes may pass 2^31).
__device__ inline int64_t grid_index() { return blockIdx.x * int64_t(blockDim.x) + threadIdx.x; }
__device__ inline int64_t grid_stride() { return int64_t(gridDim.x) * blockDim.x; }

// ---- Reductions (device) ----

struct SumOp {
  template <typename T>
  __device__ T operator()(T a, T b) const {
    return a + b;
  }
};
struct MaxOp {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

// Reduction over the 32 lanes of the warp (all of them call it); every lane gets the result.
template <typename T, typename Op>
__device__ inline T warp_reduce(T v, Op op) {
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

template <typename T>
__device__ inline T warp_sum(T v) {
  return warp_reduce(v, SumOp());
}

// The rows a thread group handles in a row kernel: kBlock, one row per block (lane: threadIdx.x);
// else one row per warp. Loop `for (r = first; r < M; r += stride)`, columns lane, lane + width...
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

// Reduction over a row's thread group: the warp, or the whole block (blockDim.x a multiple of 32;
// every thread of the block calls it, so it must be reached uniformly; red is 32 T of shared
// memory). Every thread gets the same result, combined in a fixed order.
template <bool kBlock, typename T, typename Op>
__device__ inline T group_reduce(T v, T identity, Op op, T* red) {
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

template <bool kBlock, typename T>
__device__ inline T group_sum(T v, T* red) {
  return group_reduce<kBlock>(v, T(0), SumOp(), red);
}

// Sum over the whole block (see group_reduce).
template <typename T>
__device__ inline T block_sum(T v, T* red) {
  return group_sum<true>(v, red);
}

}  // namespace vla::VLA_CUDA_NS

// Launches a grid-stride kernel over n items with `threads` per block (nothing for n <= 0), and
// checks the launch. The file using it includes cuda/cuda_check.h.
#define VLA_LAUNCH_OVER(kernel, n, threads, ...)                                     \
  do {                                                                               \
    if ((n) > 0) {                                                                   \
      VLA_LAUNCH(kernel, ::vla::VLA_CUDA_NS::blocks_for((n), (threads)), (threads), 0, __VA_ARGS__); \
      VLA_CUDA_CHECK(cudaGetLastError());                                            \
    }                                                                                \
  } while (0)
