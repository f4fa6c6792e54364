#include "ops/weighted_rows.h"

#include "core/cpu_features.h"
#include "core/error.h"

namespace vla {

namespace {

template <typename T>
void add_weighted_rows_one(T* __restrict out, int64_t n, const T* weights, const T* const* rows, int64_t count) {
  // Four rows per pass: one load and store of `out` per four multiply-adds, and a plain inner loop
  // the compiler vectorizes (register blocking in portable C++ compiles poorly).
  int64_t c = 0;
  for (; c + 4 <= count; c += 4) {
    const T w0 = weights[c], w1 = weights[c + 1], w2 = weights[c + 2], w3 = weights[c + 3];
    const T* __restrict r0 = rows[c];
    const T* __restrict r1 = rows[c + 1];
    const T* __restrict r2 = rows[c + 2];
    const T* __restrict r3 = rows[c + 3];
    for (int64_t x = 0; x < n; ++x) out[x] += (w0 * r0[x] + w1 * r1[x]) + (w2 * r2[x] + w3 * r3[x]);
  }
  for (; c < count; ++c) {
    const T wc = weights[c];
    const T* __restrict r = rows[c];
    for (int64_t x = 0; x < n; ++x) out[x] += wc * r[x];
  }
}

}  // namespace

template <typename T>
void add_weighted_rows_generic(T* const* out, int num_out, int64_t n, const T* weights, int64_t weight_stride,
                               const T* const* rows, int64_t count) {
  for (int r = 0; r < num_out; ++r) add_weighted_rows_one(out[r], n, weights + r * weight_stride, rows, count);
}

template <>
WeightedRowsFn<float> weighted_rows_kernel<float>() {
  if (weighted_rows_avx2_available() && active_isa() >= Isa::kAvx2) return add_weighted_rows_avx2;
  return add_weighted_rows_generic<float>;
}

template <>
WeightedRowsFn<double> weighted_rows_kernel<double>() {
  return add_weighted_rows_generic<double>;
}

#if !defined(__x86_64__) && !defined(_M_X64)
// No AVX2 kernels on this architecture (the *_avx2.cc files are not built with AVX2 there).
bool weighted_rows_avx2_available() { return false; }
void add_weighted_rows_avx2(float* const*, int, int64_t, const float*, int64_t, const float* const*, int64_t) {
  fail(ErrorCode::kUnsupported, "add_weighted_rows_avx2: no AVX2 kernels on this architecture");
}
#endif

template void add_weighted_rows_generic<float>(float* const*, int, int64_t, const float*, int64_t,
                                               const float* const*, int64_t);
template void add_weighted_rows_generic<double>(double* const*, int, int64_t, const double*, int64_t,
                                                const double* const*, int64_t);

}  // namespace vla
