// CUDA twin of native/ops/rmsnorm.h (float32, device pointers, the same shapes, formulas and
// ACCUMULATE convention for the backward). Launched on the default stream.
//
//   x, y, dy, dx: [M, C];  w, dw: [C];  rstd: [M]
//   rstd[r] = 1 / sqrt(mean_c x[r, c]^2 + eps);  y = x * rstd * w
//   dx += rstd w dy - x rstd^3 / C sum_k w dy x;   dw += sum_r dy x rstd
//
// Rows of at most 512 columns get one warp each (8 rows per 256-thread block), wider rows one
// 256-thread block each; loads run along the contiguous C axis. dw is a column reduction that
// needs no scratch and no atomics: each block owns a tile of columns, its row lanes sum rows
// lane, lane + R, ... and then the lanes are added in order, so the result is deterministic for a
// given shape (not bitwise equal to the CPU's 32-row chunks).
#pragma once

#include "cuda/namespace.h"

#include <cstdint>

namespace vla::VLA_CUDA_NS {

void rmsnorm_forward(const float* x, const float* w, float eps, float* y, float* rstd, int64_t M, int64_t C);

void rmsnorm_backward(const float* dy, const float* x, const float* w, const float* rstd, float* dx, float* dw,
                      int64_t M, int64_t C);

}  // namespace vla::VLA_CUDA_NS
