// CUDA twin of native/ops/rope.h (float32, device pointers, the same shapes, "rotate half"
// convention and ACCUMULATE convention for the backward). Launched on the default stream.
//
//   x, y, dy, dx: [B, S, H, D] (D even);  positions: int32 [B, S] or [S] (s.positions_per_batch)
//   angle = pos * theta^(-2i/D) for i in [0, D/2);  y[i] = x[i] c - x[i+D/2] s;  y[i+D/2] = x[i+D/2] c + x[i] s
//   backward: dx += the rotation of dy by -angle
//
// One thread per (row (b, s), i) pair, consecutive i on consecutive threads, looping over the H
// heads (one cos/sin per pair, shared by the heads). The angle and its cos/sin are computed in
// double, as on the CPU (theta^(-2i/D) as exp2(i * -2 log2(theta) / D), the constant from the
// host), so float32 stays accurate at large positions; cos/sin are rounded to float as the CPU's
// table is. Any int32 position works, negative included.
#pragma once

#include "cuda/namespace.h"
#include "ops/rope.h"

#include <cstdint>

namespace vla::VLA_CUDA_NS {

void rope_forward(const float* x, const int32_t* positions, double theta, float* y, const RopeShape& s);
void rope_backward(const float* dy, const int32_t* positions, double theta, float* dx, const RopeShape& s);

}  // namespace vla::VLA_CUDA_NS
