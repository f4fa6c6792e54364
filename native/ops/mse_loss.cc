#include "ops/mse_loss.h"

#include "ops/weighted_mse.h"

namespace vla {

template <typename T>
void mse_loss_forward(const T* pred, const T* target, const T* weights, T* loss, T* per_sample, int64_t B,
                      int64_t J) {
  auto residual = [=](int64_t b, int64_t j) { return pred[b * J + j] - target[b * J + j]; };
  weighted_mse_forward<T>(residual, weights, loss, per_sample, B, J);
}

template <typename T>
void mse_loss_backward(const T* pred, const T* target, const T* weights, T dloss, const T* dper_sample, T* dpred,
                       T* dtarget, int64_t B, int64_t J) {
  auto residual = [=](int64_t b, int64_t j) { return pred[b * J + j] - target[b * J + j]; };
  auto scatter = [=](int64_t b, int64_t j, T g) {
    if (dpred) dpred[b * J + j] += g;
    if (dtarget) dtarget[b * J + j] -= g;
  };
  weighted_mse_backward<T>(residual, weights, dloss, dper_sample, scatter, B, J);
}

#define VLA_INSTANTIATE(T)                                                                          \
  template void mse_loss_forward<T>(const T*, const T*, const T*, T*, T*, int64_t, int64_t); \
  template void mse_loss_backward<T>(const T*, const T*, const T*, T, const T*, T*, T*, int64_t, int64_t);
VLA_INSTANTIATE(float)
VLA_INSTANTIATE(double)
#undef VLA_INSTANTIATE

}  // namespace vla
