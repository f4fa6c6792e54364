// Tests of GEMM (every own kernel the CPU runs, OpenBLAS when linked, the float64 path) and of the
// linear op group (gemm, linear) built on it.
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "core/cpu_features.h"
#include "core/random.h"
#include "core/thread_pool.h"
#include "ops/gemm.h"
#include "ops/gemm_kernels.h"
#include "ops/linear.h"
#include "tests/gradcheck.h"
#include "tests/test_framework.h"

namespace vla::gemm_detail {
// native/tests/gemm_avx512_shape_avx2.cc
void gemm_f32_avx512_shape_on_avx2(const GemmProblem<float>& p);
}  // namespace vla::gemm_detail

namespace vla::test {

namespace {

struct GemmShape {
  int64_t M, N, K;
};

// Sizes around every blocking boundary of every kernel: 1, primes, non-multiples of the micro-tile
// (4x8, 6x16, 12x32), K not a multiple of 8 (the transposing copy's tail), several K blocks
// (kc <= 256), more rows than one cache block (MC = 96..144), more columns than NC (2048), and
// problems large enough (>= 16 MFLOP) for the shared packed B of the threaded driver, in one group
// of K blocks and in several (the last shape).
const std::vector<GemmShape>& test_shapes() {
  static const std::vector<GemmShape> shapes = {
      {1, 1, 1},     {1, 17, 3},     {13, 1, 7},     {5, 7, 1},    {6, 16, 8},   {12, 32, 16},
      {7, 19, 29},   {31, 37, 41},   {97, 53, 13},   {10, 128, 128}, {150, 20, 300}, {25, 70, 531},
      {3, 2100, 5},  {200, 33, 9},   {263, 150, 301}, {30, 200, 1800}};
  return shapes;
}

// op(X) as used by the test: element (i, k) of op(A) etc.
struct Operands {
  bool trans_a, trans_b;
  int64_t M, N, K, lda, ldb, ldc;
  std::vector<double> A, B, C;  // stored layouts, with padding columns up to the leading dimension

