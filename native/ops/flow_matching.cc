#include "ops/flow_matching.h"

#include <algorithm>

#include "core/thread_pool.h"
#include "ops/weighted_mse.h"

namespace vla {

template <typename T>
void flow_matching_loss_forward(const T* v, const T* eps, const T* actions, const T* weights, T* loss,
                                T* per_sample, int64_t B, int64_t J) {
  auto residual = [=](int64_t b, int64_t j) {
    const int64_t i = b * J + j;
    return v[i] - (eps[i] - actions[i]);
  };
  weighted_mse_forward<T>(residual, weights, loss, per_sample, B, J);
}

template <typename T>
void flow_matching_loss_backward(const T* v, const T* eps, const T* actions, const T* weights, T dloss,
                                 const T* dper_sample, T* dv, T* deps, T* dactions, int64_t B, int64_t J) {
  auto residual = [=](int64_t b, int64_t j) {
    const int64_t i = b * J + j;
    return v[i] - (eps[i] - actions[i]);
  };
  auto scatter = [=](int64_t b, int64_t j, T g) {
    const int64_t i = b * J + j;
    if (dv) dv[i] += g;
    if (deps) deps[i] -= g;
    if (dactions) dactions[i] += g;
  };
  weighted_mse_backward<T>(residual, weights, dloss, dper_sample, scatter, B, J);
}

template <typename T>
void flow_interpolate_forward(const T* eps, const T* actions, const T* t, T* x_t, int64_t B, int64_t J) {
  parallel_for(B, std::max<int64_t>(1, kLossGrain / std::max<int64_t>(J, 1)), [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const T tb = t[b], sb = T(1) - t[b];
      for (int64_t j = b * J; j < (b + 1) * J; ++j) x_t[j] = tb * eps[j] + sb * actions[j];
    }
  });
}

template <typename T>
void flow_interpolate_backward(const T* eps, const T* actions, const T* t, const T* dx_t, T* deps, T* dactions,
                               T* dt, int64_t B, int64_t J) {
  parallel_for(B, std::max<int64_t>(1, kLossGrain / std::max<int64_t>(J, 1)), [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const T tb = t[b], sb = T(1) - t[b];
      T dtb = 0;
      for (int64_t j = b * J; j < (b + 1) * J; ++j) {
        if (deps) deps[j] += tb * dx_t[j];
        if (dactions) dactions[j] += sb * dx_t[j];
        dtb += dx_t[j] * (eps[j] - actions[j]);
      }
      if (dt) dt[b] += dtb;
    }
  });
}

#define VLA_INSTANTIATE(T)                                                                                    \
  template void flow_matching_loss_forward<T>(const T*, const T*, const T*, const T*, T*, T*, int64_t,        \
                                              int64_t);                                                      \
  template void flow_matching_loss_backward<T>(const T*, const T*, const T*, const T*, T, const T*, T*, T*, T*, \
                                               int64_t, int64_t);                                            \
  template void flow_interpolate_forward<T>(const T*, const T*, const T*, T*, int64_t, int64_t);              \
  template void flow_interpolate_backward<T>(const T*, const T*, const T*, const T*, T*, T*, T*, int64_t, int64_t);
VLA_INSTANTIATE(float)
VLA_INSTANTIATE(double)
#undef VLA_INSTANTIATE

}  // namespace vla
