// The float activation kernels, written once over a small vector interface V and instantiated
// for plain scalars (activations.cc, any CPU) and AVX2 (activations_avx2.cc). Internal to
// native/ops.
//
// GELU(tanh) uses the identity 0.5 x (1 + tanh(u)) = x * sigmoid(2u), u = sqrt(2/pi)(x + 0.044715 x^3),
// so one exponential per element serves both the value and the derivative:
//   gelu = x s,  gelu' = s + x s (1 - s) 2 u',  u' = sqrt(2/pi)(1 + 3 * 0.044715 x^2),  s = sigmoid(2u).
// SiLU: silu = x s, silu' = s (1 + x (1 - s)), s = sigmoid(x).
// exp is the polynomial of vector_math.h (relative error ~2e-7) on arguments clamped to
// [-87.3, 88.3], so sigmoid saturates cleanly to 0 or 1 and nothing overflows to Inf or NaN.
#pragma once

#include <cstdint>
#include <cstring>

namespace vla {
namespace {

// One lane: the reference shape of the interface, also used for loop tails.
struct ScalarVec {
  using R = float;
  static constexpr int kWidth = 1;
  static R load(const float* p) { return *p; }
  static void store(float* p, R v) { *p = v; }
  static R set1(float v) { return v; }
  static R add(R a, R b) { return a + b; }
  static R sub(R a, R b) { return a - b; }
  static R mul(R a, R b) { return a * b; }
  static R div(R a, R b) { return a / b; }
  static R fmadd(R a, R b, R c) { return a * b + c; }
  static R min(R a, R b) { return b < a ? b : a; }
  static R max(R a, R b) { return a < b ? b : a; }
  // 2^k for integral k in [-126, 127].
  static R pow2i(R k) {
    int32_t bits = (static_cast<int32_t>(k) + 127) << 23;
    float s;
    std::memcpy(&s, &bits, sizeof(s));
    return s;
  }
};

template <class V>
struct ActMath {
  using R = typename V::R;
  static R exp(R v) {
    v = V::max(V::min(v, V::set1(88.3f)), V::set1(-87.3f));
    R k = V::sub(V::fmadd(v, V::set1(1.44269504088896341f), V::set1(12582912.0f)), V::set1(12582912.0f));
    R r = V::sub(v, V::mul(k, V::set1(0.693359375f)));
    r = V::sub(r, V::mul(k, V::set1(-2.12194440e-4f)));
    R p = V::set1(1.9875691500e-4f);
    p = V::fmadd(p, r, V::set1(1.3981999507e-3f));
    p = V::fmadd(p, r, V::set1(8.3334519073e-3f));
    p = V::fmadd(p, r, V::set1(4.1665795894e-2f));
    p = V::fmadd(p, r, V::set1(1.6666665459e-1f));
    p = V::fmadd(p, r, V::set1(5.0000001201e-1f));
    p = V::add(V::fmadd(V::mul(p, r), r, r), V::set1(1.0f));
    return V::mul(p, V::pow2i(k));
  }
  // 1 / (1 + exp(-z))
  static R sigmoid(R z) { return V::div(V::set1(1.0f), V::add(V::set1(1.0f), exp(V::sub(V::set1(0.0f), z)))); }
  // s = sigmoid(2u) for GELU(tanh), and 2u'.
  static void gelu_parts(R x, R* s, R* two_du) {
    const R k2 = V::set1(2.0f * 0.7978845608028654f);
    const R c = V::set1(0.044715f);
    R x2 = V::mul(x, x);
    *s = sigmoid(V::mul(k2, V::fmadd(V::mul(c, x2), x, x)));
    *two_du = V::mul(k2, V::fmadd(V::set1(3.0f * 0.044715f), x2, V::set1(1.0f)));
  }
  static R gelu(R x) {
    R s, d;
    gelu_parts(x, &s, &d);
    return V::mul(x, s);
  }
  static R gelu_grad(R x) {
    R s, d;
    gelu_parts(x, &s, &d);
    // s + x s (1 - s) d
    return V::fmadd(V::mul(V::mul(x, s), V::sub(V::set1(1.0f), s)), d, s);
  }
  static R silu(R x) { return V::mul(x, sigmoid(x)); }
  static R silu_grad(R x) {
    R s = sigmoid(x);
    return V::mul(s, V::fmadd(x, V::sub(V::set1(1.0f), s), V::set1(1.0f)));
  }
};

// y[i] = f(x[i]) for i in [0, n): V's width at a time, then scalar lanes.
template <class V, class F, class F1>
inline void map1(const float* x, float* y, int64_t n, F f, F1 f1) {
  int64_t i = 0;
  for (; i + V::kWidth <= n; i += V::kWidth) V::store(y + i, f(V::load(x + i)));
  for (; i < n; ++i) y[i] = f1(x[i]);
}

// dx[i] += dy[i] * g(x[i])
template <class V, class G, class G1>
inline void grad1(const float* dy, const float* x, float* dx, int64_t n, G g, G1 g1) {
  int64_t i = 0;
  for (; i + V::kWidth <= n; i += V::kWidth)
    V::store(dx + i, V::fmadd(V::load(dy + i), g(V::load(x + i)), V::load(dx + i)));
  for (; i < n; ++i) dx[i] += dy[i] * g1(x[i]);
}

template <class V>
void silu_forward_kernel(const float* x, float* y, int64_t n) {
  map1<V>(x, y, n, ActMath<V>::silu, ActMath<ScalarVec>::silu);
}
template <class V>
void silu_backward_kernel(const float* dy, const float* x, float* dx, int64_t n) {
  grad1<V>(dy, x, dx, n, ActMath<V>::silu_grad, ActMath<ScalarVec>::silu_grad);
}
template <class V>
void gelu_forward_kernel(const float* x, float* y, int64_t n) {
  map1<V>(x, y, n, ActMath<V>::gelu, ActMath<ScalarVec>::gelu);
}
template <class V>
void gelu_backward_kernel(const float* dy, const float* x, float* dx, int64_t n) {
  grad1<V>(dy, x, dx, n, ActMath<V>::gelu_grad, ActMath<ScalarVec>::gelu_grad);
}

// Rows [r0, r1) of geglu: x [M, 2F] = [gate | up], y [M, F] = gelu(gate) * up.
template <class V>
void geglu_forward_kernel(const float* x, float* y, int64_t r0, int64_t r1, int64_t F) {
  using M = ActMath<V>;
  using S = ActMath<ScalarVec>;
  for (int64_t r = r0; r < r1; ++r) {
    const float* gate = x + r * 2 * F;
    const float* up = gate + F;
    float* out = y + r * F;
    int64_t j = 0;
    for (; j + V::kWidth <= F; j += V::kWidth) V::store(out + j, V::mul(M::gelu(V::load(gate + j)), V::load(up + j)));
    for (; j < F; ++j) out[j] = S::gelu(gate[j]) * up[j];
  }
}

// Accumulates dx [M, 2F] for rows [r0, r1): d gate += dy * up * gelu'(gate), d up += dy * gelu(gate).
template <class V>
void geglu_backward_kernel(const float* dy, const float* x, float* dx, int64_t r0, int64_t r1, int64_t F) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* gate = x + r * 2 * F;
    const float* up = gate + F;
    const float* d = dy + r * F;
    float* dgate = dx + r * 2 * F;
    float* dup = dgate + F;
    int64_t j = 0;
    for (; j + V::kWidth <= F; j += V::kWidth) {
      typename V::R g = V::load(gate + j), s, two_du;
      ActMath<V>::gelu_parts(g, &s, &two_du);
      typename V::R dv = V::load(d + j);
      typename V::R value = V::mul(g, s);
      typename V::R grad = V::fmadd(V::mul(V::mul(g, s), V::sub(V::set1(1.0f), s)), two_du, s);
      V::store(dgate + j, V::fmadd(V::mul(dv, V::load(up + j)), grad, V::load(dgate + j)));
      V::store(dup + j, V::fmadd(dv, value, V::load(dup + j)));
    }
    for (; j < F; ++j) {
      float s, two_du;
      ActMath<ScalarVec>::gelu_parts(gate[j], &s, &two_du);
      float grad = gate[j] * s * (1.0f - s) * two_du + s;
      dgate[j] += d[j] * up[j] * grad;
      dup[j] += d[j] * gate[j] * s;
    }
  }
}

}  // namespace
}  // namespace vla
