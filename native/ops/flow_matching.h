// Flow matching for the action expert, openpi conventions. T is float (production) or double.
//
// Time t = 1 is pure noise and t = 0 the data: with noise eps and ground-truth actions a,
//   x_t = t * eps + (1 - t) * a          (flow_interpolate: the noisy actions fed to the model)
//   u   = d x_t / d t = eps - a           (the target velocity field)
// and the model's predicted field v is trained with the weighted MSE of mse_loss.h against u:
//   per_sample[b] = (1/J) sum_j (v - u)^2[b, j],  loss = (1/B) sum_b weights[b] per_sample[b]
//
//   v, eps, actions, x_t: [B, J]  (non-batch dimensions flattened);  t: [B];  weights: [B] or null (all 1)
// B >= 1 and J >= 1 for the loss (checked by the registered op).
//
// Backward functions ACCUMULATE into their gradient outputs; any of them may be null when not
// needed (and dper_sample null means zero). For the loss, with
// g[b, j] = (dloss * weights[b] / B + dper_sample[b]) * 2 (v - u)[b, j] / J:
//   dv += g,  deps -= g,  dactions += g
// For the interpolation: deps += t dx_t,  dactions += (1 - t) dx_t,  dt[b] += sum_j dx_t (eps - a).
#pragma once

#include <cstdint>

namespace vla {

template <typename T>
void flow_matching_loss_forward(const T* v, const T* eps, const T* actions, const T* weights, T* loss,
                                T* per_sample, int64_t B, int64_t J);

template <typename T>
void flow_matching_loss_backward(const T* v, const T* eps, const T* actions, const T* weights, T dloss,
                                 const T* dper_sample, T* dv, T* deps, T* dactions, int64_t B, int64_t J);

template <typename T>
void flow_interpolate_forward(const T* eps, const T* actions, const T* t, T* x_t, int64_t B, int64_t J);

template <typename T>
void flow_interpolate_backward(const T* eps, const T* actions, const T* t, const T* dx_t, T* deps, T* dactions,
                               T* dt, int64_t B, int64_t J);

}  // namespace vla
