#include "ops/linear.h"

#include <algorithm>
#include <vector>

#include "core/thread_pool.h"
#include "ops/gemm.h"

namespace vla {

template <typename T>
void linear_forward(const T* x, const T* w, const T* b, T* y, int64_t M, int64_t K, int64_t N) {
  if (b) {
    // y = b in every row, then y = x W^T + 1 * y: the bias is added inside the GEMM's final update.
    for (int64_t i = 0; i < M; ++i) std::copy(b, b + N, y + i * N);
  }
  gemm<T>(false, true, M, N, K, T(1), x, K, w, K, b ? T(1) : T(0), y, N);
}

namespace {

// db[j] += sum_i dy[i, j]. Columns are split among threads and each is summed in row order, so
// the result does not depend on the thread count; the sum is kept in double.
template <typename T>
void add_column_sums(const T* dy, T* db, int64_t M, int64_t N) {
  const int64_t grain = std::max<int64_t>(16, (int64_t(1) << 15) / std::max<int64_t>(M, 1));
  parallel_for(N, grain, [&](int64_t j0, int64_t j1) {
    std::vector<double> sum(static_cast<size_t>(j1 - j0), 0.0);
    for (int64_t i = 0; i < M; ++i) {
      const T* row = dy + i * N + j0;
      for (int64_t j = 0; j < j1 - j0; ++j) sum[j] += static_cast<double>(row[j]);
    }
    for (int64_t j = j0; j < j1; ++j) db[j] += static_cast<T>(sum[j - j0]);
  });
}

}  // namespace

template <typename T>
void linear_backward(const T* dy, const T* x, const T* w, T* dx, T* dw, T* db, int64_t M, int64_t K, int64_t N) {
  if (dx) gemm<T>(false, false, M, K, N, T(1), dy, N, w, K, T(1), dx, K);  // [M, N] . [N, K]
  if (dw) gemm<T>(true, false, N, K, M, T(1), dy, N, x, K, T(1), dw, K);   // [M, N]^T . [M, K]
  if (db) add_column_sums(dy, db, M, N);
}

template <typename T>
void gemm_op_backward(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, T beta, const T* a,
                      const T* b, const T* dout, T* da, T* db, T* dc) {
  const int64_t lda = trans_a ? M : K, ldb = trans_b ? K : N;  // stored row lengths of a and b
  // dL/d op(a) = alpha * dout op(b)^T  [M, K];  dL/d op(b) = alpha * op(a)^T dout  [K, N].
  if (da) {
    if (!trans_a)
      gemm<T>(false, !trans_b, M, K, N, alpha, dout, N, b, ldb, T(1), da, K);
    else  // a is stored [K, M]: da = alpha * op(b) dout^T
      gemm<T>(trans_b, true, K, M, N, alpha, b, ldb, dout, N, T(1), da, M);
  }
  if (db) {
    if (!trans_b)
      gemm<T>(!trans_a, false, K, N, M, alpha, a, lda, dout, N, T(1), db, N);
    else  // b is stored [N, K]: db = alpha * dout^T op(a)
      gemm<T>(true, trans_a, N, K, M, alpha, dout, N, a, lda, T(1), db, K);
  }
  if (dc) {
    parallel_for(M * N, int64_t(1) << 15, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) dc[i] += beta * dout[i];
    });
  }
}

#define VLA_INSTANTIATE(T)                                                                                     \
  template void linear_forward<T>(const T*, const T*, const T*, T*, int64_t, int64_t, int64_t);                \
  template void linear_backward<T>(const T*, const T*, const T*, T*, T*, T*, int64_t, int64_t, int64_t);      \
  template void gemm_op_backward<T>(bool, bool, int64_t, int64_t, int64_t, T, T, const T*, const T*, const T*, \
                                    T*, T*, T*);
VLA_INSTANTIATE(float)
VLA_INSTANTIATE(double)
#undef VLA_INSTANTIATE

}  // namespace vla
