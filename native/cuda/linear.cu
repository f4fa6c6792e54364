#include "cuda/dialect.h"

#include "cuda/linear_cuda.h"

#include "cuda/cuda_check.h"
#include "cuda/gemm_cuda.h"
#include "cuda/kernel_utils.h"

namespace vla::VLA_CUDA_NS {

namespace {

constexpr int kThreads = 256;

// y[i, j] = b[j]: the bias in every row, then the GEMM adds x W^T to it (beta = 1), as on the CPU.
__global__ void broadcast_rows(const float* __restrict__ b, float* __restrict__ y, int64_t M, int64_t N) {
  const int64_t total = M * N;
  for (int64_t i = grid_index(); i < total; i += grid_stride())
    y[i] = b[i % N];
}

// db[j] += sum_i dy[i, j]. A block of 32 x 16 threads owns 32 columns: thread (tx, ty) sums
// rows ty, ty + 16, ... of column tx in double (a warp reads 32 consecutive floats of a row:
// coalesced), then thread ty == 0 adds the 16 partial sums in order. Fixed order, no atomics.
constexpr int kSumCols = 32, kSumRows = 16;

__global__ void __launch_bounds__(kSumCols * kSumRows)
    add_column_sums(const float* __restrict__ dy, float* __restrict__ db, int64_t M, int64_t N) {
  __shared__ double partial[kSumRows][kSumCols + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t j = int64_t(blockIdx.x) * kSumCols + tx;
  double sum = 0.0;
  if (j < N)
    for (int64_t i = ty; i < M; i += kSumRows) sum += static_cast<double>(dy[i * N + j]);
  partial[ty][tx] = sum;
  __syncthreads();
  if (ty == 0 && j < N) {
    double total = 0.0;
    for (int r = 0; r < kSumRows; ++r) total += partial[r][tx];
    db[j] += static_cast<float>(total);
  }
}

// dc[i] += beta * dout[i].
__global__ void add_scaled(const float* __restrict__ dout, float beta, float* __restrict__ dc, int64_t n) {
  for (int64_t i = grid_index(); i < n; i += grid_stride())
    dc[i] += beta * dout[i];
}

}  // namespace

void linear_forward(const float* x, const float* w, const float* b, float* y, int64_t M, int64_t K, int64_t N) {
  if (M <= 0 || N <= 0) return;
  if (b) {
    VLA_LAUNCH(broadcast_rows, blocks_for(M * N, kThreads), kThreads, 0, b, y, M, N);
    VLA_CUDA_CHECK(cudaGetLastError());
  }
  gemm(false, true, M, N, K, 1.0f, x, K, w, K, b ? 1.0f : 0.0f, y, N);
}

void linear_backward(const float* dy, const float* x, const float* w, float* dx, float* dw, float* db, int64_t M,
                     int64_t K, int64_t N) {
  if (dx) gemm(false, false, M, K, N, 1.0f, dy, N, w, K, 1.0f, dx, K);  // [M, N] . [N, K]
  if (dw) gemm(true, false, N, K, M, 1.0f, dy, N, x, K, 1.0f, dw, K);   // [M, N]^T . [M, K]
  if (db && N > 0) {
    const int64_t blocks = (N + kSumCols - 1) / kSumCols;
    VLA_LAUNCH(add_column_sums, static_cast<unsigned>(blocks), dim3(kSumCols, kSumRows), 0, dy, db, M, N);
    VLA_CUDA_CHECK(cudaGetLastError());
  }
}

void gemm_op_backward(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, float beta,
                      const float* a, const float* b, const float* dout, float* da, float* db, float* dc) {
  const int64_t lda = trans_a ? M : K, ldb = trans_b ? K : N;  // stored row lengths of a and b
  // dL/d op(a) = alpha * dout op(b)^T  [M, K];  dL/d op(b) = alpha * op(a)^T dout  [K, N].
  if (da) {
    if (!trans_a)
      gemm(false, !trans_b, M, K, N, alpha, dout, N, b, ldb, 1.0f, da, K);
    else  // a is stored [K, M]: da = alpha * op(b) dout^T
      gemm(trans_b, true, K, M, N, alpha, b, ldb, dout, N, 1.0f, da, M);
  }
  if (db) {
    if (!trans_b)
      gemm(!trans_a, false, K, N, M, alpha, a, lda, dout, N, 1.0f, db, N);
    else  // b is stored [N, K]: db = alpha * dout^T op(a)
      gemm(true, trans_a, N, K, M, alpha, dout, N, a, lda, 1.0f, db, K);
  }
  if (dc && M * N > 0) {
    VLA_LAUNCH(add_scaled, blocks_for(M * N, kThreads), kThreads, 0, dout, beta, dc, M * N);
    VLA_CUDA_CHECK(cudaGetLastError());
  }
}

}  // namespace vla::VLA_CUDA_NS
