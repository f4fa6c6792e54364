#include <cmath>
#include <cstring>
#include <vector>

#include "core/cpu_features.h"
#include "tests/gradcheck.h"
#include "tests/test_framework.h"

namespace vla::test {

VLA_TEST(activations, pointwise_gradcheck) {
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    Rng rng(seed);
    Shape s{1 + static_cast<int64_t>(rng.below(5)), 1 + static_cast<int64_t>(rng.below(40))};
    for (const char* op : {"silu", "gelu_tanh"}) {
      GradCase c{{random_input(rng, "x", s, 2.0)}, {}};
      expect_gradcheck(op, c, seed);
    }
  }
}

VLA_TEST(activations, geglu_gradcheck) {
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    Rng rng(seed);
    int64_t M = 1 + rng.below(6), F = 1 + rng.below(20);
    GradCase c{{random_input(rng, "x", Shape{M, 2 * F}, 1.5)}, {}};
    expect_gradcheck("geglu", c, seed);
  }
}

VLA_TEST(activations, geglu_rejects_odd_width) {
  Rng rng(7);
  GradCase c{{random_input(rng, "x", Shape{3, 5})}, {}};
  VLA_EXPECT_THROWS(gradcheck("geglu", c, 1), ErrorCode::kShape, "even last dimension");
}

VLA_TEST(activations, known_values) {
  // gelu_tanh(1) = 0.8411919906082768; silu(1) = 0.7310585786300049.
  GradCase c{{CaseInput{"x", DType::kF64, Shape{1}, {1.0}}}, {}};
  const OpDef& gelu = find_op("gelu_tanh");
  double one = 1.0;
  OpCall call = make_call(gelu, {{"x", AnyTensor{&one, DType::kF64, Shape{1}}}}, {});
  auto out = run_call_owned(call);
  VLA_EXPECT_NEAR(out[0].view.ptr<double>()[0], 0.8411919906082768, 1e-15);
  OpCall call2 = make_call(find_op("silu"), {{"x", AnyTensor{&one, DType::kF64, Shape{1}}}}, {});
  auto out2 = run_call_owned(call2);
  VLA_EXPECT_NEAR(out2[0].view.ptr<double>()[0], 0.7310585786300049, 1e-15);
}

}  // namespace vla::test

namespace vla::test {

VLA_TEST(activations, float_kernels_saturate_and_agree_across_isas) {
  // Large |x| must saturate cleanly (no Inf/NaN from the exponential), and the AVX2 kernels must
  // agree with the portable ones and with float64.
  std::vector<float> x = {-1000.f, -100.f, -30.f, -9.f, -3.f, -0.5f, 0.f, 0.25f, 2.f, 7.f, 40.f, 100.f, 1000.f,
                          -88.f, 88.f, 1e-8f, -1e-8f};
  while (x.size() % 8 != 3) x.push_back(0.1f * static_cast<float>(x.size()));  // exercise the scalar tail
  const int64_t n = static_cast<int64_t>(x.size());
  auto run = [&](const char* op) {
    std::vector<float> y(x.size());
    OpCall call = make_call(find_op(op), {{"x", AnyTensor{x.data(), DType::kF32, Shape{n}}}}, {});
    auto out = run_call_owned(call);
    std::memcpy(y.data(), out[0].view.data, y.size() * sizeof(float));
    return y;
  };
  for (const char* op : {"gelu_tanh", "silu"}) {
    std::vector<double> xd(x.begin(), x.end());
    OpCall call = make_call(find_op(op), {{"x", AnyTensor{xd.data(), DType::kF64, Shape{n}}}}, {});
    auto ref = run_call_owned(call);
    const double* yd = ref[0].view.ptr<double>();
    std::vector<float> avx = run(op);
    bool have_avx2 = hardware_isa() != Isa::kGeneric;
    set_isa_cap(Isa::kGeneric);
    std::vector<float> gen = run(op);
    if (have_avx2) set_isa_cap(hardware_isa());
    for (int64_t i = 0; i < n; ++i) {
      VLA_EXPECT(std::isfinite(avx[i]) && std::isfinite(gen[i])) << op << x[i];
      double tol = 1e-6 * std::max(1.0, std::fabs(yd[i]));
      VLA_EXPECT_NEAR(avx[i], yd[i], tol) << op << "avx" << x[i];
      VLA_EXPECT_NEAR(gen[i], yd[i], tol) << op << "generic" << x[i];
    }
  }
}

}  // namespace vla::test