  double a(int64_t i, int64_t k) const { return trans_a ? A[k * lda + i] : A[i * lda + k]; }
  double b(int64_t k, int64_t j) const { return trans_b ? B[j * ldb + k] : B[k * ldb + j]; }
};

Operands make_operands(Rng& rng, bool trans_a, bool trans_b, GemmShape s, int64_t pad) {
  Operands o{trans_a, trans_b, s.M, s.N, s.K, 0, 0, 0, {}, {}, {}};
  const int64_t a_rows = trans_a ? s.K : s.M, a_cols = trans_a ? s.M : s.K;
  const int64_t b_rows = trans_b ? s.N : s.K, b_cols = trans_b ? s.K : s.N;
  o.lda = a_cols + pad;
  o.ldb = b_cols + pad;
  o.ldc = s.N + pad;
  auto fill = [&](std::vector<double>& v, int64_t n) {
    v.resize(static_cast<size_t>(n));
    for (auto& x : v) x = rng.range(-1, 1);
  };
  fill(o.A, a_rows * o.lda);
  fill(o.B, b_rows * o.ldb);
  fill(o.C, s.M * o.ldc);
  return o;
}

template <typename T>
std::vector<T> cast(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}

using GemmFn = void (*)(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t,
                        float, float*, int64_t);

// Runs `fn` (float) or gemm<double> on o and compares with a naive float64 product. The bound is
// the rigorous one for a sum of K products in precision eps, (K + 2) eps sum_k |alpha a b| + |beta c|
// terms: any indexing or packing mistake is off by O(1) and fails it; rounding never does.
// beta == 0 runs with NaN in C, which must not leak into the result. Returns the failures counted.
template <typename T>
int check_against_reference(const Operands& o, double alpha, double beta, GemmFn fn, const std::string& what) {
  std::vector<T> A = cast<T>(o.A), B = cast<T>(o.B), C = cast<T>(o.C);
  if (beta == 0)
    for (int64_t i = 0; i < o.M; ++i)
      for (int64_t j = 0; j < o.N; ++j) C[i * o.ldc + j] = std::numeric_limits<T>::quiet_NaN();
  // Padding columns of C must survive untouched.
  for (int64_t i = 0; i < o.M; ++i)
    for (int64_t j = o.N; j < o.ldc; ++j) C[i * o.ldc + j] = T(12345);
  const T ta = static_cast<T>(alpha), tb = static_cast<T>(beta);
  if constexpr (std::is_same_v<T, float>)
    fn(o.trans_a, o.trans_b, o.M, o.N, o.K, ta, A.data(), o.lda, B.data(), o.ldb, tb, C.data(), o.ldc);
  else
    gemm<double>(o.trans_a, o.trans_b, o.M, o.N, o.K, ta, A.data(), o.lda, B.data(), o.ldb, tb, C.data(), o.ldc);

  const double eps = std::numeric_limits<T>::epsilon();
  int failures = 0;
  for (int64_t i = 0; i < o.M; ++i) {
    for (int64_t j = 0; j < o.N; ++j) {
      double sum = 0, magnitude = 0;
      for (int64_t k = 0; k < o.K; ++k) {
        const double p = static_cast<double>(static_cast<T>(o.a(i, k))) * static_cast<T>(o.b(k, j));
        sum += p;
        magnitude += std::fabs(p);
      }
      const double c_old = beta == 0 ? 0 : static_cast<double>(static_cast<T>(o.C[i * o.ldc + j]));
      const double ref = static_cast<T>(alpha) * sum + static_cast<T>(beta) * c_old;
      const double bound = (o.K + 4) * eps * (std::fabs(alpha) * magnitude + std::fabs(beta * c_old)) + 1e-300;
      const double got = C[i * o.ldc + j];
      if (!(std::fabs(got - ref) <= bound) && failures++ < 3)
        Failure(__FILE__, __LINE__, what) << "C[" << i << "," << j << "] =" << got << "expected" << ref
                                          << "(bound" << bound << ")";
    }
    for (int64_t j = o.N; j < o.ldc; ++j)
      if (C[i * o.ldc + j] != T(12345) && failures++ < 3)
        Failure(__FILE__, __LINE__, what) << "wrote into the padding of C at row" << i << "column" << j;
  }
  return failures;
}

std::string describe(const Operands& o, double alpha, double beta) {
  std::ostringstream os;
  os << (o.trans_a ? "T" : "N") << (o.trans_b ? "T" : "N") << " M=" << o.M << " N=" << o.N << " K=" << o.K
     << " lda=" << o.lda << " ldb=" << o.ldb << " ldc=" << o.ldc << " alpha=" << alpha << " beta=" << beta;
  return os.str();
}

// Every shape x transpose combination x (alpha, beta) pair, with and without padded rows.
template <typename T>
void check_all_shapes(GemmFn fn, const std::string& label, uint64_t seed) {
  Rng rng(seed);
  const double alphas_betas[][2] = {{1, 0}, {-1.5, 1}, {0.5, -0.75}, {2, 0}};
  int variant = 0;
  for (const GemmShape& s : test_shapes())
    for (int trans = 0; trans < 4; ++trans) {
      const double* ab = alphas_betas[variant % 4];
      const int64_t pad = (variant % 3 == 1) ? 3 : 0;
      ++variant;
      Operands o = make_operands(rng, trans & 1, trans & 2, s, pad);
      if (check_against_reference<T>(o, ab[0], ab[1], fn, label + " " + describe(o, ab[0], ab[1]))) return;
    }
}

// Runs body() with the own kernels capped at `isa`, restoring the previous cap afterwards.
template <typename F>
void with_isa(Isa isa, F&& body) {
  const Isa saved = active_isa();
  set_isa_cap(isa);
  try {
    body();
  } catch (...) {
    set_isa_cap(saved);
    throw;
  }
  set_isa_cap(saved);
}

void check_own_kernels_at(Isa isa) {
  if (static_cast<int>(hardware_isa()) < static_cast<int>(isa))
    VLA_SKIP(std::string("this CPU supports up to ") + isa_name(hardware_isa()) + ", not " + isa_name(isa) +
             "; its kernels compile but cannot run here");
  // Three threads even on a one-CPU machine, so the threaded paths (cut C, shared packed B) run.
  const int saved_threads = num_threads();
  set_num_threads(3);
  with_isa(isa, [&] { check_all_shapes<float>(gemm_own_f32, std::string("own-") + isa_name(isa), 11); });
  set_num_threads(saved_threads);
}

}  // namespace

VLA_TEST(gemm, own_f32_generic_matches_reference) { check_own_kernels_at(Isa::kGeneric); }
VLA_TEST(gemm, own_f32_avx2_matches_reference) { check_own_kernels_at(Isa::kAvx2); }
VLA_TEST(gemm, own_f32_avx512_matches_reference) { check_own_kernels_at(Isa::kAvx512); }

// The AVX-512 kernel's shape on AVX2 registers (see gemm_avx512_shape_avx2.cc). Every test shape
// has M, N, K > 0 and alpha != 0, which is what kernel entry points take.
VLA_TEST(gemm, avx512_shape_on_avx2_matches_reference) {
  if (hardware_isa() < Isa::kAvx2) VLA_SKIP("this CPU lacks AVX2, which the emulated 16-lane vectors use");
  GemmFn fn = [](bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                 const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    gemm_detail::gemm_f32_avx512_shape_on_avx2({ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc});
  };
  const int saved_threads = num_threads();
  set_num_threads(3);
  check_all_shapes<float>(fn, "avx512-shape-on-avx2", 15);
  set_num_threads(saved_threads);
}

VLA_TEST(gemm, f64_matches_reference) {
  check_all_shapes<double>(nullptr, "f64", 12);
}

VLA_TEST(gemm, openblas_backend_matches_reference) {
  if (!gemm_has_openblas()) {
    VLA_EXPECT_THROWS(set_gemm_backend(GemmBackend::kOpenBlas), ErrorCode::kUnsupported, "does not include OpenBLAS");
    VLA_SKIP("this build has no OpenBLAS (VLA_TTT_BLAS=OFF or not found); checked that requesting it fails");
  }
  const GemmBackend saved = gemm_backend();
  set_gemm_backend(GemmBackend::kOpenBlas);
  VLA_EXPECT(std::string(gemm_backend_name()) == "openblas") << gemm_backend_name();
  check_all_shapes<float>(gemm<float>, "openblas", 13);
  set_gemm_backend(saved);
}

VLA_TEST(gemm, backend_selection) {
  const GemmBackend saved = gemm_backend();
  set_gemm_backend(GemmBackend::kOwn);
  VLA_EXPECT(std::string(gemm_backend_name()).rfind("own-", 0) == 0) << gemm_backend_name();
  // gemm<float> on the own backend is the own kernels.
  check_all_shapes<float>(gemm<float>, "gemm<float> kOwn", 14);
  // Auto is the own kernels, with or without OpenBLAS in the build (see gemm.cc for why).
  set_gemm_backend(GemmBackend::kAuto);
  VLA_EXPECT(std::string(gemm_backend_name()) == std::string("own-") + isa_name(active_isa())) << gemm_backend_name();
  set_gemm_backend(saved);
}

// M, N or K of 0, and alpha == 0: C = beta * C (zeros for beta == 0 even over NaN), A and B unread.
VLA_TEST(gemm, degenerate_sizes) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (GemmFn fn : {static_cast<GemmFn>(gemm_own_f32), static_cast<GemmFn>(gemm<float>)}) {
    std::vector<float> C = {1, 2, 3, 4, 5, 6};
    fn(false, false, 2, 3, 0, 1.0f, nullptr, 1, nullptr, 3, 0.5f, C.data(), 3);
    VLA_EXPECT(C[0] == 0.5f && C[5] == 3.0f) << C[0] << C[5];
    C.assign(6, nan);
    fn(false, false, 2, 3, 0, 1.0f, nullptr, 1, nullptr, 3, 0.0f, C.data(), 3);
    for (float x : C) VLA_EXPECT(x == 0.0f) << x;
    std::vector<float> A(6, nan), B(9, nan);
    C = {1, 2, 3, 4, 5, 6};
    fn(false, false, 2, 3, 3, 0.0f, A.data(), 3, B.data(), 3, 2.0f, C.data(), 3);  // alpha = 0 ignores NaN in A, B
    VLA_EXPECT(C[0] == 2.0f && C[5] == 12.0f) << C[0] << C[5];
    fn(false, false, 0, 3, 3, 1.0f, nullptr, 3, nullptr, 3, 0.0f, nullptr, 3);  // nothing to do
    fn(false, false, 2, 0, 3, 1.0f, nullptr, 3, nullptr, 0, 0.0f, nullptr, 0);
  }
  std::vector<double> C = {1, 2};
  gemm<double>(true, true, 1, 2, 0, 1.0, nullptr, 1, nullptr, 0, 0.0, C.data(), 2);
  VLA_EXPECT(C[0] == 0 && C[1] == 0);
}

