// GEMM on the device (cuda/gemm_cuda.h) against the CPU gemm (ops/gemm.h): every transpose
// combination, odd sizes across tile edges, leading dimensions above the minimum (their padding
// NaN-filled: never read, never written), alpha/beta, beta == 0 over a NaN-filled C, alpha == 0
// and K == 0 over NaN-filled A and B. fp32: relative error < 1e-4, through the dispatcher (cuBLAS
// when the build has it) and through the own kernel. The tf32 and bf16 modes are checked against
// looser bounds where cuBLAS runs them, and checked to be no-ops (bitwise fp32) where it does not.
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>

#include "core/error.h"
#include "cuda/gemm_cuda.h"
#include "ops/gemm.h"
#include "tests/cuda/cuda_test_support.h"

namespace vla::test {
namespace {

using gpu::testing::to_device;
using gpu::testing::to_host;

const float kNaN = std::numeric_limits<float>::quiet_NaN();

using GemmFn = void (*)(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t,
                        float, float*, int64_t);

struct Case {
  bool ta, tb;
  int64_t M, N, K;
  int64_t pad_a = 0, pad_b = 0, pad_c = 0;  // leading dimension minus its minimum
  float alpha = 1.0f, beta = 0.0f;
};

std::string describe(const Case& c, const char* backend) {
  char s[200];
  std::snprintf(s, sizeof s, "%s ta=%d tb=%d M=%lld N=%lld K=%lld pads=%lld,%lld,%lld alpha=%g beta=%g", backend,
                int(c.ta), int(c.tb), (long long)c.M, (long long)c.N, (long long)c.K, (long long)c.pad_a,
                (long long)c.pad_b, (long long)c.pad_c, c.alpha, c.beta);
  return s;
}

// A stored [rows, cols] matrix with row stride cols + pad: random values, NaN in the padding (or
// NaN everywhere when `poison`: a matrix the GEMM must not read).
std::vector<float> make_matrix(int64_t rows, int64_t cols, int64_t pad, uint64_t seed, bool poison) {
  const int64_t ld = cols + pad;
  std::vector<float> m(static_cast<size_t>(std::max<int64_t>(rows * ld, 1)), kNaN);
  if (poison) return m;
  auto values = random_floats(rows * cols, seed);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) m[r * ld + c] = values[r * cols + c];
  return m;
}

// Runs one case on the device through `fn` and on the CPU; returns the relative error over C's
// logical [M, N] and fails the test if the padding of C was written.
double run_case(const Case& c, GemmFn fn, const char* backend, uint64_t seed) {
  const int64_t a_rows = c.ta ? c.K : c.M, a_cols = c.ta ? c.M : c.K;
  const int64_t b_rows = c.tb ? c.N : c.K, b_cols = c.tb ? c.K : c.N;
  const int64_t lda = a_cols + c.pad_a, ldb = b_cols + c.pad_b, ldc = c.N + c.pad_c;
  const bool skip_ab = c.alpha == 0.0f || c.K == 0;
  auto A = make_matrix(a_rows, a_cols, c.pad_a, seed, skip_ab);
  auto B = make_matrix(b_rows, b_cols, c.pad_b, seed + 1, skip_ab);
  auto C = make_matrix(c.M, c.N, c.pad_c, seed + 2, c.beta == 0.0f);  // beta == 0: C must not be read

  auto ref = C;
  gemm<float>(c.ta, c.tb, c.M, c.N, c.K, c.alpha, A.data(), lda, B.data(), ldb, c.beta, ref.data(), ldc);

  auto dA = to_device(A), dB = to_device(B), dC = to_device(C);
  fn(c.ta, c.tb, c.M, c.N, c.K, c.alpha, dA.as<float>(), lda, dB.as<float>(), ldb, c.beta, dC.as<float>(), ldc);
  auto out = to_host<float>(dC, C.size());

  std::vector<float> got, want;
  int64_t pad_written = 0;
  for (int64_t r = 0; r < c.M; ++r) {
    for (int64_t j = 0; j < c.N; ++j) {
      got.push_back(out[r * ldc + j]);
      want.push_back(ref[r * ldc + j]);
    }
    for (int64_t j = c.N; j < ldc; ++j) pad_written += !std::isnan(out[r * ldc + j]);
  }
  VLA_EXPECT(pad_written == 0) << describe(c, backend) << ": wrote" << pad_written << "padding elements of C";
  return max_rel_error(got, want);
}

void report(const char* what, double worst) {
  if (std::getenv("VLA_TEST_VERBOSE")) std::printf("    %s: max relative error %.3g\n", what, worst);
}

// The backends to check in fp32: the dispatcher always; the own kernel too when the dispatcher
// runs cuBLAS (otherwise it is the same kernel).
struct Backend {
  const char* name;
  GemmFn fn;
};
std::vector<Backend> fp32_backends() {
  GemmFn dispatch = [](bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                       const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    gpu::gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, gpu::GemmMath::kFp32);
  };
  std::vector<Backend> b{{gpu::gemm_backend_name(), dispatch}};
  if (gpu::gemm_has_cublas()) b.push_back({"own", &gpu::gemm_own});
  return b;
}

