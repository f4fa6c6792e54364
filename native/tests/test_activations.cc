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
