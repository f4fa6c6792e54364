// Portable micro-kernels in plain C++ for the baseline ISA (any x86-64, or another architecture):
// the float path on CPUs without AVX2, and the double path everywhere (the float64 reference that
// gradient checks run on). The loops have constant trip counts so the compiler keeps the tile in
// registers and vectorizes across columns.
#include "ops/gemm_driver.h"
#include "ops/gemm_kernels.h"

namespace vla::gemm_detail {

namespace {

template <typename TT, int MR, int NR, int64_t MC, int64_t KC, int64_t NC>
struct PortableKernel {
  using T = TT;
  static constexpr int kMR = MR, kNR = NR;
  static constexpr int64_t kMC = MC, kKC = KC, kNC = NC;

  template <int kRows, bool kPackedA>
  static void tile(int64_t kc, const T* a, int64_t lda, const T* b, T* c, int64_t ldc, T alpha, T beta) {
    tile_impl<kRows, kPackedA, false>(kc, a, lda, b, 0, nullptr, c, ldc, alpha, beta);
  }

  template <int kRows, bool kPackedA>
  static void tile_packing_b(int64_t kc, const T* a, int64_t lda, const T* b_src, int64_t ldb, T* b_dst, T* c,
                             int64_t ldc, T alpha, T beta) {
    tile_impl<kRows, kPackedA, true>(kc, a, lda, b_src, ldb, b_dst, c, ldc, alpha, beta);
  }

  // kPackB: B row k is read from b + k * ldb and copied to b_dst + k * NR; else read from b + k * NR.
  template <int kRows, bool kPackedA, bool kPackB>
  static void tile_impl(int64_t kc, const T* a, int64_t lda, const T* b, int64_t ldb, T* b_dst, T* c, int64_t ldc,
                        T alpha, T beta) {
    // A element (r, k): a[k * MR + r] packed, a[r * lda + k] in place.
    const int64_t a_row = kPackedA ? 1 : lda, a_k = kPackedA ? MR : 1;
    T acc[kRows][NR] = {};
    for (int64_t k = 0; k < kc; ++k) {
      const T* bk = kPackB ? b + k * ldb : b + k * NR;
      if (kPackB)
        for (int j = 0; j < NR; ++j) b_dst[k * NR + j] = bk[j];
      for (int r = 0; r < kRows; ++r) {
        const T ar = a[r * a_row + k * a_k];
        for (int j = 0; j < NR; ++j) acc[r][j] += ar * bk[j];
      }
    }
    for (int r = 0; r < kRows; ++r) {
      T* cr = c + r * ldc;
      if (beta == T(0)) {
        for (int j = 0; j < NR; ++j) cr[j] = alpha * acc[r][j];
      } else {
        for (int j = 0; j < NR; ++j) cr[j] = alpha * acc[r][j] + beta * cr[j];
      }
    }
  }

  static void pack_b_transposed(const T* src, int64_t ld, int cols, int64_t kc, T* dst) {
    pack_panel_gather<NR>(src, ld, cols, kc, dst);
  }
};

// SSE2 has 16 vector registers: 4 x 8 floats (8 accumulators) or 4 x 4 doubles (8 accumulators)
// leave room for the B row and the broadcast A value.
using PortableF32 = PortableKernel<float, 4, 8, 128, 256, 2048>;
using PortableF64 = PortableKernel<double, 4, 4, 96, 256, 1024>;

}  // namespace

void gemm_f32_generic(const GemmProblem<float>& p) { gemm_blocked<PortableF32>(p); }
int64_t packed_b_floats_generic(int64_t N, int64_t K) { return packed_b_floats<PortableF32>(N, K); }
void pack_b_generic(const float* W, int64_t ldw, int64_t N, int64_t K, float* dst) { pack_b_whole<PortableF32>(W, ldw, N, K, dst); }
void gemm_f32_generic_prepacked(const GemmProblem<float>& p, const float* packed) { gemm_blocked<PortableF32>(p, packed); }
void gemm_f64_generic(const GemmProblem<double>& p) { gemm_blocked<PortableF64>(p); }

}  // namespace vla::gemm_detail