VLA_CUDA_TEST(gemm_shapes) {
  VLA_REQUIRE_CUDA_DEVICE();
  const int64_t sizes[][3] = {{1, 1, 1}, {7, 33, 65}, {65, 7, 130}, {33, 130, 7}, {130, 65, 33}, {64, 64, 16}};
  double worst = 0;
  uint64_t seed = 100;
  for (const auto& backend : fp32_backends()) {
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      for (const auto& s : sizes) {
        Case c{ta, tb, s[0], s[1], s[2]};
        double e = run_case(c, backend.fn, backend.name, seed += 3);
        worst = std::max(worst, e);
        VLA_EXPECT(e < 1e-4) << describe(c, backend.name) << ": relative error" << e;
      }
      // Padded leading dimensions, alpha and beta, several M tiles and K steps.
      for (Case c : {Case{ta, tb, 70, 129, 257, 3, 5, 2, -0.75f, 0.5f}, Case{ta, tb, 7, 33, 65, 1, 64, 31, 2.0f, 1.0f},
                     Case{ta, tb, 130, 1, 20, 0, 7, 9, 1.5f, -2.0f}}) {
        double e = run_case(c, backend.fn, backend.name, seed += 3);
        worst = std::max(worst, e);
        VLA_EXPECT(e < 1e-4) << describe(c, backend.name) << ": relative error" << e;
      }
    }
  }
  report("gemm shapes (fp32)", worst);
}

VLA_CUDA_TEST(gemm_alpha_beta_edges) {
  VLA_REQUIRE_CUDA_DEVICE();
  double worst = 0;
  uint64_t seed = 500;
  for (const auto& backend : fp32_backends()) {
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      const Case cases[] = {
          {ta, tb, 33, 65, 17, 2, 3, 4, 0.0f, 0.5f},   // alpha == 0: C = beta C, A and B (NaN) unread
          {ta, tb, 33, 65, 17, 2, 3, 4, 0.0f, 0.0f},   // alpha == 0, beta == 0: C = 0 over NaN
          {ta, tb, 33, 65, 0, 0, 0, 1, 1.0f, 0.0f},    // K == 0, beta == 0: zeros
          {ta, tb, 33, 65, 0, 0, 0, 1, 1.0f, -2.0f},   // K == 0: C = beta C
          {ta, tb, 9, 40, 70, 0, 0, 0, 1.0f, 1.0f},    // accumulate
          {ta, tb, 9, 40, 70, 1, 1, 1, -1.0f, 0.0f},   // negative alpha over a NaN C
      };
      for (const Case& c : cases) {
        double e = run_case(c, backend.fn, backend.name, seed += 3);
        worst = std::max(worst, e);
        VLA_EXPECT(e < 1e-4) << describe(c, backend.name) << ": relative error" << e;
      }
    }
    // M == 0 or N == 0: nothing is touched (C stays NaN; null pointers are fine).
    gpu::DeviceBuffer c(16 * sizeof(float));
    std::vector<float> nan16(16, kNaN);
    c.upload(nan16.data(), 16 * sizeof(float));
    backend.fn(false, false, 0, 4, 4, 1.0f, nullptr, 4, nullptr, 4, 0.0f, c.as<float>(), 4);
    backend.fn(false, false, 4, 0, 4, 1.0f, nullptr, 4, nullptr, 4, 0.0f, c.as<float>(), 4);
    int64_t touched = 0;
    for (float v : to_host<float>(c, 16)) touched += !std::isnan(v);
    VLA_EXPECT(touched == 0) << backend.name << ": an empty GEMM wrote" << touched << "elements";
  }
  report("gemm alpha/beta edges (fp32)", worst);
}

VLA_CUDA_TEST(gemm_arguments_and_backend) {
  VLA_REQUIRE_CUDA_DEVICE();
  VLA_EXPECT(std::string(gpu::gemm_backend_name()) == (gpu::gemm_has_cublas() ? "cublas" : "own"));
#if defined(VLA_CUDA_EMULATION)
  VLA_EXPECT(!gpu::gemm_has_cublas()) << "the emulator never runs cuBLAS";
#endif
  gpu::DeviceBuffer buf(64 * sizeof(float));
  float* p = buf.as<float>();
  VLA_EXPECT_THROWS(gpu::gemm(false, false, 4, 4, 4, 1.0f, p, 4, p, 4, 0.0f, p, 3), ErrorCode::kArgument, "ldc");
  VLA_EXPECT_THROWS(gpu::gemm(true, false, 4, 4, 2, 1.0f, p, 2, p, 4, 0.0f, p, 4), ErrorCode::kArgument, "lda");
  VLA_EXPECT_THROWS(gpu::gemm_own(false, true, 4, 4, 5, 1.0f, p, 5, p, 4, 0.0f, p, 4), ErrorCode::kArgument, "ldb");
  VLA_EXPECT_THROWS(gpu::gemm(false, false, -1, 4, 4, 1.0f, p, 4, p, 4, 0.0f, p, 4), ErrorCode::kArgument,
                    "negative");

  const gpu::GemmMath before = gpu::gemm_math();
  gpu::set_gemm_math(gpu::GemmMath::kTf32);
  VLA_EXPECT(gpu::gemm_math() == gpu::GemmMath::kTf32);
  VLA_EXPECT(std::string(gpu::gemm_math_name(gpu::gemm_math())) == "tf32");
  gpu::set_gemm_math(before);
}