// Own kernels: bitwise the same result for any thread count, on shapes that do run in parallel
// (large M, small M cut along N, long K, shared packed B) at every ISA the CPU has. The last shape's
// B (3.5 MB) is packed one K block at a time on one thread and all at once in the smaller pieces of
// more threads: both orders must agree.
VLA_TEST(gemm, own_kernels_independent_of_thread_count) {
  const int saved_threads = num_threads();
  const GemmShape shapes[] = {{300, 70, 200},  {10, 1000, 128},  {64, 48, 1500},
                              {290, 160, 300}, {30, 200, 1800}, {20, 800, 1100}};
  Rng rng(21);
  for (int isa = 0; isa <= static_cast<int>(hardware_isa()); ++isa) {
    with_isa(static_cast<Isa>(isa), [&] {
      for (const GemmShape& s : shapes)
        for (int trans = 0; trans < 4; ++trans) {
          Operands o = make_operands(rng, trans & 1, trans & 2, s, 0);
          std::vector<float> A = cast<float>(o.A), B = cast<float>(o.B);
          std::vector<std::vector<float>> results;
          for (int threads : {1, 2, 3}) {
            set_num_threads(threads);
            std::vector<float> C = cast<float>(o.C);
            gemm_own_f32(o.trans_a, o.trans_b, o.M, o.N, o.K, 1.25f, A.data(), o.lda, B.data(), o.ldb, 0.5f, C.data(),
                         o.ldc);
            results.push_back(std::move(C));
          }
          for (size_t t = 1; t < results.size(); ++t)
            VLA_EXPECT(std::memcmp(results[0].data(), results[t].data(), results[0].size() * sizeof(float)) == 0)
                << isa_name(static_cast<Isa>(isa)) << describe(o, 1.25, 0.5) << "differs between 1 and" << t + 1
                << "threads";
        }
    });
  }
  set_num_threads(saved_threads);
}

