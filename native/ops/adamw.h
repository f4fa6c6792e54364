// AdamW (Loshchilov & Hutter: Adam with decoupled weight decay), one step over a flat buffer.
// T is float (production) or double.
//
//   params, grads, m, v: [n]; params, m and v are updated in place.
//   mask: uint8 [n] or null; mask[i] == 0 freezes element i (params[i], m[i], v[i] untouched).
//   m <- beta1 m + (1 - beta1) g;   v <- beta2 v + (1 - beta2) g^2
//   mhat = m / (1 - beta1^step);    vhat = v / (1 - beta2^step)      (step is 1-based)
//   p <- p - lr * (mhat / (sqrt(vhat) + eps) + weight_decay * p)
//
// Gradients are not checked here: the registered op rejects non-finite grads before touching
// anything, and the model checks its gradient buffer once per step.
#pragma once

#include <cstdint>

namespace vla {

struct AdamWHyper {
  double lr = 0;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.01;
  int64_t step = 1;  // 1-based step number, for bias correction
};

// Fails with kValue when a hyperparameter is out of range (lr < 0, beta outside [0, 1), eps <= 0,
// weight_decay < 0, step < 1, or any is not finite); `what` prefixes the message.
void validate_adamw_hyper(const AdamWHyper& h, const char* what);

template <typename T>
void adamw_step(T* params, const T* grads, T* m, T* v, const uint8_t* mask, int64_t n, const AdamWHyper& hyper);

}  // namespace vla
