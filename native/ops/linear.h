// Linear layers and the general matrix product as ops, on ops/gemm.h. T is float (production)
// or double (float64 reference). Backward functions ACCUMULATE into their gradient outputs
// (beta = 1 in the underlying GEMMs), like every backward here; pass null to skip a gradient.
#pragma once

#include <cstdint>

namespace vla {

// linear: y = x W^T + b, the PyTorch layout (W holds out_features x in_features).
//   x: [M, K] (the caller flattens leading dims), w: [N, K], b: [N] or null, y: [M, N] (overwritten).
template <typename T>
void linear_forward(const T* x, const T* w, const T* b, T* y, int64_t M, int64_t K, int64_t N);

//   dy: [M, N];  dx: [M, K] += dy W;  dw: [N, K] += dy^T x;  db: [N] += sum over rows of dy.
// db is summed in double, one column per thread in row order: deterministic for any thread count.
template <typename T>
void linear_backward(const T* dy, const T* x, const T* w, T* dx, T* dw, T* db, int64_t M, int64_t K, int64_t N);

// The gradients of out[M, N] = alpha * op(a) * op(b) + beta * c (the "gemm" op; op and the stored
// shapes of a and b as in ops/gemm.h):  da += alpha * dL/d op(a) in a's stored layout, likewise
// db; dc: [M, N] += beta * dout.
template <typename T>
void gemm_op_backward(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, T beta, const T* a,
                      const T* b, const T* dout, T* da, T* db, T* dc);

}  // namespace vla