// Weights packed once (act's projections): bitwise the products of gemm() on the same weights,
// for few and many rows, several K blocks, beta 0 and 1, any thread count, at every ISA the CPU
// has; a pack made for one kernel family is not read under another (the product falls back to
// the weights themselves and still agrees).
VLA_TEST(gemm, packed_weights_give_gemms_products_bitwise) {
  const int saved_threads = num_threads();
  Rng rng(33);
  const int64_t shapes[][3] = {{1, 128, 128}, {9, 1024, 128}, {9, 128, 512}, {88, 256, 128}, {37, 70, 1100}, {300, 16, 9}};
  for (int isa = 0; isa <= static_cast<int>(hardware_isa()); ++isa) {
    with_isa(static_cast<Isa>(isa), [&] {
      for (const auto& sh : shapes) {
        const int64_t M = sh[0], N = sh[1], K = sh[2];
        std::vector<float> x(static_cast<size_t>(M * K)), W(static_cast<size_t>(N * K)), C0(static_cast<size_t>(M * N));
        for (auto& v : x) v = static_cast<float>(rng.normal());
        for (auto& v : W) v = static_cast<float>(rng.normal());
        for (auto& v : C0) v = static_cast<float>(rng.normal());
        PackedWeights pw;
        pack_weights(W.data(), N, K, &pw);
        VLA_EXPECT(pw.family >= 0) << "no pack under the own kernels";
        for (float beta : {0.0f, 1.0f})
          for (int threads : {1, 2, 3}) {
            set_num_threads(threads);
            std::vector<float> want = C0, got = C0;
            gemm<float>(false, true, M, N, K, 1.0f, x.data(), K, W.data(), K, beta, want.data(), N);
            gemm_packed(M, x.data(), K, pw, beta, got.data(), N);
            VLA_EXPECT(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)) == 0)
                << isa_name(static_cast<Isa>(isa)) << "M" << M << "N" << N << "K" << K << "beta" << beta << "threads" << threads;
          }
        if (isa > 0) {
          // Under another family the pack is not read.
          with_isa(Isa::kGeneric, [&] {
            std::vector<float> want = C0, got = C0;
            gemm<float>(false, true, M, N, K, 1.0f, x.data(), K, W.data(), K, 0.0f, want.data(), N);
            gemm_packed(M, x.data(), K, pw, 0.0f, got.data(), N);
            VLA_EXPECT(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)) == 0) << "stale family";
          });
        }
      }
    });
  }
  set_num_threads(saved_threads);
  PackedWeights none;
  std::vector<float> y(4);
  VLA_EXPECT_THROWS(gemm_packed(1, y.data(), 4, none, 0.0f, y.data(), 4), ErrorCode::kArgument, "never packed");
  VLA_EXPECT_THROWS(pack_weights(nullptr, 4, 4, &none), ErrorCode::kArgument, "non-empty");
}

