// Reductions and scalings of the training step on the device.
//
//   sum_squares:     returns sum_i x[i]^2 over [0, n) in double, summed in a fixed order
//                    (per-block partial sums, then the blocks in order): the same value on
//                    every run. Infinite or NaN when any x[i] is not finite.
//   scale_values:    x[i] *= a
//   sum_batch_rows:  dst[i] += sum_b src[b * src_stride + i] for i in [0, n), b in order
#pragma once

#include <cstdint>

#include "cuda/namespace.h"

namespace vla::VLA_CUDA_NS {

double sum_squares(const float* x, int64_t n);
void scale_values(float* x, float a, int64_t n);
void sum_batch_rows(const float* src, int64_t src_stride, float* dst, int64_t B, int64_t n);

}  // namespace vla::VLA_CUDA_NS
