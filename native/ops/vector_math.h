// Small inline loops over contiguous arrays, written so that the compiler vectorizes them without
// -ffast-math: reductions keep kLanes independent partial sums (a fixed summation order, so the
// result does not depend on how a caller splits work across threads), and the float exponential
// is a branch-free polynomial instead of a libm call.
//
// Internal to native/ops. Everything is in an unnamed namespace: a translation unit compiled for
// another instruction set (*_avx2.cc) gets its own copies, never the baseline ones (and vice versa).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace vla {
namespace {

constexpr int kLanes = 8;

template <typename T>
inline T combine_lanes(const T (&acc)[kLanes]) {
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

// sum_i a[i] * b[i]
template <typename T>
inline T dot(const T* a, const T* b, int64_t n) {
  T acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += a[i + l] * b[i + l];
  T tail = 0;
  for (; i < n; ++i) tail += a[i] * b[i];
  return combine_lanes(acc) + tail;
}

// sum_i a[i]
template <typename T>
inline T sum(const T* a, int64_t n) {
  T acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += a[i + l];
  T tail = 0;
  for (; i < n; ++i) tail += a[i];
  return combine_lanes(acc) + tail;
}

// y[i] += alpha * x[i]
template <typename T>
inline void axpy(T alpha, const T* x, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

// exp(v) for v already clamped to [-87.3, 88.3]: Cephes-style range reduction and a degree-6
// polynomial (relative error about 2e-7). Branch-free, so loops of it vectorize.
inline float exp_poly_clamped(float v) {
  // k = round(v / ln 2) by the 1.5 * 2^23 trick (exact for |v / ln 2| < 2^22, no SSE4.1 needed).
  float k = (v * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = v - k * 0.693359375f;  // ln 2 split in two for an exact first product
  r = r - k * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t bits = (static_cast<int32_t>(k) + 127) << 23;  // 2^k, k in [-126, 127]
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}

// x[i] = exp(x[i] - shift). Float: Cephes-style range reduction and degree-6 polynomial, relative
// error about 2e-7 (a couple of ulp) for inputs in [-87, 88]; inputs below -87.3 (including -inf)
// give about 1e-38 instead of 0, above 88.3 they saturate near FLT_MAX. Callers that need exact
// zeros (masked softmax entries) multiply by the mask afterwards.
inline void exp_shifted_inplace(float* x, float shift, int64_t n) {
  // Two passes over the (cache-resident) array: GCC if-converts the clamp only when its result is
  // stored directly, and the polynomial pass has no branches left.
  for (int64_t i = 0; i < n; ++i) {
    float v = x[i] - shift;
    v = v < -87.3f ? -87.3f : v;  // -inf lands here too
    v = v > 88.3f ? 88.3f : v;
    x[i] = v;
  }
  for (int64_t i = 0; i < n; ++i) x[i] = exp_poly_clamped(x[i]);
}

// The float64 reference uses libm's exp.
inline void exp_shifted_inplace(double* x, double shift, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = std::exp(x[i] - shift);
}

}  // namespace
}  // namespace vla