VLA_TEST(gemm, argument_errors) {
  std::vector<float> A(64), B(64), C(64);
  VLA_EXPECT_THROWS(gemm<float>(false, false, -1, 2, 2, 1.0f, A.data(), 2, B.data(), 2, 0.0f, C.data(), 2),
                    ErrorCode::kShape, "sizes must be >= 0");
  VLA_EXPECT_THROWS(gemm<float>(false, false, 2, 3, 4, 1.0f, A.data(), 3, B.data(), 3, 0.0f, C.data(), 3),
                    ErrorCode::kShape, "lda=3 is less than the row length 4 of A");
  VLA_EXPECT_THROWS(gemm<float>(true, false, 5, 3, 4, 1.0f, A.data(), 4, B.data(), 3, 0.0f, C.data(), 3),
                    ErrorCode::kShape, "lda=4 is less than the row length 5 of A (stored [K, M] = [4, 5])");
  VLA_EXPECT_THROWS(gemm_own_f32(false, true, 2, 3, 4, 1.0f, A.data(), 4, B.data(), 3, 0.0f, C.data(), 3),
                    ErrorCode::kShape, "ldb=3 is less than the row length 4 of B (stored [N, K] = [3, 4])");
  VLA_EXPECT_THROWS(gemm<double>(false, false, 2, 3, 4, 1.0, nullptr, 4, nullptr, 3, 0.0, nullptr, 2),
                    ErrorCode::kShape, "ldc=2 is less than N=3");
  VLA_EXPECT_THROWS(gemm<float>(false, false, 2, 3, 4, 1.0f, nullptr, 4, B.data(), 3, 0.0f, C.data(), 3),
                    ErrorCode::kArgument, "A is null");
}

// ---------------------------------------------------------------------------------------------
// The linear op group.

VLA_TEST(linear_ops, gemm_gradcheck) {
  // Every transpose combination, with and without c; sizes, alpha and beta drawn per seed.
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    Rng rng(seed);
    const bool trans_a = seed & 1, trans_b = seed & 2, with_c = seed & 4;
    const int64_t M = 1 + rng.below(7), N = 1 + rng.below(9), K = 1 + rng.below(8);
    GradCase c;
    c.inputs.push_back(random_input(rng, "a", trans_a ? Shape{K, M} : Shape{M, K}));
    c.inputs.push_back(random_input(rng, "b", trans_b ? Shape{N, K} : Shape{K, N}));
    if (with_c) c.inputs.push_back(random_input(rng, "c", Shape{M, N}));
    c.attrs = {{"trans_a", trans_a}, {"trans_b", trans_b}, {"alpha", rng.range(-2, 2)}};
    if (with_c) c.attrs.push_back({"beta", rng.range(0.25, 1.5)});
    expect_gradcheck("gemm", c, seed);
  }
}

