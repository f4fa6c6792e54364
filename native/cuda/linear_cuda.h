// CUDA twins of native/ops/linear.h (float32, device pointers, same shapes and conventions),
// built on cuda/gemm_cuda.h's gemm() and so on its backend (cuBLAS or the own kernel) and its
// process-wide math mode (set_gemm_math). Launched on the default stream.
//
// linear: y = x W^T + b, the PyTorch layout (W holds out_features x in_features).
//   x: [M, K] (leading dims flattened), w: [N, K], b: [N] or null, y: [M, N] (overwritten).
// Backward functions ACCUMULATE into their gradient outputs (beta = 1 in the GEMMs); null skips
// a gradient:
//   dy: [M, N];  dx: [M, K] += dy W;  dw: [N, K] += dy^T x;  db: [N] += column sums of dy.
// db is reduced in double in a fixed order (one column per thread over rows, then the partial
// rows of a block in order): deterministic, bitwise, for a given M and N.
#pragma once

#include "cuda/namespace.h"

#include <cstdint>

namespace vla::VLA_CUDA_NS {

void linear_forward(const float* x, const float* w, const float* b, float* y, int64_t M, int64_t K, int64_t N);

void linear_backward(const float* dy, const float* x, const float* w, float* dx, float* dw, float* db, int64_t M,
                     int64_t K, int64_t N);

// The gradients of out[M, N] = alpha * op(a) * op(b) + beta * c (ops/gemm.h's stored shapes, with
// minimal leading dimensions): da += alpha * dL/d op(a) in a's stored layout, likewise db;
// dc: [M, N] += beta * dout.
void gemm_op_backward(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, float beta,
                      const float* a, const float* b, const float* dout, float* da, float* db, float* dc);

}  // namespace vla::VLA_CUDA_NS