// tf32 and bf16: within 5e-3 and 1e-2 of the fp32 CPU product where cuBLAS runs them; bitwise
// equal to the fp32 result where they are no-ops (the own kernel: the emulator, builds without
// cuBLAS). Also through the process-wide setting.
VLA_CUDA_TEST(gemm_math_modes) {
  VLA_REQUIRE_CUDA_DEVICE();
  const gpu::GemmMath before = gpu::gemm_math();
  const bool cublas = gpu::gemm_has_cublas();
  const int64_t M = 45, N = 70, K = 130;
  double worst_tf32 = 0, worst_bf16 = 0;
  uint64_t seed = 900;
  for (int t = 0; t < 4; ++t) {
    const bool ta = t & 1, tb = t & 2;
    const Case c{ta, tb, M, N, K, 3, 0, 5, 1.25f, 0.5f};
    const int64_t lda = (ta ? M : K) + c.pad_a, ldb = (tb ? K : N) + c.pad_b, ldc = N + c.pad_c;
    auto A = make_matrix(ta ? K : M, ta ? M : K, c.pad_a, seed += 3, false);
    auto B = make_matrix(tb ? N : K, tb ? K : N, c.pad_b, seed += 3, false);
    auto C = make_matrix(M, N, c.pad_c, seed += 3, false);
    auto ref = C;
    gemm<float>(ta, tb, M, N, K, c.alpha, A.data(), lda, B.data(), ldb, c.beta, ref.data(), ldc);
    auto dA = to_device(A), dB = to_device(B);

    auto run = [&](gpu::GemmMath math, bool process_wide) {
      auto dC = to_device(C);
      if (process_wide) {
        gpu::set_gemm_math(math);
        gpu::gemm(ta, tb, M, N, K, c.alpha, dA.as<float>(), lda, dB.as<float>(), ldb, c.beta, dC.as<float>(), ldc);
      } else {
        gpu::gemm(ta, tb, M, N, K, c.alpha, dA.as<float>(), lda, dB.as<float>(), ldb, c.beta, dC.as<float>(), ldc,
                  math);
      }
      gpu::set_gemm_math(before);
      auto out = to_host<float>(dC, C.size());
      std::vector<float> got, want;
      for (int64_t r = 0; r < M; ++r)
        for (int64_t j = 0; j < ldc; ++j) {
          if (j < N) {
            got.push_back(out[r * ldc + j]);
            want.push_back(ref[r * ldc + j]);
          } else {
            VLA_EXPECT(std::isnan(out[r * ldc + j])) << describe(c, gpu::gemm_math_name(math)) << ": padding written";
          }
        }
      return std::make_pair(got, want);
    };

    auto [fp32, want] = run(gpu::GemmMath::kFp32, false);
    double e32 = max_rel_error(fp32, want);
    VLA_EXPECT(e32 < 1e-4) << describe(c, "fp32") << ": relative error" << e32;
    for (bool process_wide : {false, true}) {
      auto tf32 = run(gpu::GemmMath::kTf32, process_wide).first;
      auto bf16 = run(gpu::GemmMath::kBf16, process_wide).first;
      if (cublas) {
        double et = max_rel_error(tf32, want), eb = max_rel_error(bf16, want);
        worst_tf32 = std::max(worst_tf32, et);
        worst_bf16 = std::max(worst_bf16, eb);
        VLA_EXPECT(et < 5e-3) << describe(c, "tf32") << ": relative error" << et;
        VLA_EXPECT(eb < 1e-2) << describe(c, "bf16") << ": relative error" << eb;
      } else {  // the own kernel: fp32 whatever the mode
        VLA_EXPECT(tf32 == fp32) << describe(c, "tf32") << ": not the fp32 result without cuBLAS";
        VLA_EXPECT(bf16 == fp32) << describe(c, "bf16") << ": not the fp32 result without cuBLAS";
      }
    }
  }
  VLA_EXPECT(gpu::gemm_math() == before);
  if (cublas) {
    report("gemm tf32", worst_tf32);
    report("gemm bf16", worst_bf16);
  } else {
    report("gemm math modes: no-ops on the own kernel; max relative error", 0.0);
  }
}

}  // namespace
}  // namespace vla::test
