#include <vector>

#include "cuda/cuda_check.h"
#include "cuda/device_buffer.h"
#include "cuda/dialect.h"
#include "cuda/kernel_utils.h"
#include "cuda/reduce_cuda.h"

namespace vla::VLA_CUDA_NS {

namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxPartials = 1024;  // partial sums of sum_squares, added on the host

// Block b sums the squares of its grid-stride share into partial[b] (threads in order within
// the block through a shared-memory tree: a fixed order for a given n and grid).
__global__ void sum_squares_kernel(const float* x, int64_t n, double* partial) {
  __shared__ double s[kThreads];
  double acc = 0;
  for (int64_t i = grid_index(); i < n; i += grid_stride()) {
    const double v = x[i];
    acc += v * v;
  }
  s[threadIdx.x] = acc;
  __syncthreads();
  for (unsigned stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) s[threadIdx.x] += s[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[blockIdx.x] = s[0];
}

__global__ void scale_kernel(float* x, float a, int64_t n) {
  for (int64_t i = grid_index(); i < n; i += grid_stride()) x[i] *= a;
}

__global__ void sum_batch_rows_kernel(const float* src, int64_t src_stride, float* dst, int64_t B, int64_t n) {
  for (int64_t i = grid_index(); i < n; i += grid_stride()) {
    float s = 0.0f;
    for (int64_t b = 0; b < B; ++b) s += src[b * src_stride + i];
    dst[i] += s;
  }
}

}  // namespace

double sum_squares(const float* x, int64_t n) {
  if (n <= 0) return 0.0;
  const unsigned blocks = blocks_for(n, kThreads, kMaxPartials);
  // One buffer of partial sums per host thread, kept: a training step calls this every time.
  thread_local DeviceBuffer partial(kMaxPartials * sizeof(double));
  VLA_LAUNCH(sum_squares_kernel, blocks, kThreads, 0, x, n, partial.as<double>());
  VLA_CUDA_CHECK(cudaGetLastError());
  std::vector<double> host(blocks);
  partial.download(host.data(), host.size() * sizeof(double));
  double total = 0;
  for (double v : host) total += v;
  return total;
}

void scale_values(float* x, float a, int64_t n) {
  if (n <= 0) return;
  VLA_LAUNCH_OVER(scale_kernel, n, kThreads, x, a, n);
}

void sum_batch_rows(const float* src, int64_t src_stride, float* dst, int64_t B, int64_t n) {
  if (n <= 0 || B <= 0) return;
  VLA_LAUNCH_OVER(sum_batch_rows_kernel, n, kThreads, src, src_stride, dst, B, n);
}

}  // namespace vla::VLA_CUDA_NS
