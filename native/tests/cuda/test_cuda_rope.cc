// RoPE kernels (cuda/rope_cuda.h) against the CPU reference (ops/rope.h) on random inputs: fp32
// relative error < 1e-4, with positions per batch row or shared, positions up to ~5000 and
// negative ones (the angles must stay accurate in float32), several heads, a head dimension that
// is not a multiple of 32 half-pairs, and the backward accumulating into nonzero gradients.
#include "core/random.h"
#include "cuda/rope_cuda.h"
#include "ops/rope.h"
#include "tests/cuda/cuda_test_support.h"

namespace vla::test {
namespace {

using gpu::testing::to_device;
using gpu::testing::to_host;

void check(const char* what, const RopeShape& s, const std::vector<float>& device, const std::vector<float>& ref) {
  double e = max_rel_error(device, ref);
  VLA_EXPECT(e < 1e-4) << what << " (B " << s.B << ", S " << s.S << ", H " << s.H << ", D " << s.D
                       << (s.positions_per_batch ? ", per batch" : ", shared") << "): relative error " << e;
}

// positions: the first few 0.., then random in [lo, hi].
void run_rope(RopeShape s, int lo, int hi, double theta, uint64_t seed) {
  const int64_t n = s.B * s.S * s.H * s.D;
  const int64_t np = s.positions_per_batch ? s.B * s.S : s.S;
  Rng rng(seed);
  std::vector<int32_t> pos(np);
  for (int64_t i = 0; i < np; ++i)
    pos[i] = i < 4 ? static_cast<int32_t>(i) : static_cast<int32_t>(lo + rng.below(uint64_t(hi - lo + 1)));
  auto x = random_floats(n, seed + 1);
  auto dx0 = random_floats(n, seed + 2);

  std::vector<float> y(n);
  rope_forward(x.data(), pos.data(), theta, y.data(), s);
  auto d_x = to_device(x);
  auto d_pos = to_device(pos);
  gpu::DeviceBuffer d_y(n * sizeof(float));
  gpu::rope_forward(d_x.as<float>(), d_pos.as<int32_t>(), theta, d_y.as<float>(), s);
  check("forward", s, to_host<float>(d_y, n), y);

  std::vector<float> dx = dx0;  // the backward of x's rotation, fed x as the upstream gradient
  rope_backward(x.data(), pos.data(), theta, dx.data(), s);
  auto d_dx = to_device(dx0);
  gpu::rope_backward(d_x.as<float>(), d_pos.as<int32_t>(), theta, d_dx.as<float>(), s);
  check("backward", s, to_host<float>(d_dx, n), dx);
}

VLA_CUDA_TEST(rope) {
  VLA_REQUIRE_CUDA_DEVICE();
  run_rope({2, 13, 3, 10, true}, 0, 5000, 10000.0, 10);   // per-batch positions up to 5000
  run_rope({3, 7, 2, 64, false}, -300, 4999, 10000.0, 20);  // shared [S] positions, negative ones
  run_rope({1, 5, 1, 2, true}, 4000, 5000, 500.0, 30);    // D = 2: a single pair
  run_rope({2, 9, 4, 66, true}, 0, 40, 10000.0, 40);      // 33 pairs per head: a ragged block edge
}

}  // namespace
}  // namespace vla::test
