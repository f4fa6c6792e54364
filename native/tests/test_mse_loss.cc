#include <cmath>
#include <limits>

#include "tests/gradcheck.h"
#include "tests/op_call_helpers.h"
#include "tests/test_framework.h"

namespace vla::test {

namespace {
CaseInput random_weights(Rng& rng, int64_t B) {
  CaseInput w{"weights", DType::kF64, Shape{B}, {}};
  for (int64_t b = 0; b < B; ++b) w.values.push_back(rng.range(0.1, 2.0));
  return w;
}
}  // namespace

VLA_TEST(mse_loss, gradcheck_with_and_without_weights) {
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    Rng rng(seed);
    const int64_t B = seed == 1 ? 1 : 1 + rng.below(5);
    Shape s{B};
    if (seed % 3 != 0) s.push_back(1 + rng.below(7));  // [B], [B, J] and [B, H, A]
    if (seed % 2 == 0) s.push_back(1 + rng.below(4));
    GradCase c{{random_input(rng, "pred", s), random_input(rng, "target", s)}, {}};
    if (seed % 2 == 1) c.inputs.push_back(random_weights(rng, B));
    expect_gradcheck("mse_loss", c, seed);
  }
}

VLA_TEST(mse_loss, known_values) {
  // per_sample = [(1 + 4) / 2, (9 + 25) / 2] = [2.5, 17]; weights [1, 0.5]: loss = (2.5 + 8.5) / 2 = 5.5.
  std::vector<double> pred = {1, 2, 3, 5}, target = {0, 0, 0, 0}, w = {1, 0.5};
  auto out = call_op("mse_loss", {{"pred", view_of(pred, Shape{2, 2})}, {"target", view_of(target, Shape{2, 2})},
                                  {"weights", view_of(w, Shape{2})}});
  VLA_EXPECT(out[0].view.shape == Shape{} && out[1].view.shape == Shape{2});
  VLA_EXPECT_NEAR(out[0].view.ptr<double>()[0], 5.5, 1e-15);
  VLA_EXPECT_NEAR(out[1].view.ptr<double>()[0], 2.5, 1e-15);
  VLA_EXPECT_NEAR(out[1].view.ptr<double>()[1], 17.0, 1e-15);
  // Unweighted: (2.5 + 17) / 2. Gradient of the loss alone: dpred = w_b / B * 2 (pred - target) / J.
  auto plain = call_op("mse_loss", {{"pred", view_of(pred, Shape{2, 2})}, {"target", view_of(target, Shape{2, 2})}});
  VLA_EXPECT_NEAR(plain[0].view.ptr<double>()[0], 9.75, 1e-15);
  std::vector<double> dloss = {1.0};
  auto g = call_op("mse_loss_backward", {{"pred", view_of(pred, Shape{2, 2})}, {"target", view_of(target, Shape{2, 2})},
                                         {"weights", view_of(w, Shape{2})}, {"dloss", view_of(dloss, Shape{})}});
  std::vector<double> dpred = values_of<double>(g[0]), dtarget = values_of<double>(g[1]);
  const double expect[] = {0.5 * 1, 0.5 * 2, 0.25 * 3, 0.25 * 5};
  for (int i = 0; i < 4; ++i) {
    VLA_EXPECT_NEAR(dpred[i], expect[i], 1e-15);
    VLA_EXPECT_NEAR(dtarget[i], -expect[i], 1e-15);
  }
}

VLA_TEST(mse_loss, errors) {
  std::vector<float> a(6, 0.5f), b(6, 0.25f), w = {1.f, -1.f};
  VLA_EXPECT_THROWS(call_op("mse_loss", {{"pred", view_of(a, Shape{2, 3})}, {"target", view_of(b, Shape{3, 2})}}),
                    ErrorCode::kShape, "input 'target' has shape [3, 2], expected [2, 3] (the shape of 'pred')");
  VLA_EXPECT_THROWS(call_op("mse_loss", {{"pred", view_of(a, Shape{2, 3})}, {"target", view_of(b, Shape{2, 3})},
                                         {"weights", view_of(w, Shape{2})}}),
                    ErrorCode::kValue, "input 'weights' has value -1 at [1]; expected >= 0");
  VLA_EXPECT_THROWS(call_op("mse_loss", {{"pred", view_of(a, Shape{2, 3})}, {"target", view_of(b, Shape{2, 3})},
                                         {"weights", view_of(w, Shape{1, 2})}}),
                    ErrorCode::kShape, "input 'weights' has shape [1, 2], expected [2] (one value per sample of 'pred')");
  std::vector<float> none;
  VLA_EXPECT_THROWS(call_op("mse_loss", {{"pred", view_of(none, Shape{0, 3})}, {"target", view_of(none, Shape{0, 3})}}),
                    ErrorCode::kShape, "expected [B, ...] with B >= 1");
  VLA_EXPECT_THROWS(call_op("mse_loss", {{"pred", view_of(none, Shape{2, 0})}, {"target", view_of(none, Shape{2, 0})}}),
                    ErrorCode::kShape, "at least one element per sample");
  VLA_EXPECT_THROWS(call_op("mse_loss", {{"pred", view_of(a, Shape{})}, {"target", view_of(b, Shape{})}}),
                    ErrorCode::kShape, "input 'pred' has shape [], expected rank >= 1");
  a[4] = std::numeric_limits<float>::infinity();
  VLA_EXPECT_THROWS(call_op("mse_loss", {{"pred", view_of(a, Shape{2, 3})}, {"target", view_of(b, Shape{2, 3})}}),
                    ErrorCode::kValue, "input 'pred' has a non-finite value (NaN or Inf) at flat index 4");
  a[4] = 0.5f;
  b[0] = std::numeric_limits<float>::quiet_NaN();
  VLA_EXPECT_THROWS(call_op("mse_loss", {{"pred", view_of(a, Shape{2, 3})}, {"target", view_of(b, Shape{2, 3})}}),
                    ErrorCode::kValue, "input 'target' has a non-finite value");
  std::vector<float> dper = {1.f, 1.f, 1.f};
  b[0] = 0.25f;
  VLA_EXPECT_THROWS(call_op("mse_loss_backward", {{"pred", view_of(a, Shape{2, 3})}, {"target", view_of(b, Shape{2, 3})},
                                                  {"dper_sample", view_of(dper, Shape{3})}}),
                    ErrorCode::kShape, "input 'dper_sample' has shape [3], expected [2] (like per_sample)");
}

}  // namespace vla::test
