// CUDA twin of native/ops/softmax.h (float32, device pointers, the same shapes, formulas and
// ACCUMULATE convention for the backward). Launched on the default stream.
//
//   x, y, dy, dx: [M, N]
//   y[r, j] = exp(x[r, j] - max_k x[r, k]) / sum_k exp(x[r, k] - max_k x[r, k])
//   dx += y * (dy - sum_j dy_j y_j)
//
// Rows of at most 512 entries get one warp each (8 rows per 256-thread block), wider rows one
// 256-thread block each; reductions run in a fixed order (deterministic). N = 0 does nothing.
// Entries far below their row max underflow to 0 here (the CPU float path gives ~1e-38 / sum).
#pragma once

#include "cuda/namespace.h"

#include <cstdint>

namespace vla::VLA_CUDA_NS {

void softmax_forward(const float* x, float* y, int64_t M, int64_t N);
void softmax_backward(const float* y, const float* dy, float* dx, int64_t M, int64_t N);

}  // namespace vla::VLA_CUDA_NS
