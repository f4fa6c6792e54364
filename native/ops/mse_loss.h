// Weighted mean squared error over a batch. T is float (production) or double (float64 reference).
//
//   pred, target: [B, J]  (an op's non-batch dimensions flattened into J);  weights: [B] or null (all 1)
//   per_sample[b] = (1/J) sum_j (pred[b, j] - target[b, j])^2        (unweighted)
//   loss          = (1/B) sum_b weights[b] * per_sample[b]              (a scalar)
//
// Sums accumulate in double whatever T, so a float32 loss over large batches does not drift.
// B >= 1 and J >= 1 (a mean over nothing is undefined); the registered op checks this.
//
// The backward takes upstream gradients of both outputs (dloss a scalar, dper_sample [B] or null
// for zero) and ACCUMULATES, with g[b, j] = (dloss * weights[b] / B + dper_sample[b]) * 2 (pred - target) / J:
//   dpred += g,  dtarget -= g   (either may be null when not needed)
#pragma once

#include <cstdint>

namespace vla {

template <typename T>
void mse_loss_forward(const T* pred, const T* target, const T* weights, T* loss, T* per_sample, int64_t B, int64_t J);

template <typename T>
void mse_loss_backward(const T* pred, const T* target, const T* weights, T dloss, const T* dper_sample, T* dpred,
                       T* dtarget, int64_t B, int64_t J);

}  // namespace vla
