#include <cmath>
#include <limits>

#include "core/thread_pool.h"
#include "tests/gradcheck.h"
#include "tests/op_call_helpers.h"
#include "tests/test_framework.h"

namespace vla::test {

VLA_TEST(softmax, gradcheck_random_shapes) {
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    Rng rng(seed);
    Shape s;
    const int rank = 1 + static_cast<int>(rng.below(3));
    for (int a = 0; a + 1 < rank; ++a) s.push_back(1 + static_cast<int64_t>(rng.below(4)));
    s.push_back(seed == 1 ? 1 : 1 + static_cast<int64_t>(rng.below(37)));  // N = 1 included
    GradCase c{{random_input(rng, "x", s, 3.0)}, {}};
    expect_gradcheck("softmax", c, seed);
  }
}

VLA_TEST(softmax, known_values_and_stability) {
  // softmax([0, ln 2]) = [1/3, 2/3], also shifted by 1000 (exp(1000) would overflow without the max).
  for (double shift : {0.0, 1000.0, -1000.0}) {
    std::vector<double> x = {shift, shift + std::log(2.0)};
    auto y = values_of<double>(call_op("softmax", {{"x", view_of(x, Shape{1, 2})}})[0]);
    const double tol = 1e-15 + 2e-16 * std::fabs(shift);  // shift + ln 2 is rounded
    VLA_EXPECT_NEAR(y[0], 1.0 / 3.0, tol);
    VLA_EXPECT_NEAR(y[1], 2.0 / 3.0, tol);
    std::vector<float> xf = {static_cast<float>(shift), static_cast<float>(shift + std::log(2.0))};
    auto yf = values_of<float>(call_op("softmax", {{"x", view_of(xf, Shape{2})}})[0]);
    VLA_EXPECT_NEAR(yf[0], 1.0 / 3.0, 1e-4);  // ln 2 rounded to float near 1000 costs ~3e-5
    VLA_EXPECT_NEAR(yf[1], 2.0 / 3.0, 1e-4);
  }
  // Rows sum to 1 and the float32 exponential stays within a few ulp of libm over a wide range
  // (plus the rounding of x - max in float, relative |x - max| * 2^-24). Below exp(-87.3) the
  // float exponential gives exp(-87.3) = 1.22e-38 instead of a subnormal (documented in vector_math.h).
  Rng rng(5);
  std::vector<float> x = random_values<float>(rng, 7 * 300, 20.0);
  auto y = values_of<float>(call_op("softmax", {{"x", view_of(x, Shape{7, 300})}})[0]);
  for (int r = 0; r < 7; ++r) {
    double total = 0, mx = -1e30;
    for (int j = 0; j < 300; ++j) mx = std::max(mx, static_cast<double>(x[r * 300 + j]));
    double denom = 0;
    for (int j = 0; j < 300; ++j) denom += std::exp(x[r * 300 + j] - mx);
    for (int j = 0; j < 300; ++j) {
      const double expect = std::exp(x[r * 300 + j] - mx) / denom;
      const double tol = expect * (3e-7 + 1.2e-7 * (mx - x[r * 300 + j])) + 1.25e-38;
      VLA_EXPECT_NEAR(y[r * 300 + j], expect, tol) << "row" << r << "col" << j;
      total += y[r * 300 + j];
    }
    VLA_EXPECT_NEAR(total, 1.0, 1e-5);
  }
}

VLA_TEST(softmax, zero_sized_and_errors) {
  std::vector<float> none;
  VLA_EXPECT(call_op("softmax", {{"x", view_of(none, Shape{0, 5})}})[0].view.numel() == 0);
  VLA_EXPECT(call_op("softmax", {{"x", view_of(none, Shape{3, 0})}})[0].view.numel() == 0);
  std::vector<float> scalar = {1.f};
  VLA_EXPECT_THROWS(call_op("softmax", {{"x", view_of(scalar, Shape{})}}), ErrorCode::kShape,
                    "input 'x' has shape [], expected rank >= 1");
  std::vector<float> bad = {1.f, std::numeric_limits<float>::quiet_NaN(), 2.f};
  VLA_EXPECT_THROWS(call_op("softmax", {{"x", view_of(bad, Shape{3})}}), ErrorCode::kValue,
                    "input 'x' has a non-finite value (NaN or Inf) at flat index 1");
  std::vector<float> y = {0.5f, 0.5f}, dy = {1.f, 2.f, 3.f};
  VLA_EXPECT_THROWS(call_op("softmax_backward", {{"y", view_of(y, Shape{2})}, {"dy", view_of(dy, Shape{3})}}),
                    ErrorCode::kShape, "input 'dy' has shape [3], expected [2]");
}

VLA_TEST(softmax, same_result_for_any_thread_count) {
  Rng rng(9);
  std::vector<float> x = random_values<float>(rng, 333 * 129), dy = random_values<float>(rng, 333 * 129);
  std::vector<std::vector<float>> ys, dxs;
  const int before = num_threads();
  for (int threads : {1, 3}) {
    set_num_threads(threads);
    auto y = call_op("softmax", {{"x", view_of(x, Shape{333, 129})}});
    std::vector<float> yv = values_of<float>(y[0]);
    auto dx = call_op("softmax_backward", {{"y", view_of(yv, Shape{333, 129})}, {"dy", view_of(dy, Shape{333, 129})}});
    ys.push_back(yv);
    dxs.push_back(values_of<float>(dx[0]));
  }
  set_num_threads(before);
  VLA_EXPECT(ys[0] == ys[1]);
  VLA_EXPECT(dxs[0] == dxs[1]);
}

}  // namespace vla::test
