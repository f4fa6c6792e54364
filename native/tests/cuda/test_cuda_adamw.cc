// AdamW kernel (cuda/adamw_cuda.h) against the CPU reference (ops/adamw.h): fp32 relative
// error < 1e-4 for params, m and v after one and after several steps, with and without a freeze
// mask (frozen elements must stay bitwise as they were), on a buffer that spans several blocks
// with a ragged end.
#include "core/random.h"
#include "cuda/adamw_cuda.h"
#include "ops/adamw.h"
#include "tests/cuda/cuda_test_support.h"

namespace vla::test {
namespace {

using gpu::testing::to_device;
using gpu::testing::to_host;

void check(const char* what, const std::vector<float>& device, const std::vector<float>& ref) {
  double e = max_rel_error(device, ref);
  VLA_EXPECT(e < 1e-4) << what << ": relative error " << e;
}

void run_adamw(int64_t n, bool masked, uint64_t seed) {
  auto p = random_floats(n, seed), m = random_floats(n, seed + 1, 0.1);
  auto v = random_floats(n, seed + 2, 0.1);
  for (auto& x : v) x = x * x;  // second moments are nonnegative
  Rng rng(seed + 3);
  std::vector<uint8_t> mask(n);
  for (auto& b : mask) b = rng.uniform() < 0.7 ? 1 : 0;
  const uint8_t* mp = masked ? mask.data() : nullptr;
  const auto p0 = p, m0 = m, v0 = v;

  auto d_p = to_device(p), d_m = to_device(m), d_v = to_device(v), d_mask = to_device(mask);
  AdamWHyper h;
  h.lr = 1e-2;
  h.weight_decay = 0.1;
  for (int64_t step = 1; step <= 4; ++step) {
    h.step = step == 4 ? 1000 : step;  // late steps too: bias corrections near 1
    auto g = random_floats(n, seed + 10 + step);
    auto d_g = to_device(g);
    adamw_step(p.data(), g.data(), m.data(), v.data(), mp, n, h);
    gpu::adamw_step(d_p.as<float>(), d_g.as<float>(), d_m.as<float>(), d_v.as<float>(),
                    masked ? d_mask.as<uint8_t>() : nullptr, n, h);
  }
  auto gp = to_host<float>(d_p, n), gm = to_host<float>(d_m, n), gv = to_host<float>(d_v, n);
  check(masked ? "params (masked)" : "params", gp, p);
  check(masked ? "m (masked)" : "m", gm, m);
  check(masked ? "v (masked)" : "v", gv, v);
  if (masked) {
    int64_t moved = 0;
    for (int64_t i = 0; i < n; ++i)
      if (!mask[i] && (gp[i] != p0[i] || gm[i] != m0[i] || gv[i] != v0[i])) ++moved;
    VLA_EXPECT(moved == 0) << moved << " frozen elements changed";
  }
}

VLA_CUDA_TEST(adamw) {
  VLA_REQUIRE_CUDA_DEVICE();
  run_adamw(3001, false, 10);
  run_adamw(3001, true, 20);
  run_adamw(1, true, 30);
}

}  // namespace
}  // namespace vla::test