VLA_TEST(linear_ops, linear_gradcheck) {
  // x of rank 1, 2 and 3 (leading dimensions are rows), with and without the bias.
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    Rng rng(seed);
    const int64_t K = 1 + rng.below(9), N = 1 + rng.below(7);
    Shape x_shape = seed % 3 == 0 ? Shape{K} : seed % 3 == 1 ? Shape{1 + int64_t(rng.below(6)), K}
                                                            : Shape{2, 1 + int64_t(rng.below(4)), K};
    GradCase c;
    c.inputs.push_back(random_input(rng, "x", x_shape));
    c.inputs.push_back(random_input(rng, "w", Shape{N, K}, 0.5));
    if (seed & 1) c.inputs.push_back(random_input(rng, "b", Shape{N}));
    expect_gradcheck("linear", c, seed);
  }
}

namespace {
// Runs an op on float64 inputs given by name and shape (values 0.5); returns its outputs.
std::vector<OwnedTensor> run_f64(const std::string& op, const std::vector<std::pair<std::string, Shape>>& inputs,
                                 const std::vector<std::pair<std::string, double>>& attrs,
                                 std::vector<std::vector<double>>& storage) {
  std::vector<std::pair<std::string, AnyTensor>> named;
  storage.clear();
  storage.reserve(inputs.size());
  for (const auto& [name, shape] : inputs) {
    storage.emplace_back(static_cast<size_t>(shape.numel()), 0.5);
    named.push_back({name, AnyTensor{storage.back().data(), DType::kF64, shape}});
  }
  return run_call_owned(make_call(find_op(op), named, attrs));
}
}  // namespace

VLA_TEST(linear_ops, shape_errors) {
  std::vector<std::vector<double>> st;
  VLA_EXPECT_THROWS(run_f64("linear", {{"x", Shape{3, 128}}, {"w", Shape{64, 100}}}, {}, st), ErrorCode::kShape,
                    "linear: input 'w' has shape [64, 100], expected dimension 1 = 128 (K, the last dimension of x)");
  VLA_EXPECT_THROWS(run_f64("linear", {{"x", Shape{3, 8}}, {"w", Shape{4, 8}}, {"b", Shape{5}}}, {}, st),
                    ErrorCode::kShape,
                    "input 'b' has shape [5], expected dimension 0 = 4 (N, the first dimension of w)");
  VLA_EXPECT_THROWS(run_f64("linear", {{"x", Shape{3, 8}}, {"w", Shape{4, 8, 1}}}, {}, st), ErrorCode::kShape,
                    "input 'w' has shape [4, 8, 1], expected rank 2");
  VLA_EXPECT_THROWS(
      run_f64("linear_backward", {{"x", Shape{2, 3, 8}}, {"w", Shape{4, 8}}, {"dy", Shape{6, 4}}}, {}, st),
      ErrorCode::kShape, "input 'dy' has shape [6, 4], expected [2, 3, 4] (the shape of y)");
  VLA_EXPECT_THROWS(run_f64("gemm", {{"a", Shape{2, 3}}, {"b", Shape{4, 5}}}, {}, st), ErrorCode::kShape,
                    "gemm: input 'b' has shape [4, 5], expected dimension 0 = 3 (K, the inner dimension");
  VLA_EXPECT_THROWS(run_f64("gemm", {{"a", Shape{3, 2}}, {"b", Shape{5, 4}}}, {{"trans_a", 1}, {"trans_b", 1}}, st),
                    ErrorCode::kShape, "input 'b' has shape [5, 4], expected dimension 1 = 3");
  VLA_EXPECT_THROWS(run_f64("gemm", {{"a", Shape{2, 3}}, {"b", Shape{3, 5}}, {"c", Shape{5, 2}}}, {{"beta", 1}}, st),
                    ErrorCode::kShape, "input 'c' has shape [5, 2], expected dimension 0 = 2 (M, the rows of op(a))");
  VLA_EXPECT_THROWS(run_f64("gemm", {{"a", Shape{2, 3}}, {"b", Shape{3, 5}}}, {{"beta", 0.5}}, st),
                    ErrorCode::kArgument, "beta = 0.5 needs input 'c'");
  VLA_EXPECT_THROWS(run_f64("gemm", {{"a", Shape{2, 3}}, {"b", Shape{3, 5}}}, {{"trans_a", 2}}, st),
                    ErrorCode::kArgument, "attribute 'trans_a' must be 0 or 1, got 2");
  VLA_EXPECT_THROWS(run_f64("gemm", {{"a", Shape{2, 3}}, {"b", Shape{3, 5}}}, {{"trans_b", 0.5}}, st),
                    ErrorCode::kArgument, "must be an integer");
  // Valid calls give the documented shapes, and the empty gradient of an absent optional input.
  auto y = run_f64("linear", {{"x", Shape{2, 3, 8}}, {"w", Shape{4, 8}}}, {}, st);
  VLA_EXPECT(y[0].view.shape == (Shape{2, 3, 4})) << y[0].view.shape.str();
  auto g = run_f64("linear_backward", {{"x", Shape{2, 3, 8}}, {"w", Shape{4, 8}}, {"dy", Shape{2, 3, 4}}}, {}, st);
  VLA_EXPECT(g[2].view.shape == (Shape{0})) << g[2].view.shape.str();
  auto o = run_f64("gemm", {{"a", Shape{3, 2}}, {"b", Shape{5, 3}}}, {{"trans_a", 1}, {"trans_b", 1}}, st);
  VLA_EXPECT(o[0].view.shape == (Shape{2, 5})) << o[0].view.shape.str();
}

