// RMSNorm over the last axis. T is float (production) or double (float64 reference).
//
//   x, y: [M, C]  (an op's leading dimensions flattened into M rows);  w: [C];  rstd: [M]
//   rstd[r] = 1 / sqrt(mean_c x[r, c]^2 + eps)
//   y[r, c] = x[r, c] * rstd[r] * w[c]
//
// The forward writes y and rstd (saved for the backward). The backward ACCUMULATES:
//   dx[r, c] += rstd[r] * w[c] dy[r, c] - x[r, c] * rstd[r]^3 / C * sum_k w[k] dy[r, k] x[r, k]
//   dw[c]    += sum_r dy[r, c] x[r, c] rstd[r]
// dw sums rows in fixed chunks, then the chunks in order: the result does not depend on the
// thread count.
#pragma once

#include <cstdint>

namespace vla {

template <typename T>
void rmsnorm_forward(const T* x, const T* w, T eps, T* y, T* rstd, int64_t M, int64_t C);

template <typename T>
void rmsnorm_backward(const T* dy, const T* x, const T* w, const T* rstd, T* dx, T* dw, int64_t M, int64_t C);

}  // namespace vla
