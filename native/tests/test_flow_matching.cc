#include <cmath>
#include <limits>

#include "tests/gradcheck.h"
#include "tests/op_call_helpers.h"
#include "tests/test_framework.h"

namespace vla::test {

VLA_TEST(flow_matching, loss_gradcheck) {
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    Rng rng(seed);
    const int64_t B = 1 + rng.below(4), H = 1 + rng.below(6), A = 1 + rng.below(5);  // [B, horizon, action dim]
    const Shape s{B, H, A};
    GradCase c{{random_input(rng, "v", s), random_input(rng, "eps", s), random_input(rng, "actions", s)}, {}};
    if (seed % 2 == 0) {
      CaseInput w{"weights", DType::kF64, Shape{B}, {}};
      for (int64_t b = 0; b < B; ++b) w.values.push_back(rng.range(0.2, 1.5));
      c.inputs.push_back(w);
    }
    expect_gradcheck("flow_matching_loss", c, seed);
  }
}

VLA_TEST(flow_matching, interpolate_gradcheck) {
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    Rng rng(seed);
    const int64_t B = 1 + rng.below(4), H = 1 + rng.below(6), A = 1 + rng.below(5);
    const Shape s = seed == 3 ? Shape{B} : Shape{B, H, A};
    CaseInput t{"t", DType::kF64, Shape{B}, {}};
    for (int64_t b = 0; b < B; ++b) t.values.push_back(rng.range(0.05, 0.95));  // inside [0, 1] after +-h
    GradCase c{{random_input(rng, "eps", s), random_input(rng, "actions", s), t}, {}};
    expect_gradcheck("flow_interpolate", c, seed);
  }
}

VLA_TEST(flow_matching, openpi_conventions) {
  // t = 1 is pure noise, t = 0 the actions; the loss is mse_loss against u = eps - actions.
  std::vector<double> eps = {1.0, -2.0, 0.5, 4.0}, actions = {0.25, 0.75, -1.0, 2.0}, t = {1.0, 0.0};
  auto x = values_of<double>(call_op("flow_interpolate", {{"eps", view_of(eps, Shape{2, 2})},
                                                          {"actions", view_of(actions, Shape{2, 2})},
                                                          {"t", view_of(t, Shape{2})}})[0]);
  VLA_EXPECT(x[0] == eps[0] && x[1] == eps[1] && x[2] == actions[2] && x[3] == actions[3]);
  t = {0.25, 0.5};
  x = values_of<double>(call_op("flow_interpolate", {{"eps", view_of(eps, Shape{2, 2})},
                                                     {"actions", view_of(actions, Shape{2, 2})},
                                                     {"t", view_of(t, Shape{2})}})[0]);
  VLA_EXPECT_NEAR(x[0], 0.25 * 1.0 + 0.75 * 0.25, 1e-15);
  VLA_EXPECT_NEAR(x[3], 0.5 * 4.0 + 0.5 * 2.0, 1e-15);

  Rng rng(3);
  std::vector<double> v = random_values<double>(rng, 4), w = {0.3, 1.7};
  std::vector<double> u(4);
  for (int i = 0; i < 4; ++i) u[i] = eps[i] - actions[i];
  auto fm = call_op("flow_matching_loss", {{"v", view_of(v, Shape{2, 2})}, {"eps", view_of(eps, Shape{2, 2})},
                                           {"actions", view_of(actions, Shape{2, 2})}, {"weights", view_of(w, Shape{2})}});
  auto mse = call_op("mse_loss", {{"pred", view_of(v, Shape{2, 2})}, {"target", view_of(u, Shape{2, 2})},
                                  {"weights", view_of(w, Shape{2})}});
  VLA_EXPECT_NEAR(fm[0].view.ptr<double>()[0], mse[0].view.ptr<double>()[0], 1e-15);
  for (int b = 0; b < 2; ++b) VLA_EXPECT_NEAR(fm[1].view.ptr<double>()[b], mse[1].view.ptr<double>()[b], 1e-15);
  // The exact field gives zero loss: v = u.
  auto zero = call_op("flow_matching_loss", {{"v", view_of(u, Shape{2, 2})}, {"eps", view_of(eps, Shape{2, 2})},
                                             {"actions", view_of(actions, Shape{2, 2})}});
  VLA_EXPECT(zero[0].view.ptr<double>()[0] == 0.0);
}

VLA_TEST(flow_matching, errors_and_zero_batch) {
  std::vector<float> a(6, 0.5f), b(6, 0.25f), c(6, 0.125f), t = {0.5f, 1.5f};
  VLA_EXPECT_THROWS(call_op("flow_interpolate", {{"eps", view_of(a, Shape{2, 3})}, {"actions", view_of(b, Shape{2, 3})},
                                                 {"t", view_of(t, Shape{2})}}),
                    ErrorCode::kValue, "input 't' has value 1.5 at [1]; expected a time in [0, 1]");
  t[1] = std::numeric_limits<float>::quiet_NaN();
  VLA_EXPECT_THROWS(call_op("flow_interpolate", {{"eps", view_of(a, Shape{2, 3})}, {"actions", view_of(b, Shape{2, 3})},
                                                 {"t", view_of(t, Shape{2})}}),
                    ErrorCode::kValue, "input 't' has value nan at [1]; expected a time in [0, 1]");
  t[1] = 0.5f;
  VLA_EXPECT_THROWS(call_op("flow_interpolate", {{"eps", view_of(a, Shape{2, 3})}, {"actions", view_of(b, Shape{2, 3})},
                                                 {"t", view_of(t, Shape{1, 2})}}),
                    ErrorCode::kShape, "input 't' has shape [1, 2], expected [2]");
  VLA_EXPECT_THROWS(call_op("flow_matching_loss", {{"v", view_of(a, Shape{2, 3})}, {"eps", view_of(b, Shape{2, 3})},
                                                   {"actions", view_of(c, Shape{3, 2})}}),
                    ErrorCode::kShape, "input 'actions' has shape [3, 2], expected [2, 3] (the shape of 'v')");
  a[2] = -std::numeric_limits<float>::infinity();
  VLA_EXPECT_THROWS(call_op("flow_matching_loss", {{"v", view_of(a, Shape{2, 3})}, {"eps", view_of(b, Shape{2, 3})},
                                                   {"actions", view_of(c, Shape{2, 3})}}),
                    ErrorCode::kValue, "input 'v' has a non-finite value (NaN or Inf) at flat index 2");
  // B = 0: the interpolation is empty; the loss (a mean over the batch) is an error.
  std::vector<float> none;
  VLA_EXPECT(call_op("flow_interpolate", {{"eps", view_of(none, Shape{0, 3})}, {"actions", view_of(none, Shape{0, 3})},
                                          {"t", view_of(none, Shape{0})}})[0]
                 .view.numel() == 0);
  VLA_EXPECT_THROWS(call_op("flow_matching_loss", {{"v", view_of(none, Shape{0, 3})}, {"eps", view_of(none, Shape{0, 3})},
                                                   {"actions", view_of(none, Shape{0, 3})}}),
                    ErrorCode::kShape, "input 'v' has shape [0, 3], expected [B, ...] with B >= 1");
}

}  // namespace vla::test
