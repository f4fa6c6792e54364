#include "ops/adamw.h"

#include <cmath>

#include "core/error.h"
#include "core/thread_pool.h"

namespace vla {

namespace {
constexpr int64_t kGrain = 1 << 14;  // elements per parallel chunk, at least
}  // namespace

void validate_adamw_hyper(const AdamWHyper& h, const char* what) {
  auto bad = [&](const char* name, double value, const char* expected) {
    fail(ErrorCode::kValue, what, ": ", name, " = ", value, " is out of range; expected ", expected);
  };
  if (!std::isfinite(h.lr) || h.lr < 0) bad("lr", h.lr, "a finite value >= 0");
  if (!(h.beta1 >= 0 && h.beta1 < 1)) bad("beta1", h.beta1, "[0, 1)");
  if (!(h.beta2 >= 0 && h.beta2 < 1)) bad("beta2", h.beta2, "[0, 1)");
  if (!std::isfinite(h.eps) || h.eps <= 0) bad("eps", h.eps, "a finite value > 0");
  if (!std::isfinite(h.weight_decay) || h.weight_decay < 0) bad("weight_decay", h.weight_decay, "a finite value >= 0");
  if (h.step < 1) bad("step", static_cast<double>(h.step), "an integer >= 1");
}

template <typename T>
void adamw_step(T* params, const T* grads, T* m, T* v, const uint8_t* mask, int64_t n, const AdamWHyper& h) {
  // The decay rates as T, and everything else derived from those rounded values in double: the
  // bias corrections 1 - beta^step then match the moving averages the loop really computes (with
  // 0.999 rounded to float, 1 - 0.999^step would be off by 1e-5 relative at early steps).
  const T beta1 = static_cast<T>(h.beta1), beta2 = static_cast<T>(h.beta2);
  const T one_minus_beta1 = static_cast<T>(1.0 - static_cast<double>(beta1));
  const T one_minus_beta2 = static_cast<T>(1.0 - static_cast<double>(beta2));
  const double steps = static_cast<double>(h.step);
  const T inv_bias1 = static_cast<T>(1.0 / (1.0 - std::pow(static_cast<double>(beta1), steps)));
  const T inv_bias2 = static_cast<T>(1.0 / (1.0 - std::pow(static_cast<double>(beta2), steps)));
  const T lr = static_cast<T>(h.lr), decay = static_cast<T>(h.weight_decay), eps = static_cast<T>(h.eps);
  parallel_for(n, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      if (mask && mask[i] == 0) continue;
      const T g = grads[i];
      const T mi = beta1 * m[i] + one_minus_beta1 * g;
      const T vi = beta2 * v[i] + one_minus_beta2 * g * g;
      m[i] = mi;
      v[i] = vi;
      const T update = (mi * inv_bias1) / (std::sqrt(vi * inv_bias2) + eps) + decay * params[i];
      params[i] -= lr * update;
    }
  });
}

#define VLA_INSTANTIATE(T) \
  template void adamw_step<T>(T*, const T*, T*, T*, const uint8_t*, int64_t, const AdamWHyper&);
VLA_INSTANTIATE(float)
VLA_INSTANTIATE(double)
#undef VLA_INSTANTIATE

}  // namespace vla
