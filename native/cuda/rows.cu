#include "cuda/cuda_check.h"
#include "cuda/dialect.h"
#include "cuda/rows_cuda.h"

namespace vla::VLA_CUDA_NS {

namespace {

constexpr int kThreads = 256;

// Grid: x over the row's elements, y over b; both grid-stride, so any B and n fit.
__global__ void copy_strided_kernel(float* dst, int64_t dst_stride, const float* src, int64_t src_stride, int64_t B,
                                    int64_t n, bool accumulate) {
  for (int64_t b = blockIdx.y; b < B; b += gridDim.y)
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
      float v = src[b * src_stride + i];
      if (accumulate) dst[b * dst_stride + i] += v;
      else dst[b * dst_stride + i] = v;
    }
}

__global__ void fill_strided_kernel(float* dst, int64_t stride, int64_t B, int64_t n, float value) {
  for (int64_t b = blockIdx.y; b < B; b += gridDim.y)
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
      dst[b * stride + i] = value;
}

dim3 grid_for(int64_t B, int64_t n) {
  int64_t x = (n + kThreads - 1) / kThreads;
  return dim3(static_cast<unsigned>(x < 4096 ? x : 4096), static_cast<unsigned>(B < 65535 ? B : 65535));
}

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
