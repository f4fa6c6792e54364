// What every .cu file includes first: the CUDA runtime for nvcc, or the CPU emulator
// (cuda/emulation.h) when VLA_CUDA_EMULATION is defined, plus the one construct the two spell
// differently, a kernel launch:
//
//   VLA_LAUNCH(kernel, grid, block, shared_bytes, args...)   ==   kernel<<<grid, block, shared_bytes>>>(args...)
//
// `kernel` must be one token: for a template, take a pointer first
// (`auto k = my_kernel<float, 4>; VLA_LAUNCH(k, ...)`). Launches go on the default stream; check
// them with VLA_CUDA_CHECK(cudaGetLastError()) (cuda/cuda_check.h) as usual.
//
// Rules for kernel code, so it means the same on both: use the CUDA builtins (threadIdx,
// __syncthreads, __shfl_xor_sync with a full mask, atomicAdd, __shared__ arrays) and <cmath>
// float functions (expf, sqrtf, fmaxf, rsqrtf); no warp-synchronous code without __syncwarp
// or a shuffle; every thread of a block reaches every __syncthreads (exit only after the last).
#pragma once

#include "cuda/namespace.h"

#if defined(VLA_CUDA_EMULATION)
#include "cuda/emulation.h"
#define VLA_LAUNCH(kernel, grid, block, shared_bytes, ...) \
  ::vla::emu::launch(#kernel, (grid), (block), (shared_bytes), [&] { kernel(__VA_ARGS__); })
#else
#include <cuda_runtime.h>
#define VLA_LAUNCH(kernel, grid, block, shared_bytes, ...) kernel<<<(grid), (block), (shared_bytes)>>>(__VA_ARGS__)
#endif
