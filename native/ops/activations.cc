#include "ops/activations.h"

#include <cmath>

#include "core/thread_pool.h"

namespace vla {

namespace {
constexpr int64_t kGrain = 1 << 14;

template <typename T> inline T sigmoid(T x) { return T(1) / (T(1) + std::exp(-x)); }

// gelu_tanh value and derivative at x.
template <typename T>
inline void gelu_tanh_and_grad(T x, T* value, T* grad) {
  const T k = T(0.7978845608028654);  // sqrt(2/pi)
  const T c = T(0.044715);
  T x2 = x * x;
  T inner = k * (x + c * x2 * x);
  T th = std::tanh(inner);
  *value = T(0.5) * x * (T(1) + th);
  *grad = T(0.5) * (T(1) + th) + T(0.5) * x * (T(1) - th * th) * k * (T(1) + T(3) * c * x2);
}
}  // namespace

template <typename T>
void silu_forward(const T* x, T* y, int64_t n) {
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = x[i] * sigmoid(x[i]);
  });
}

template <typename T>
void silu_backward(const T* dy, const T* x, T* dx, int64_t n) {
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      T s = sigmoid(x[i]);
      dx[i] += dy[i] * s * (T(1) + x[i] * (T(1) - s));
    }
  });
}

template <typename T>
void gelu_tanh_forward(const T* x, T* y, int64_t n) {
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      T v, g;
      gelu_tanh_and_grad(x[i], &v, &g);
      y[i] = v;
    }
  });
}

template <typename T>
void gelu_tanh_backward(const T* dy, const T* x, T* dx, int64_t n) {
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      T v, g;
      gelu_tanh_and_grad(x[i], &v, &g);
      dx[i] += dy[i] * g;
    }
  });
}

template <typename T>
void geglu_forward(const T* x, T* y, int64_t M, int64_t F) {
  parallel_for(M, std::max<int64_t>(1, kGrain / std::max<int64_t>(F, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const T* gate = x + r * 2 * F;
      const T* up = gate + F;
      T* out = y + r * F;
      for (int64_t j = 0; j < F; ++j) {
        T v, g;
        gelu_tanh_and_grad(gate[j], &v, &g);
        out[j] = v * up[j];
      }
    }
  });
}

template <typename T>
void geglu_backward(const T* dy, const T* x, T* dx, int64_t M, int64_t F) {
  parallel_for(M, std::max<int64_t>(1, kGrain / std::max<int64_t>(F, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const T* gate = x + r * 2 * F;
      const T* up = gate + F;
      const T* d = dy + r * F;
      T* dgate = dx + r * 2 * F;
      T* dup = dgate + F;
      for (int64_t j = 0; j < F; ++j) {
        T v, g;
        gelu_tanh_and_grad(gate[j], &v, &g);
        dgate[j] += d[j] * up[j] * g;
        dup[j] += d[j] * v;
      }
    }
  });
}

#define VLA_INSTANTIATE(T)                                                   \
  template void silu_forward<T>(const T*, T*, int64_t);                      \
  template void silu_backward<T>(const T*, const T*, T*, int64_t);           \
  template void gelu_tanh_forward<T>(const T*, T*, int64_t);                 \
  template void gelu_tanh_backward<T>(const T*, const T*, T*, int64_t);      \
  template void geglu_forward<T>(const T*, T*, int64_t, int64_t);            \
  template void geglu_backward<T>(const T*, const T*, T*, int64_t, int64_t);
VLA_INSTANTIATE(float)
VLA_INSTANTIATE(double)
#undef VLA_INSTANTIATE

}  // namespace vla
