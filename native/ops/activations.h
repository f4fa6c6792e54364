// Pointwise activations. T is float (production) or double (float64 reference).
// Backward functions ACCUMULATE into their gradient outputs (dx += ...), like every backward here.
#pragma once

#include <cstdint>

namespace vla {

// silu: y = x * sigmoid(x).  x, y: [n]
template <typename T> void silu_forward(const T* x, T* y, int64_t n);
template <typename T> void silu_backward(const T* dy, const T* x, T* dx, int64_t n);

// gelu_tanh: y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).  x, y: [n]
template <typename T> void gelu_tanh_forward(const T* x, T* y, int64_t n);
template <typename T> void gelu_tanh_backward(const T* dy, const T* x, T* dx, int64_t n);

// geglu: x: [M, 2F] holds [gate | up] per row; y: [M, F] = gelu_tanh(gate) * up.
template <typename T> void geglu_forward(const T* x, T* y, int64_t M, int64_t F);
template <typename T> void geglu_backward(const T* dy, const T* x, T* dx, int64_t M, int64_t F);

}  // namespace vla
