// A CPU emulator for vla-ttt's CUDA kernels, so their logic is checked against the CPU
// reference on every machine, GPU or not (CI has none). The same .cu source is compiled by nvcc
// for the device and, with VLA_CUDA_EMULATION defined, by the host compiler against this header
// (namespace vla::cuda_emu instead of vla::cuda; see cuda/dialect.h).
//
// How it runs a launch: blocks one after another; within a block every CUDA thread is a fiber
// (ucontext) on the calling OS thread, run round-robin until it exits or reaches a barrier.
// __syncthreads releases when every thread of the block waits there; warp shuffles and
// __syncwarp release when every lane of the warp waits, and the scheduler moves the shuffled
// values between lanes at that moment. So shared memory (`__shared__` becomes a static: one
// block at a time), barriers and warp exchanges behave as on the device for correctly
// synchronized code, and the mistakes it can see fail loudly instead of passing by luck:
//   - a barrier that some threads of the block reach after others exited, or a deadlock;
//   - a shuffle from a lane outside the block;
//   - launch shapes the device rejects (more than 1024 threads, dynamic shared memory above
//     48 KiB, empty grid), reported through cudaGetLastError as on the device;
//   - reads of device memory never written: cudaMalloc fills new memory with 0xFF bytes (NaN
//     as float), so a kernel that reads uninitialized memory shows NaN in a parity test.
// Atomics are plain read-modify-writes: fibers switch only at barriers. Not emulated: data races
// between threads without a barrier (every interleaving here is one valid schedule), memory
// out of bounds (run the tests under ASan for that), timing, streams (all work is synchronous).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>

namespace vla::emu {

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
};

// The calling fiber's coordinates (valid inside a kernel only).
const dim3& thread_idx();
const dim3& block_idx();
const dim3& block_dim();
const dim3& grid_dim();
void* dynamic_shared();

void sync_threads();
void sync_warp();
// Sends `bits` to the warp and returns the bits that lane `src_lane` of the same warp sent.
uint64_t warp_exchange(uint64_t bits, int src_lane);
int lane_id();

// Runs `body` once per CUDA thread of grid x block. Shapes the device would reject set the
// launch error (cudaGetLastError) and run nothing; a failure inside the kernel (deadlock, a
// barrier after an exit, an exception) throws vla::Error naming the kernel.
void launch(const char* kernel, dim3 grid, dim3 block, size_t shared_bytes, const std::function<void()>& body);

template <typename T>
T shuffle_from(T v, int src_lane) {
  static_assert(sizeof(T) <= sizeof(uint64_t), "shuffles move at most 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  bits = warp_exchange(bits, src_lane);
  T out;
  std::memcpy(&out, &bits, sizeof(T));
  return out;
}
template <typename T>
T shfl_xor(T v, int lane_mask, int width = 32) {
  int lane = lane_id();
  int src = lane ^ lane_mask;
  return shuffle_from(v, (src / width == lane / width) ? src : lane);
}
template <typename T>
T shfl_down(T v, unsigned delta, int width = 32) {
  int lane = lane_id();
  int src = lane + static_cast<int>(delta);
  return shuffle_from(v, (lane % width) + static_cast<int>(delta) < width ? src : lane);
}
template <typename T>
T shfl_up(T v, unsigned delta, int width = 32) {
  int lane = lane_id();
  return shuffle_from(v, (lane % width) >= static_cast<int>(delta) ? lane - static_cast<int>(delta) : lane);
}
template <typename T>
T shfl(T v, int src, int width = 32) {
  int lane = lane_id();
  return shuffle_from(v, (lane / width) * width + ((src % width) + width) % width);
}

// The runtime API subset the kernels' host wrappers use. Memory is host memory.
enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInsufficientDriver = 35,
  cudaErrorNoDevice = 100,
};
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};
using cudaStream_t = struct EmulatedStream*;

cudaError_t cudaMalloc(void** ptr, size_t bytes);
template <typename T>
cudaError_t cudaMalloc(T** ptr, size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(ptr), bytes);
}
cudaError_t cudaFree(void* ptr);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream = nullptr);
cudaError_t cudaMemset(void* ptr, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void* ptr, int value, size_t bytes, cudaStream_t stream = nullptr);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaGetLastError();
const char* cudaGetErrorString(cudaError_t err);

// Device atomics: fibers switch only at barriers, so a plain read-modify-write is atomic here.
template <typename T>
T atomicAdd(T* address, T value) {
  T old = *address;
  *address = old + value;
  return old;
}
template <typename T>
T atomicMax(T* address, T value) {
  T old = *address;
  if (value > old) *address = value;
  return old;
}

// (__expf and __logf: glibc declares them already, with the same meaning.)
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float __fdividef(float a, float b) { return a / b; }
template <typename T>
T __ldg(const T* p) {
  return *p;
}
inline void __threadfence() {}

}  // namespace vla::emu

// Kernel sources see the CUDA names (global scope, as with cuda_runtime.h).
using vla::emu::__fdividef;
using vla::emu::__ldg;
using vla::emu::__threadfence;
using vla::emu::atomicAdd;
using vla::emu::atomicMax;
using vla::emu::cudaDeviceSynchronize;
using vla::emu::cudaError_t;
using vla::emu::cudaFree;
using vla::emu::cudaGetErrorString;
using vla::emu::cudaGetLastError;
using vla::emu::cudaMalloc;
using vla::emu::cudaMemcpy;
using vla::emu::cudaMemcpyAsync;
using vla::emu::cudaMemcpyKind;
using vla::emu::cudaMemset;
using vla::emu::cudaMemsetAsync;
using vla::emu::cudaStream_t;
using vla::emu::cudaStreamSynchronize;
using vla::emu::dim3;
using vla::emu::rsqrt;
using vla::emu::rsqrtf;
using vla::emu::cudaErrorInsufficientDriver;
using vla::emu::cudaErrorInvalidConfiguration;
using vla::emu::cudaErrorInvalidValue;
using vla::emu::cudaErrorMemoryAllocation;
using vla::emu::cudaErrorNoDevice;
using vla::emu::cudaMemcpyDefault;
using vla::emu::cudaMemcpyDeviceToDevice;
using vla::emu::cudaMemcpyDeviceToHost;
using vla::emu::cudaMemcpyHostToDevice;
using vla::emu::cudaMemcpyHostToHost;
using vla::emu::cudaSuccess;

// `#pragma unroll` is a hint nvcc understands and the host compiler need not.
#pragma GCC diagnostic ignored "-Wunknown-pragmas"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __constant__
#define __launch_bounds__(...)
// One block runs at a time, so a function-scope static is exactly one block's shared memory.
#define __shared__ static
#define threadIdx (::vla::emu::thread_idx())
#define blockIdx (::vla::emu::block_idx())
#define blockDim (::vla::emu::block_dim())
#define gridDim (::vla::emu::grid_dim())
#define warpSize 32
#define __syncthreads() ::vla::emu::sync_threads()
#define __syncwarp(...) ::vla::emu::sync_warp()
#define __shfl_xor_sync(mask, ...) ::vla::emu::shfl_xor(__VA_ARGS__)
#define __shfl_down_sync(mask, ...) ::vla::emu::shfl_down(__VA_ARGS__)
#define __shfl_up_sync(mask, ...) ::vla::emu::shfl_up(__VA_ARGS__)
#define __shfl_sync(mask, ...) ::vla::emu::shfl(__VA_ARGS__)
