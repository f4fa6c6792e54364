#include "cuda/dialect.h"

#include <cmath>

#include "cuda/adamw_cuda.h"
#include "cuda/cuda_check.h"
#include "cuda/kernel_utils.h"

namespace vla::VLA_CUDA_NS {

namespace {

constexpr int kThreads = 256;

struct AdamWConstants {
  float beta1, beta2, one_minus_beta1, one_minus_beta2, inv_bias1, inv_bias2, lr, decay, eps;
};

__global__ void adamw_kernel(float* params, const float* grads, float* m, float* v, const uint8_t* mask, int64_t n,
                             AdamWConstants k) {
  for (int64_t i = grid_index(); i < n; i += grid_stride()) {
    if (mask && mask[i] == 0) continue;
    const float g = grads[i];
    const float mi = k.beta1 * m[i] + k.one_minus_beta1 * g;
    const float vi = k.beta2 * v[i] + k.one_minus_beta2 * g * g;
    m[i] = mi;
    v[i] = vi;
    const float update = (mi * k.inv_bias1) / (sqrtf(vi * k.inv_bias2) + k.eps) + k.decay * params[i];
    params[i] -= k.lr * update;
  }
}

}  // namespace

void adamw_step(float* params, const float* grads, float* m, float* v, const uint8_t* mask, int64_t n,
                const AdamWHyper& h) {
  if (n <= 0) return;
  // As in ops/adamw.cc: the decay rates as float, everything else derived from those rounded
  // values in double, so the bias corrections match the moving averages the kernel computes.
  AdamWConstants k;
  k.beta1 = static_cast<float>(h.beta1);
  k.beta2 = static_cast<float>(h.beta2);
  k.one_minus_beta1 = static_cast<float>(1.0 - static_cast<double>(k.beta1));
  k.one_minus_beta2 = static_cast<float>(1.0 - static_cast<double>(k.beta2));
  const double steps = static_cast<double>(h.step);
  k.inv_bias1 = static_cast<float>(1.0 / (1.0 - std::pow(static_cast<double>(k.beta1), steps)));
  k.inv_bias2 = static_cast<float>(1.0 / (1.0 - std::pow(static_cast<double>(k.beta2), steps)));
  k.lr = static_cast<float>(h.lr);
  k.decay = static_cast<float>(h.weight_decay);
  k.eps = static_cast<float>(h.eps);
  VLA_LAUNCH(adamw_kernel, blocks_for(n, kThreads), kThreads, 0, params, grads, m, v, mask, n, k);
  VLA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace vla::VLA_CUDA_NS
