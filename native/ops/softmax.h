// Softmax over the last axis. T is float (production) or double (float64 reference).
//
//   x, y: [M, N]  (an op's leading dimensions flattened into M rows)
//   y[r, j] = exp(x[r, j] - max_k x[r, k]) / sum_k exp(x[r, k] - max_k x[r, k])
//
// Subtracting the row max keeps exp() from overflowing. N = 0 gives empty rows. Inputs must be
// finite (the registered op checks). In float32, entries more than ~87 below their row max get
// about 1.2e-38 / sum instead of underflowing to 0 (the vectorized exp clamps; vector_math.h).
// The backward needs only the saved output: dx = y * (dy - sum_j dy_j y_j). It ACCUMULATES
// into dx, like every backward in native/ops.
#pragma once

#include <cstdint>

namespace vla {

template <typename T> void softmax_forward(const T* x, T* y, int64_t M, int64_t N);
template <typename T> void softmax_backward(const T* y, const T* dy, T* dx, int64_t M, int64_t N);

}  // namespace vla
