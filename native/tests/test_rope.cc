#include <cmath>

#include "tests/gradcheck.h"
#include "tests/op_call_helpers.h"
#include "tests/test_framework.h"

namespace vla::test {

namespace {
std::vector<double> random_positions(Rng& rng, int64_t n, int64_t lo, int64_t hi) {
  std::vector<double> p(static_cast<size_t>(n));
  for (auto& v : p) v = static_cast<double>(lo + static_cast<int64_t>(rng.below(hi - lo + 1)));
  return p;
}
}  // namespace

VLA_TEST(rope, gradcheck_per_batch_and_shared_positions) {
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    Rng rng(seed);
    const int64_t B = 1 + rng.below(3), S = seed == 2 ? 1 : 1 + rng.below(6), H = 1 + rng.below(3);
    const int64_t D = 2 * (1 + rng.below(9));
    GradCase c;
    c.inputs.push_back(random_input(rng, "x", Shape{B, S, H, D}));
    if (seed % 2) {
      // Per-batch positions, negative ones included.
      c.inputs.push_back(int_input("positions", Shape{B, S}, random_positions(rng, B * S, -50, 200)));
    } else {
      c.inputs.push_back(int_input("positions", Shape{S}, random_positions(rng, S, -5, 20)));
    }
    if (seed == 3) c.attrs = {{"theta", 100.0}};
    expect_gradcheck("rope", c, seed);
  }
}

VLA_TEST(rope, known_values) {
  // D = 4, theta = 100: frequencies 1 and 100^(-1/2) = 0.1. Position 2 -> angles 2 and 0.2.
  std::vector<double> x = {1.0, 2.0, 3.0, 4.0};
  std::vector<int32_t> pos = {2};
  auto y = values_of<double>(
      call_op("rope", {{"x", view_of(x, Shape{1, 1, 1, 4})}, {"positions", view_of(pos, Shape{1})}},
              {{"theta", 100.0}})[0]);
  const double c0 = std::cos(2.0), s0 = std::sin(2.0), c1 = std::cos(0.2), s1 = std::sin(0.2);
  // Pairs (0, 2) and (1, 3).
  VLA_EXPECT_NEAR(y[0], 1.0 * c0 - 3.0 * s0, 1e-15);
  VLA_EXPECT_NEAR(y[2], 3.0 * c0 + 1.0 * s0, 1e-15);
  VLA_EXPECT_NEAR(y[1], 2.0 * c1 - 4.0 * s1, 1e-15);
  VLA_EXPECT_NEAR(y[3], 4.0 * c1 + 2.0 * s1, 1e-15);
  // Position 0 is the identity; a negative position undoes the positive one.
  pos = {0};
  auto id = values_of<double>(
      call_op("rope", {{"x", view_of(x, Shape{1, 1, 1, 4})}, {"positions", view_of(pos, Shape{1})}})[0]);
  VLA_EXPECT(id == x);
  pos = {-2};
  auto back = values_of<double>(
      call_op("rope", {{"x", view_of(y, Shape{1, 1, 1, 4})}, {"positions", view_of(pos, Shape{1})}},
              {{"theta", 100.0}})[0]);
  for (int i = 0; i < 4; ++i) VLA_EXPECT_NEAR(back[i], x[i], 1e-14);
}

VLA_TEST(rope, large_and_sparse_positions_match_dense_ones) {
  // Positions spanning a huge range take the per-row path, a compact range the cached table:
  // the same position must give bit-identical rows either way, and float32 must stay accurate
  // at large positions (angles computed in double).
  const int64_t H = 2, D = 32;
  Rng rng(4);
  std::vector<float> x = random_values<float>(rng, 2 * H * D);
  std::vector<int32_t> sparse = {7, 2000000000}, dense = {7, 8};
  auto a = values_of<float>(call_op("rope", {{"x", view_of(x, Shape{1, 2, H, D})}, {"positions", view_of(sparse, Shape{2})}})[0]);
  auto b = values_of<float>(call_op("rope", {{"x", view_of(x, Shape{1, 2, H, D})}, {"positions", view_of(dense, Shape{2})}})[0]);
  for (int64_t i = 0; i < H * D; ++i) VLA_EXPECT(a[i] == b[i]) << i;
  for (int64_t h = 0; h < H; ++h)
    for (int64_t i = 0; i < D / 2; ++i) {
      const double angle = 2000000000.0 * std::pow(10000.0, -2.0 * i / D);
      const float* xr = x.data() + H * D + h * D;
      const double expect = xr[i] * std::cos(angle) - xr[i + D / 2] * std::sin(angle);
      VLA_EXPECT_NEAR(a[H * D + h * D + i], expect, 1e-6);
    }
}

VLA_TEST(rope, zero_sized_and_errors) {
  std::vector<float> none;
  std::vector<int32_t> no_pos;
  auto out = call_op("rope", {{"x", view_of(none, Shape{0, 3, 2, 4})}, {"positions", view_of(no_pos, Shape{0, 3})}});
  VLA_EXPECT(out[0].view.shape == (Shape{0, 3, 2, 4}));
  out = call_op("rope", {{"x", view_of(none, Shape{2, 0, 2, 4})}, {"positions", view_of(no_pos, Shape{0})}});
  VLA_EXPECT(out[0].view.numel() == 0);

  std::vector<float> x(2 * 3 * 1 * 6, 0.5f);
  std::vector<int32_t> pos(6, 1);
  VLA_EXPECT_THROWS(call_op("rope", {{"x", view_of(x, Shape{2, 3, 2, 3})}, {"positions", view_of(pos, Shape{2, 3})}}),
                    ErrorCode::kShape, "input 'x' has shape [2, 3, 2, 3], expected [B, S, H, D] with D even");
  VLA_EXPECT_THROWS(call_op("rope", {{"x", view_of(x, Shape{2, 3, 6})}, {"positions", view_of(pos, Shape{2, 3})}}),
                    ErrorCode::kShape, "input 'x' has shape [2, 3, 6], expected rank 4");
  VLA_EXPECT_THROWS(call_op("rope", {{"x", view_of(x, Shape{2, 3, 1, 6})}, {"positions", view_of(pos, Shape{3, 2})}}),
                    ErrorCode::kShape, "input 'positions' has shape [3, 2], expected [2, 3] or [3]");
  VLA_EXPECT_THROWS(call_op("rope", {{"x", view_of(x, Shape{2, 3, 1, 6})}, {"positions", view_of(pos, Shape{2, 3})}},
                            {{"theta", -1.0}}),
                    ErrorCode::kValue, "attribute 'theta' = -1 is out of range");
}

}  // namespace vla::test
