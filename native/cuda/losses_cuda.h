// CUDA twins of native/ops/mse_loss.h and native/ops/flow_matching.h (float32, device pointers,
// the same shapes, formulas and ACCUMULATE convention for the backwards). Launched on the
// default stream.
//
//   pred, target, v, eps, actions, x_t: [B, J];  t, weights, per_sample, dper_sample, dt: [B]
//   weights null = all 1; dper_sample null = zero; any gradient output may be null (skipped).
//   per_sample[b] = (1/J) sum_j r[b, j]^2,  loss = (1/B) sum_b weights[b] per_sample[b]
//     with r = pred - target (mse) or v - (eps - actions) (flow matching)
//   backward: g = (dloss * weights[b] / B + dper_sample[b]) * 2 r / J;
//     mse: dpred += g, dtarget -= g;  flow: dv += g, deps -= g, dactions += g
//   flow_interpolate: x_t = t eps + (1 - t) actions;
//     backward: deps += t dx_t, dactions += (1 - t) dx_t, dt[b] += sum_j dx_t (eps - actions)
//
// `loss` is one float on the device; `dloss` a host scalar. As on the CPU, the forward sums in
// double (one block per sample, then one block over the batch, fixed order: deterministic);
// dt sums in float per block (fixed order). B >= 1 and J >= 1 for the losses.
#pragma once

#include "cuda/namespace.h"

#include <cstdint>

namespace vla::VLA_CUDA_NS {

void mse_loss_forward(const float* pred, const float* target, const float* weights, float* loss, float* per_sample,
                      int64_t B, int64_t J);
void mse_loss_backward(const float* pred, const float* target, const float* weights, float dloss,
                       const float* dper_sample, float* dpred, float* dtarget, int64_t B, int64_t J);

void flow_matching_loss_forward(const float* v, const float* eps, const float* actions, const float* weights,
                                float* loss, float* per_sample, int64_t B, int64_t J);
void flow_matching_loss_backward(const float* v, const float* eps, const float* actions, const float* weights,
                                 float dloss, const float* dper_sample, float* dv, float* deps, float* dactions,
                                 int64_t B, int64_t J);

void flow_interpolate_forward(const float* eps, const float* actions, const float* t, float* x_t, int64_t B,
                              int64_t J);
void flow_interpolate_backward(const float* eps, const float* actions, const float* t, const float* dx_t,
                               float* deps, float* dactions, float* dt, int64_t B, int64_t J);

}  // namespace vla::VLA_CUDA_NS
