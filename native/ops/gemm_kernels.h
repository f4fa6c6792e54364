// Internal to the GEMM implementation: the problem description handed from the dispatcher
// (gemm.cc) to the kernel families, and the families' entry points.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vla::gemm_detail {

// C[M, N] = alpha * op(A) * op(B) + beta * C, row-major; see ops/gemm.h. Kernel families receive
// only problems with M, N, K > 0 and alpha != 0 (the dispatcher handles the degenerate ones).
template <typename T>
struct GemmProblem {
  bool trans_a = false;
  bool trans_b = false;
  int64_t M = 0, N = 0, K = 0;
  T alpha = 1;
  const T* A = nullptr;
  int64_t lda = 0;
  const T* B = nullptr;
  int64_t ldb = 0;
  T beta = 0;
  T* C = nullptr;
  int64_t ldc = 0;
};

// One entry point per kernel family. The AVX2 and AVX-512 ones may only be called when
// hardware_isa() supports them; in a build without their compiler flags they fail with kUnsupported.
void gemm_f32_generic(const GemmProblem<float>& p);
void gemm_f32_avx2(const GemmProblem<float>& p);
void gemm_f32_avx512(const GemmProblem<float>& p);
void gemm_f64_generic(const GemmProblem<double>& p);

// Weights packed once (ops/gemm.h, PackedWeights): per float family, the size of op(B) = W^T
// packed whole, the packing, and the GEMM reading those panels (p.trans_b, p.B unused).
int64_t packed_b_floats_generic(int64_t N, int64_t K);
int64_t packed_b_floats_avx2(int64_t N, int64_t K);
int64_t packed_b_floats_avx512(int64_t N, int64_t K);
void pack_b_generic(const float* W, int64_t ldw, int64_t N, int64_t K, float* dst);
void pack_b_avx2(const float* W, int64_t ldw, int64_t N, int64_t K, float* dst);
void pack_b_avx512(const float* W, int64_t ldw, int64_t N, int64_t K, float* dst);
void gemm_f32_generic_prepacked(const GemmProblem<float>& p, const float* packed);
void gemm_f32_avx2_prepacked(const GemmProblem<float>& p, const float* packed);
void gemm_f32_avx512_prepacked(const GemmProblem<float>& p, const float* packed);

// Scratch for packed panels: per thread, page-aligned, grown on demand and kept for reuse, so a
// GEMM allocates nothing in the steady state. kPackA and kPackB hold a task's own A and B blocks;
// kPackShared, on the calling thread, the B that all tasks of one GEMM read.
enum PackSlot { kPackA = 0, kPackB = 1, kPackShared = 2, kNumPackSlots = 3 };
void* pack_buffer(PackSlot slot, size_t bytes);

}  // namespace vla::gemm_detail
