// Rotary position embedding, "rotate half" convention (Gemma, pi0): dimension i is paired with
// i + D/2. T is float (production) or double (float64 reference).
//
//   x, y: [B, S, H, D]  (D even; S is the sequence length)
//   positions: int32 [B, S], or [S] shared by every batch row (positions_per_batch = false)
//   for i in [0, D/2):  angle = pos * theta^(-2i/D),  c = cos(angle), s = sin(angle)
//     y[..., i]       = x[..., i] c - x[..., i + D/2] s
//     y[..., i + D/2] = x[..., i + D/2] c + x[..., i] s
//
// Positions may be any int32, negative included (a rotation by a negative angle; useful for
// offsets relative to a reference token). Angles and their cos/sin are computed in double for
// both T, so float32 stays accurate at large positions; they are computed once per distinct
// position when the positions span a range no longer than their count (the usual 0..S-1).
// The backward rotates by the negative angle and ACCUMULATES into dx.
#pragma once

#include <cstdint>

namespace vla {

struct RopeShape {
  int64_t B = 0, S = 0, H = 0, D = 0;
  bool positions_per_batch = true;  // positions is [B, S] (true) or [S] (false)
};

template <typename T>
void rope_forward(const T* x, const int32_t* positions, double theta, T* y, const RopeShape& s);

template <typename T>
void rope_backward(const T* dy, const int32_t* positions, double theta, T* dx, const RopeShape& s);

}  // namespace vla
