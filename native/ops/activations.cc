#include "ops/activations.h"

#include <algorithm>
#include <cmath>

#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "ops/activation_kernels.h"
#include "ops/activation_simd.h"

namespace vla {

FloatActivationKernels activation_kernels_generic() {
  return {silu_forward_kernel<ScalarVec>, silu_backward_kernel<ScalarVec>, gelu_forward_kernel<ScalarVec>,
          gelu_backward_kernel<ScalarVec>, geglu_forward_kernel<ScalarVec>, geglu_backward_kernel<ScalarVec>};
}

namespace {

constexpr int64_t kGrain = 1 << 14;

// float: vectorized kernels for the active instruction set; double (the float64 reference):
// libm's exp and tanh, evaluated exactly as the formulas in activations.h are written.
FloatActivationKernels float_kernels() {
#if defined(__x86_64__) || defined(__i386__)
  if (active_isa() != Isa::kGeneric) return activation_kernels_avx2();
#endif
  return activation_kernels_generic();
}

inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

inline void gelu_tanh_and_grad(double x, double* value, double* grad) {
  const double k = 0.7978845608028654;  // sqrt(2/pi)
  const double c = 0.044715;
  double x2 = x * x;
  double th = std::tanh(k * (x + c * x2 * x));
  *value = 0.5 * x * (1.0 + th);
  *grad = 0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * k * (1.0 + 3.0 * c * x2);
}

int64_t row_grain(int64_t F) { return std::max<int64_t>(1, kGrain / std::max<int64_t>(F, 1)); }

}  // namespace

template <>
void silu_forward<float>(const float* x, float* y, int64_t n) {
  auto k = float_kernels();
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) { k.silu_forward(x + b, y + b, e - b); });
}
template <>
void silu_backward<float>(const float* dy, const float* x, float* dx, int64_t n) {
  auto k = float_kernels();
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) { k.silu_backward(dy + b, x + b, dx + b, e - b); });
}
template <>
void gelu_tanh_forward<float>(const float* x, float* y, int64_t n) {
  auto k = float_kernels();
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) { k.gelu_forward(x + b, y + b, e - b); });
}
template <>
void gelu_tanh_backward<float>(const float* dy, const float* x, float* dx, int64_t n) {
  auto k = float_kernels();
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) { k.gelu_backward(dy + b, x + b, dx + b, e - b); });
}
template <>
void geglu_forward<float>(const float* x, float* y, int64_t M, int64_t F) {
  auto k = float_kernels();
  parallel_for(M, row_grain(F), [&](int64_t b, int64_t e) { k.geglu_forward(x, y, b, e, F); });
}
template <>
void geglu_backward<float>(const float* dy, const float* x, float* dx, int64_t M, int64_t F) {
  auto k = float_kernels();
  parallel_for(M, row_grain(F), [&](int64_t b, int64_t e) { k.geglu_backward(dy, x, dx, b, e, F); });
}

template <>
void silu_forward<double>(const double* x, double* y, int64_t n) {
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = x[i] * sigmoid(x[i]);
  });
}
template <>
void silu_backward<double>(const double* dy, const double* x, double* dx, int64_t n) {
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      double s = sigmoid(x[i]);
      dx[i] += dy[i] * s * (1.0 + x[i] * (1.0 - s));
    }
  });
}
template <>
void gelu_tanh_forward<double>(const double* x, double* y, int64_t n) {
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      double v, g;
      gelu_tanh_and_grad(x[i], &v, &g);
      y[i] = v;
    }
  });
}
template <>
void gelu_tanh_backward<double>(const double* dy, const double* x, double* dx, int64_t n) {
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      double v, g;
      gelu_tanh_and_grad(x[i], &v, &g);
      dx[i] += dy[i] * g;
    }
  });
}
template <>
void geglu_forward<double>(const double* x, double* y, int64_t M, int64_t F) {
  parallel_for(M, row_grain(F), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      for (int64_t j = 0; j < F; ++j) {
        double v, g;
        gelu_tanh_and_grad(x[r * 2 * F + j], &v, &g);
        y[r * F + j] = v * x[r * 2 * F + F + j];
      }
  });
}
template <>
void geglu_backward<double>(const double* dy, const double* x, double* dx, int64_t M, int64_t F) {
  parallel_for(M, row_grain(F), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      for (int64_t j = 0; j < F; ++j) {
        double v, g;
        const double gate = x[r * 2 * F + j], up = x[r * 2 * F + F + j], d = dy[r * F + j];
        gelu_tanh_and_grad(gate, &v, &g);
        dx[r * 2 * F + j] += d * up * g;
        dx[r * 2 * F + F + j] += d * v;
      }
  });
}

}  // namespace vla
