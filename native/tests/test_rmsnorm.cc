#include <cmath>

#include "core/thread_pool.h"
#include "tests/gradcheck.h"
#include "tests/op_call_helpers.h"
#include "tests/test_framework.h"

namespace vla::test {

VLA_TEST(rmsnorm, gradcheck_random_shapes) {
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    Rng rng(seed);
    Shape s;
    const int rank = 1 + static_cast<int>(rng.below(3));
    for (int a = 0; a + 1 < rank; ++a) s.push_back(1 + static_cast<int64_t>(rng.below(5)));
    const int64_t C = seed == 1 ? 1 : 1 + static_cast<int64_t>(rng.below(40));
    s.push_back(C);
    GradCase c{{random_input(rng, "x", s, 2.0), random_input(rng, "w", Shape{C})}, {}};
    if (seed % 2 == 0) c.attrs = {{"eps", 0.25}};  // eps large enough to matter in the gradient
    expect_gradcheck("rmsnorm", c, seed);
  }
}

VLA_TEST(rmsnorm, known_values) {
  // x = [3, 4]: mean(x^2) = 12.5; w = [1, 2]; eps = 0.5 -> rstd = 1 / sqrt(13) = 0.27735009811261457
  std::vector<double> x = {3, 4}, w = {1, 2};
  auto out = call_op("rmsnorm", {{"x", view_of(x, Shape{1, 2})}, {"w", view_of(w, Shape{2})}}, {{"eps", 0.5}});
  const double r = 1.0 / std::sqrt(13.0);
  VLA_EXPECT(out[1].view.shape == Shape{1});
  VLA_EXPECT_NEAR(out[1].view.ptr<double>()[0], r, 1e-16);
  VLA_EXPECT_NEAR(out[0].view.ptr<double>()[0], 3 * r, 1e-15);
  VLA_EXPECT_NEAR(out[0].view.ptr<double>()[1], 8 * r, 1e-15);
}

VLA_TEST(rmsnorm, dw_independent_of_thread_count) {
  // Many rows so dw is reduced over several fixed chunks and spread over threads.
  const int64_t M = 1000, C = 67;
  Rng rng(3);
  std::vector<float> x = random_values<float>(rng, M * C), w = random_values<float>(rng, C);
  std::vector<float> dy = random_values<float>(rng, M * C);
  std::vector<std::vector<float>> dws, dxs;
  const int before = num_threads();
  for (int threads : {1, 2, 5}) {
    set_num_threads(threads);
    auto fwd = call_op("rmsnorm", {{"x", view_of(x, Shape{M, C})}, {"w", view_of(w, Shape{C})}});
    std::vector<float> rstd = values_of<float>(fwd[1]);
    auto bwd = call_op("rmsnorm_backward", {{"x", view_of(x, Shape{M, C})},
                                            {"w", view_of(w, Shape{C})},
                                            {"rstd", view_of(rstd, Shape{M})},
                                            {"dy", view_of(dy, Shape{M, C})}});
    dxs.push_back(values_of<float>(bwd[0]));
    dws.push_back(values_of<float>(bwd[1]));
  }
  set_num_threads(before);
  VLA_EXPECT(dws[0] == dws[1] && dws[0] == dws[2]);
  VLA_EXPECT(dxs[0] == dxs[1] && dxs[0] == dxs[2]);
  // And dw is right: against a float64 sum.
  for (int64_t c = 0; c < C; ++c) {
    double expect = 0;
    for (int64_t r = 0; r < M; ++r) {
      double ms = 0;
      for (int64_t k = 0; k < C; ++k) ms += double(x[r * C + k]) * x[r * C + k];
      expect += double(dy[r * C + c]) * x[r * C + c] / std::sqrt(ms / C + 1e-6);
    }
    VLA_EXPECT_NEAR(dws[0][c], expect, 1e-4 * (1 + std::fabs(expect)));
  }
}

VLA_TEST(rmsnorm, zero_rows_and_errors) {
  std::vector<float> none, w = {1.f, 2.f, 3.f};
  auto out = call_op("rmsnorm", {{"x", view_of(none, Shape{0, 3})}, {"w", view_of(w, Shape{3})}});
  VLA_EXPECT(out[0].view.shape == (Shape{0, 3}) && out[1].view.shape == Shape{0});

  std::vector<float> x(6, 1.5f);
  VLA_EXPECT_THROWS(call_op("rmsnorm", {{"x", view_of(x, Shape{3, 2})}, {"w", view_of(w, Shape{3})}}), ErrorCode::kShape,
                    "input 'w' has shape [3], expected dimension 0 = 2 (C, the last dimension of x)");
  VLA_EXPECT_THROWS(call_op("rmsnorm", {{"x", view_of(x, Shape{3, 2})}, {"w", view_of(w, Shape{3, 1})}}),
                    ErrorCode::kShape, "input 'w' has shape [3, 1], expected rank 1");
  VLA_EXPECT_THROWS(call_op("rmsnorm", {{"x", view_of(none, Shape{3, 0})}, {"w", view_of(none, Shape{0})}}),
                    ErrorCode::kShape, "expected [..., C] with C >= 1");
  VLA_EXPECT_THROWS(
      call_op("rmsnorm", {{"x", view_of(x, Shape{2, 3})}, {"w", view_of(w, Shape{3})}}, {{"eps", 0.0}}),
      ErrorCode::kValue, "attribute 'eps' = 0 is out of range; expected a finite value > 0");
  std::vector<float> rstd = {1.f, 1.f, 1.f};
  VLA_EXPECT_THROWS(call_op("rmsnorm_backward", {{"x", view_of(x, Shape{2, 3})},
                                                 {"w", view_of(w, Shape{3})},
                                                 {"rstd", view_of(rstd, Shape{3})},
                                                 {"dy", view_of(x, Shape{2, 3})}}),
                    ErrorCode::kShape, "input 'rstd' has shape [3], expected [2] (one value per row of x)");
}

}  // namespace vla::test
