// The cuBLAS path of cuda/gemm_cuda.h's gemm(): compiled only in device builds that found
// cuBLAS (files named *_cublas.cu), never in the emulator. The dispatcher (cuda/gemm.cu) hands
// over problems with M, N, K >= 1, alpha != 0 and every size below 2^31.
//
// Row-major C[M, N] = op(A) op(B) is, read column-major, C^T[N, M] = op(B)^T op(A)^T: B becomes
// cuBLAS's first operand and A its second, each with its own transpose flag, and the leading
// dimensions stay the row strides (a row-major [R, C] matrix with stride ld is a column-major
// [C, R] one with the same ld).
#include "cuda/dialect.h"

#include <cublas_v2.h>
#include <cuda_bf16.h>

#include <mutex>
#include <vector>

#include "cuda/cuda_check.h"
#include "cuda/gemm_cuda.h"

#define VLA_CUBLAS_CHECK(expr)                                                                          \
  do {                                                                                                  \
    cublasStatus_t vla_status_ = (expr);                                                                \
    if (vla_status_ != CUBLAS_STATUS_SUCCESS)                                                           \
      ::vla::fail(vla_status_ == CUBLAS_STATUS_NOT_INITIALIZED ? ::vla::ErrorCode::kUnsupported           \
                                                               : ::vla::ErrorCode::kInternal,           \
                  "cuBLAS error in " #expr ": ", cublasGetStatusString(vla_status_), " (", __FILE__, ":", \
                  __LINE__, ")");                                                                       \
  } while (0)

namespace vla::VLA_CUDA_NS::detail {

namespace {

// Per device: the cuBLAS handle (created on first use, never destroyed: destroying it from a
// static destructor can run after the CUDA runtime has shut down) and the bf16 scratch buffer.
struct DeviceState {
  cublasHandle_t handle = nullptr;
  void* scratch = nullptr;
  size_t scratch_bytes = 0;
  std::mutex scratch_mutex;  // held from the bf16 conversion until the GEMM is enqueued
};

std::mutex g_states_mutex;
std::vector<DeviceState*> g_states;  // by device ordinal; entries are never freed

DeviceState& device_state() {
  int device = 0;
  VLA_CUDA_CHECK(cudaGetDevice(&device));
  std::lock_guard<std::mutex> lock(g_states_mutex);
  if (static_cast<size_t>(device) >= g_states.size()) g_states.resize(static_cast<size_t>(device) + 1, nullptr);
  DeviceState*& state = g_states[static_cast<size_t>(device)];
  if (!state) {
    auto* fresh = new DeviceState;
    VLA_CUBLAS_CHECK(cublasCreate(&fresh->handle));
    // The calling thread's default stream, like every kernel here (vla_cuda is compiled with
    // --default-stream per-thread, so a CUDA graph can capture a whole act loop, products
    // included); pointers to alpha/beta are host pointers.
    VLA_CUBLAS_CHECK(cublasSetStream(fresh->handle, cudaStreamPerThread));
    VLA_CUBLAS_CHECK(cublasSetPointerMode(fresh->handle, CUBLAS_POINTER_MODE_HOST));
    VLA_CUBLAS_CHECK(cublasSetMathMode(fresh->handle, CUBLAS_DEFAULT_MATH));
    state = fresh;
  }
  return *state;
}

// dst[r * cols + c] = bf16(src[r * ld + c]): a stored row-major [rows, cols] matrix, packed.
__global__ void to_bf16(const float* __restrict__ src, int64_t ld, int64_t rows, int64_t cols,
                        __nv_bfloat16* __restrict__ dst) {
  const int64_t total = rows * cols;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = __float2bfloat16_rn(src[(i / cols) * ld + i % cols]);
}

void launch_to_bf16(const float* src, int64_t ld, int64_t rows, int64_t cols, __nv_bfloat16* dst) {
  const int64_t blocks = (rows * cols + 255) / 256;
  VLA_LAUNCH(to_bf16, static_cast<unsigned>(blocks < 65535 * 32 ? blocks : 65535 * 32), 256, 0, src, ld, rows, cols,
             dst);
  VLA_CUDA_CHECK(cudaGetLastError());
}

size_t round_up(size_t bytes) { return (bytes + 255) & ~size_t(255); }

}  // namespace

void gemm_cublas(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                 int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc, GemmMath math) {
  DeviceState& state = device_state();
  const cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int m = static_cast<int>(M), n = static_cast<int>(N), k = static_cast<int>(K);

  if (math != GemmMath::kBf16) {
    const cublasComputeType_t compute =
        math == GemmMath::kTf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    VLA_CUBLAS_CHECK(cublasGemmEx(state.handle, op_b, op_a, n, m, k, &alpha, B, CUDA_R_32F, static_cast<int>(ldb), A,
                                  CUDA_R_32F, static_cast<int>(lda), &beta, C, CUDA_R_32F, static_cast<int>(ldc),
                                  compute, CUBLAS_GEMM_DEFAULT));
    return;
  }

  // bf16: packed copies of A and B as stored (rows x cols), then fp32-accumulating GemmEx.
  const int64_t a_rows = trans_a ? K : M, a_cols = trans_a ? M : K;
  const int64_t b_rows = trans_b ? N : K, b_cols = trans_b ? K : N;
  const size_t a_bytes = round_up(static_cast<size_t>(a_rows * a_cols) * sizeof(__nv_bfloat16));
  const size_t b_bytes = round_up(static_cast<size_t>(b_rows * b_cols) * sizeof(__nv_bfloat16));

  std::lock_guard<std::mutex> lock(state.scratch_mutex);
  if (state.scratch_bytes < a_bytes + b_bytes) {
    if (state.scratch) {
      // Earlier GEMMs may still read the old buffer: wait for them before freeing it.
      VLA_CUDA_CHECK(cudaDeviceSynchronize());
      VLA_CUDA_CHECK(cudaFree(state.scratch));
      state.scratch = nullptr;
      state.scratch_bytes = 0;
    }
    VLA_CUDA_CHECK(cudaMalloc(&state.scratch, a_bytes + b_bytes));
    state.scratch_bytes = a_bytes + b_bytes;
  }
  auto* a16 = static_cast<__nv_bfloat16*>(state.scratch);
  auto* b16 = reinterpret_cast<__nv_bfloat16*>(static_cast<char*>(state.scratch) + a_bytes);
  launch_to_bf16(A, lda, a_rows, a_cols, a16);
  launch_to_bf16(B, ldb, b_rows, b_cols, b16);
  // The conversions and the GEMM run in order on the default stream, so the next call may
  // overwrite the scratch as soon as this one is enqueued.
  VLA_CUBLAS_CHECK(cublasGemmEx(state.handle, op_b, op_a, n, m, k, &alpha, b16, CUDA_R_16BF, static_cast<int>(b_cols),
                                a16, CUDA_R_16BF, static_cast<int>(a_cols), &beta, C, CUDA_R_32F,
                                static_cast<int>(ldc), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

}  // namespace vla::VLA_CUDA_NS::detail
