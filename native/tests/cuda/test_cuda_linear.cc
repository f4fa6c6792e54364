// Linear layers and the gemm op's backward on the device (cuda/linear_cuda.h) against the CPU
// ops (ops/linear.h), in fp32 (relative error < 1e-4): with and without bias, gradients
// accumulated onto nonzero values, null gradient pointers skipped, every transpose combination
// of gemm_op_backward.
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>

#include "cuda/gemm_cuda.h"
#include "cuda/linear_cuda.h"
#include "ops/linear.h"
#include "tests/cuda/cuda_test_support.h"

namespace vla::test {
namespace {

using gpu::testing::to_device;
using gpu::testing::to_host;

const float kNaN = std::numeric_limits<float>::quiet_NaN();

void report(const char* what, double worst) {
  if (std::getenv("VLA_TEST_VERBOSE")) std::printf("    %s: max relative error %.3g\n", what, worst);
}

// Runs the body with the process-wide math mode at fp32, restoring it after.
struct Fp32Mode {
  gpu::GemmMath before = gpu::gemm_math();
  Fp32Mode() { gpu::set_gemm_math(gpu::GemmMath::kFp32); }
  ~Fp32Mode() { gpu::set_gemm_math(before); }
};

VLA_CUDA_TEST(linear_forward) {
  VLA_REQUIRE_CUDA_DEVICE();
  Fp32Mode fp32;
  double worst = 0;
  const int64_t shapes[][3] = {{37, 70, 65}, {1, 33, 130}, {130, 7, 1}};  // M, K, N
  uint64_t seed = 10;
  for (const auto& s : shapes) {
    const int64_t M = s[0], K = s[1], N = s[2];
    auto x = random_floats(M * K, seed++), w = random_floats(N * K, seed++), b = random_floats(N, seed++);
    auto dx = to_device(x), dw = to_device(w), db = to_device(b);
    for (bool bias : {true, false}) {
      std::vector<float> ref(M * N);
      linear_forward<float>(x.data(), w.data(), bias ? b.data() : nullptr, ref.data(), M, K, N);
      auto dy = to_device(std::vector<float>(M * N, kNaN));  // y is overwritten, never read
      gpu::linear_forward(dx.as<float>(), dw.as<float>(), bias ? db.as<float>() : nullptr, dy.as<float>(), M, K, N);
      double e = max_rel_error(to_host<float>(dy, M * N), ref);
      worst = std::max(worst, e);
      VLA_EXPECT(e < 1e-4) << "M" << M << "K" << K << "N" << N << "bias" << bias << ": relative error" << e;
    }
  }
  report("linear forward", worst);
}

VLA_CUDA_TEST(linear_backward) {
  VLA_REQUIRE_CUDA_DEVICE();
  Fp32Mode fp32;
  double worst = 0;
  const int64_t shapes[][3] = {{37, 70, 65}, {130, 9, 33}, {1, 20, 3}};  // M, K, N
  uint64_t seed = 50;
  for (const auto& s : shapes) {
    const int64_t M = s[0], K = s[1], N = s[2];
    auto x = random_floats(M * K, seed++), w = random_floats(N * K, seed++), dy = random_floats(M * N, seed++);
    // Gradients start nonzero: backward accumulates.
    auto dx0 = random_floats(M * K, seed++), dw0 = random_floats(N * K, seed++), db0 = random_floats(N, seed++);
    auto d_x = to_device(x), d_w = to_device(w), d_dy = to_device(dy);
    // Which gradients to ask for: all, then each alone (the others null).
    for (int mask : {7, 1, 2, 4}) {
      const bool want_dx = mask & 1, want_dw = mask & 2, want_db = mask & 4;
      auto rdx = dx0, rdw = dw0, rdb = db0;
      linear_backward<float>(dy.data(), x.data(), w.data(), want_dx ? rdx.data() : nullptr,
                             want_dw ? rdw.data() : nullptr, want_db ? rdb.data() : nullptr, M, K, N);
      auto gdx = to_device(dx0), gdw = to_device(dw0), gdb = to_device(db0);
      gpu::linear_backward(d_dy.as<float>(), d_x.as<float>(), d_w.as<float>(), want_dx ? gdx.as<float>() : nullptr,
                           want_dw ? gdw.as<float>() : nullptr, want_db ? gdb.as<float>() : nullptr, M, K, N);
      // Gradients not asked for stay as they were (rdx == dx0 then).
      const std::pair<const char*, double> errors[] = {
          {"dx", max_rel_error(to_host<float>(gdx, M * K), rdx)},
          {"dw", max_rel_error(to_host<float>(gdw, N * K), rdw)},
          {"db", max_rel_error(to_host<float>(gdb, N), rdb)},
      };
      for (const auto& [name, e] : errors) {
        worst = std::max(worst, e);
        VLA_EXPECT(e < 1e-4) << name << "M" << M << "K" << K << "N" << N << "mask" << mask << ": relative error" << e;
      }
    }
  }
  report("linear backward", worst);
}

VLA_CUDA_TEST(gemm_op_backward) {
  VLA_REQUIRE_CUDA_DEVICE();
  Fp32Mode fp32;
  double worst = 0;
  const int64_t M = 19, N = 33, K = 41;
  const float alpha = 0.7f, beta = -1.3f;
  uint64_t seed = 300;
  for (int t = 0; t < 4; ++t) {
    const bool ta = t & 1, tb = t & 2;
    auto a = random_floats(M * K, seed++), b = random_floats(K * N, seed++), dout = random_floats(M * N, seed++);
    auto da0 = random_floats(M * K, seed++), db0 = random_floats(K * N, seed++), dc0 = random_floats(M * N, seed++);
    auto d_a = to_device(a), d_b = to_device(b), d_dout = to_device(dout);
    for (int mask : {7, 1, 2, 4}) {
      const bool want_da = mask & 1, want_db = mask & 2, want_dc = mask & 4;
      auto rda = da0, rdb = db0, rdc = dc0;
      gemm_op_backward<float>(ta, tb, M, N, K, alpha, beta, a.data(), b.data(), dout.data(),
                              want_da ? rda.data() : nullptr, want_db ? rdb.data() : nullptr,
                              want_dc ? rdc.data() : nullptr);
      auto gda = to_device(da0), gdb = to_device(db0), gdc = to_device(dc0);
      gpu::gemm_op_backward(ta, tb, M, N, K, alpha, beta, d_a.as<float>(), d_b.as<float>(), d_dout.as<float>(),
                            want_da ? gda.as<float>() : nullptr, want_db ? gdb.as<float>() : nullptr,
                            want_dc ? gdc.as<float>() : nullptr);
      const std::pair<const char*, double> errors[] = {
          {"da", max_rel_error(to_host<float>(gda, M * K), rda)},
          {"db", max_rel_error(to_host<float>(gdb, K * N), rdb)},
          {"dc", max_rel_error(to_host<float>(gdc, M * N), rdc)},
      };
      for (const auto& [name, e] : errors) {
        worst = std::max(worst, e);
        VLA_EXPECT(e < 1e-4) << name << "ta" << ta << "tb" << tb << "mask" << mask << ": relative error" << e;
      }
    }
  }
  report("gemm_op backward", worst);
}

}  // namespace
}  // namespace vla::test
