// The CUDA emulator itself (cuda/emulation.h): barriers, shared memory, warp shuffles, block
// shapes, and the mistakes it must report instead of passing. Emulator-only: compiled to nothing
// in the device build (kernels for the device live in .cu files).
#include "tests/cuda/cuda_test_support.h"

#if defined(VLA_CUDA_EMULATION)
#include "cuda/cuda_check.h"
#include "cuda/dialect.h"

namespace vla::test {
namespace {

using gpu::testing::to_device;
using gpu::testing::to_host;

// Block sum through shared memory: out[block] = sum of in over the block's slice. Thread 0
// reads what the others wrote, so it is correct only if __syncthreads really waits.
__global__ void block_sum(const float* in, float* out) {
  __shared__ float partial[256];
  unsigned t = threadIdx.x;
  partial[t] = in[blockIdx.x * blockDim.x + t];
  __syncthreads();
  for (unsigned stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (t < stride) partial[t] += partial[t + stride];
    __syncthreads();
  }
  if (t == 0) out[blockIdx.x] = partial[0];
}

// Butterfly sum over each warp with __shfl_xor_sync; every lane ends with the warp's sum.
__global__ void warp_allreduce(const float* in, float* out) {
  unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
  float v = in[i];
  for (int m = 16; m > 0; m /= 2) v += __shfl_xor_sync(0xffffffffu, v, m);
  out[i] = v;
}

// Shift down by one lane within each warp (the last lane keeps its own value), and lane
// indices from a 2D block: linear id = x + y * blockDim.x.
__global__ void shift_down(const int* in, int* out) {
  unsigned i = (threadIdx.y * blockDim.x + threadIdx.x) + blockIdx.x * blockDim.x * blockDim.y;
  out[i] = __shfl_down_sync(0xffffffffu, in[i], 1);
}

__global__ void exits_before_barrier(float* out) {
  if (threadIdx.x == 3) return;
  __syncthreads();
  out[threadIdx.x] = 1;
}

__global__ void diverging_barriers(float* out) {
  if (threadIdx.x < 16) {  // half a warp shuffles, the other half waits for the block
    out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.0f, 1);
  } else {
    __syncthreads();
  }
}

__global__ void copy(const float* in, float* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = in[i];
}

VLA_TEST(cuda_emulator, shared_memory_and_barriers) {
  const int blocks = 5, threads = 256;
  std::vector<float> in(blocks * threads);
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<float>(i % 97);
  auto d_in = to_device(in);
  gpu::DeviceBuffer d_out(blocks * sizeof(float));
  VLA_LAUNCH(block_sum, blocks, threads, 0, d_in.as<float>(), d_out.as<float>());
  VLA_CUDA_CHECK(cudaGetLastError());
  auto out = to_host<float>(d_out, blocks);
  for (int b = 0; b < blocks; ++b) {
    double want = 0;
    for (int t = 0; t < threads; ++t) want += in[b * threads + t];
    VLA_EXPECT_NEAR(out[b], want, 1e-3);
  }
}

VLA_TEST(cuda_emulator, warp_shuffles) {
  const int n = 128;
  std::vector<float> in(n);
  for (int i = 0; i < n; ++i) in[i] = static_cast<float>(i);
  auto d_in = to_device(in);
  gpu::DeviceBuffer d_out(n * sizeof(float));
  VLA_LAUNCH(warp_allreduce, 1, n, 0, d_in.as<float>(), d_out.as<float>());
  auto out = to_host<float>(d_out, n);
  for (int i = 0; i < n; ++i) {
    int w = i / 32;
    float want = static_cast<float>(32 * 32 * w + 31 * 32 / 2);
    VLA_EXPECT(out[i] == want) << "lane " << i << ": " << out[i] << " vs " << want;
  }

  std::vector<int> ids(2 * 64);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int>(1000 + i);
  auto d_ids = to_device(ids);
  gpu::DeviceBuffer d_shift(ids.size() * sizeof(int));
  VLA_LAUNCH(shift_down, 2, dim3(16, 4), 0, d_ids.as<int>(), d_shift.as<int>());
  auto shifted = to_host<int>(d_shift, ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    int want = (i % 32 == 31) ? ids[i] : ids[i + 1];
    VLA_EXPECT(shifted[i] == want) << "thread " << i << ": " << shifted[i] << " vs " << want;
  }
}

VLA_TEST(cuda_emulator, reports_mistakes) {
  gpu::DeviceBuffer d_out(256 * sizeof(float));
  VLA_EXPECT_THROWS(VLA_LAUNCH(exits_before_barrier, 1, 64, 0, d_out.as<float>()), ErrorCode::kInternal,
                    "exited threads never reach");
  VLA_EXPECT_THROWS(VLA_LAUNCH(diverging_barriers, 1, 64, 0, d_out.as<float>()), ErrorCode::kInternal, "deadlock");

  // Shapes the device rejects run nothing and surface through cudaGetLastError.
  VLA_LAUNCH(copy, 1, 2048, 0, d_out.as<float>(), d_out.as<float>(), 1);
  VLA_EXPECT_THROWS(VLA_CUDA_CHECK(cudaGetLastError()), ErrorCode::kInternal, "invalid configuration");
  VLA_LAUNCH(copy, 1, 32, 64 * 1024, d_out.as<float>(), d_out.as<float>(), 1);
  VLA_EXPECT(cudaGetLastError() == cudaErrorInvalidConfiguration);
  VLA_EXPECT(cudaGetLastError() == cudaSuccess);

  // Memory never written reads as NaN, so a parity test catches a kernel that reads it.
  gpu::DeviceBuffer fresh(4 * sizeof(float));
  auto junk = to_host<float>(fresh, 4);
  for (float v : junk) VLA_EXPECT(std::isnan(v));
}

}  // namespace
}  // namespace vla::test
#endif
