#include "cuda/cuda_check.h"
#include "cuda/dialect.h"
#include "cuda/kernel_utils.h"
#include "cuda/rows_cuda.h"

namespace vla::VLA_CUDA_NS {

namespace {

constexpr int kThreads = 256;

// Grid: x over the row's elements, y over b; both grid-stride, so any B and n fit.
__global__ void copy_strided_kernel(float* dst, int64_t dst_stride, const float* src, int64_t src_stride, int64_t B,
                                    int64_t n, bool accumulate) {
  for (int64_t b = blockIdx.y; b < B; b += gridDim.y)
    for (int64_t i = grid_index(); i < n; i += grid_stride()) {
      float v = src[b * src_stride + i];
      if (accumulate) dst[b * dst_stride + i] += v;
      else dst[b * dst_stride + i] = v;
    }
}

__global__ void fill_strided_kernel(float* dst, int64_t stride, int64_t B, int64_t n, float value) {
  for (int64_t b = blockIdx.y; b < B; b += gridDim.y)
    for (int64_t i = grid_index(); i < n; i += grid_stride())
      dst[b * stride + i] = value;
}

dim3 grid_for(int64_t B, int64_t n) { return row_grid(B, n, kThreads, 4096); }

}  // namespace

void copy_strided(float* dst, int64_t dst_stride, const float* src, int64_t src_stride, int64_t B, int64_t n,
                  bool accumulate) {
  if (B <= 0 || n <= 0) return;
  VLA_LAUNCH(copy_strided_kernel, grid_for(B, n), kThreads, 0, dst, dst_stride, src, src_stride, B, n, accumulate);
  VLA_CUDA_CHECK(cudaGetLastError());
}

void fill_strided(float* dst, int64_t stride, int64_t B, int64_t n, float value) {
  if (B <= 0 || n <= 0) return;
  VLA_LAUNCH(fill_strided_kernel, grid_for(B, n), kThreads, 0, dst, stride, B, n, value);
  VLA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace vla::VLA_CUDA_NS