// The plain functions the model calls: forward overwrites y, backward adds to what is there.
VLA_TEST(linear_ops, plain_functions_accumulate) {
  const int64_t M = 7, K = 5, N = 3;
  Rng rng(5);
  auto rnd = [&](int64_t n) {
    std::vector<double> v(static_cast<size_t>(n));
    for (auto& x : v) x = rng.range(-1, 1);
    return v;
  };
  std::vector<double> x = rnd(M * K), w = rnd(N * K), b = rnd(N), dy = rnd(M * N);
  std::vector<double> y(M * N, 99.0);
  linear_forward<double>(x.data(), w.data(), b.data(), y.data(), M, K, N);
  std::vector<double> dx0 = rnd(M * K), dw0 = rnd(N * K), db0 = rnd(N);
  std::vector<double> dx = dx0, dw = dw0, db = db0;
  linear_backward<double>(dy.data(), x.data(), w.data(), dx.data(), dw.data(), db.data(), M, K, N);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double ref = b[j];
      for (int64_t k = 0; k < K; ++k) ref += x[i * K + k] * w[j * K + k];
      VLA_EXPECT_NEAR(y[i * N + j], ref, 1e-12);
    }
  for (int64_t i = 0; i < M; ++i)
    for (int64_t k = 0; k < K; ++k) {
      double ref = dx0[i * K + k];
      for (int64_t j = 0; j < N; ++j) ref += dy[i * N + j] * w[j * K + k];
      VLA_EXPECT_NEAR(dx[i * K + k], ref, 1e-12);
    }
  for (int64_t j = 0; j < N; ++j) {
    double ref_b = db0[j];
    for (int64_t i = 0; i < M; ++i) ref_b += dy[i * N + j];
    VLA_EXPECT_NEAR(db[j], ref_b, 1e-12);
    for (int64_t k = 0; k < K; ++k) {
      double ref = dw0[j * K + k];
      for (int64_t i = 0; i < M; ++i) ref += dy[i * N + j] * x[i * K + k];
      VLA_EXPECT_NEAR(dw[j * K + k], ref, 1e-12);
    }
  }
  // Null gradients are skipped.
  linear_backward<double>(dy.data(), x.data(), w.data(), nullptr, nullptr, nullptr, M, K, N);
}

}  // namespace vla::test
