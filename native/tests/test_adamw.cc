#include <cmath>
#include <cstring>
#include <limits>

#include "ops/adamw.h"
#include "tests/op_call_helpers.h"
#include "tests/test_framework.h"

namespace vla::test {

namespace {

// An independent float64 AdamW step, written from the formula (Loshchilov & Hutter).
void reference_adamw(std::vector<double>& p, const std::vector<double>& g, std::vector<double>& m,
                     std::vector<double>& v, const std::vector<uint8_t>* mask, const AdamWHyper& h) {
  for (size_t i = 0; i < p.size(); ++i) {
    if (mask && (*mask)[i] == 0) continue;
    m[i] = h.beta1 * m[i] + (1 - h.beta1) * g[i];
    v[i] = h.beta2 * v[i] + (1 - h.beta2) * g[i] * g[i];
    const double mhat = m[i] / (1 - std::pow(h.beta1, double(h.step)));
    const double vhat = v[i] / (1 - std::pow(h.beta2, double(h.step)));
    p[i] -= h.lr * (mhat / (std::sqrt(vhat) + h.eps) + h.weight_decay * p[i]);
  }
}

NamedAttrs attrs_of(const AdamWHyper& h) {
  return {{"lr", h.lr}, {"beta1", h.beta1}, {"beta2", h.beta2}, {"eps", h.eps}, {"weight_decay", h.weight_decay},
          {"step", double(h.step)}};
}

}  // namespace

VLA_TEST(adamw, matches_float64_reference_over_steps) {
  for (uint64_t seed = 1; seed <= 3; ++seed)
    for (bool use_mask : {false, true}) {
      Rng rng(seed);
      const int64_t n = 1 + rng.below(3000);
      AdamWHyper h;
      h.lr = rng.range(1e-4, 1e-2);
      h.weight_decay = seed == 2 ? 0.0 : 0.05;
      std::vector<double> p_ref = random_values<double>(rng, n), m_ref(n, 0.0), v_ref(n, 0.0);
      std::vector<float> p32(p_ref.begin(), p_ref.end()), m32(n, 0.f), v32(n, 0.f);
      std::vector<double> p64 = p_ref, m64(n, 0.0), v64(n, 0.0);
      for (auto& x : p_ref) x = static_cast<float>(x);  // the float run starts from rounded values
      std::vector<double> p64_ref = p64, m64_ref = m64, v64_ref = v64;
      std::vector<uint8_t> mask(n);
      for (auto& x : mask) x = rng.uniform() < 0.3 ? 0 : 1;
      const std::vector<float> p32_start = p32;
      for (int64_t step = 1; step <= 6; ++step) {
        h.step = step;
        std::vector<double> g = random_values<double>(rng, n, 0.1);
        std::vector<float> g32(g.begin(), g.end());
        std::vector<double> g_rounded(g32.begin(), g32.end());
        NamedInputs in32 = {{"params", view_of(p32, Shape{n})}, {"grads", view_of(g32, Shape{n})},
                            {"m", view_of(m32, Shape{n})}, {"v", view_of(v32, Shape{n})}};
        NamedInputs in64 = {{"params", view_of(p64, Shape{n})}, {"grads", view_of(g, Shape{n})},
                            {"m", view_of(m64, Shape{n})}, {"v", view_of(v64, Shape{n})}};
        if (use_mask) {
          in32.push_back({"mask", view_of(mask, Shape{n})});
          in64.push_back({"mask", view_of(mask, Shape{n})});
        }
        VLA_EXPECT(call_op("adamw", in32, attrs_of(h)).empty());
        call_op("adamw", in64, attrs_of(h));
        reference_adamw(p_ref, g_rounded, m_ref, v_ref, use_mask ? &mask : nullptr, h);
        reference_adamw(p64_ref, g, m64_ref, v64_ref, use_mask ? &mask : nullptr, h);
      }
      double worst32 = 0, worst64 = 0;
      for (int64_t i = 0; i < n; ++i) {
        worst64 = std::max(worst64, std::fabs(p64[i] - p64_ref[i]) / (1e-3 + std::fabs(p64_ref[i])));
        worst64 = std::max(worst64, std::fabs(m64[i] - m64_ref[i]) / (1e-3 + std::fabs(m64_ref[i])));
        worst64 = std::max(worst64, std::fabs(v64[i] - v64_ref[i]) / (1e-6 + std::fabs(v64_ref[i])));
        // float32: each step moves p by at most ~lr (1 + wd |p|); rounding stays far below that.
        worst32 = std::max(worst32, std::fabs(p32[i] - p_ref[i]) / (1e-3 + std::fabs(p_ref[i])));
        if (use_mask && mask[i] == 0) {
          // Frozen: bit-identical parameter, untouched moments.
          VLA_EXPECT(std::memcmp(&p32[i], &p32_start[i], sizeof(float)) == 0) << "frozen element" << i << "changed";
          VLA_EXPECT(m32[i] == 0.0f && v32[i] == 0.0f && m64[i] == 0.0 && v64[i] == 0.0);
        } else {
          VLA_EXPECT(p32[i] != p32_start[i]) << "element" << i << "was not updated";
        }
      }
      VLA_EXPECT(worst64 <= 1e-12) << worst64;
      VLA_EXPECT(worst32 <= 2e-6) << worst32;
      std::printf("    n=%ld mask=%d: float64 vs reference %.3g, float32 vs reference %.3g\n", static_cast<long>(n),
                  use_mask, worst64, worst32);
    }
}

VLA_TEST(adamw, known_values_match_pytorch) {
  // torch.optim.AdamW(lr=0.05, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1), float64, three
  // steps with these gradients (PyTorch 1.13).
  std::vector<double> p = {1.0, -2.0, 0.5}, m(3, 0.0), v(3, 0.0);
  const std::vector<std::vector<double>> grads = {{0.5, -1.0, 2.0}, {0.25, 0.5, -3.0}, {-1.0, 0.125, 1.0}};
  AdamWHyper h;
  h.lr = 0.05;
  h.beta1 = 0.8;
  h.beta2 = 0.95;
  h.eps = 1e-6;
  h.weight_decay = 0.1;
  for (int s = 0; s < 3; ++s) {
    h.step = s + 1;
    adamw_step<double>(p.data(), grads[s].data(), m.data(), v.data(), nullptr, 3, h);
  }
  const double p_torch[] = {0.9044260618485576, -1.9063763344139077, 0.45928397031231744};
  const double m_torch[] = {-0.09599999999999997, -0.023000000000000007, -0.023999999999999994};
  const double v_torch[] = {0.06425000000000006, 0.05778125000000005, 0.6580000000000006};
  for (int i = 0; i < 3; ++i) {
    VLA_EXPECT_NEAR(p[i], p_torch[i], 1e-14);
    VLA_EXPECT_NEAR(m[i], m_torch[i], 1e-15);
    VLA_EXPECT_NEAR(v[i], v_torch[i], 1e-15);
  }
}

VLA_TEST(adamw, rejects_bad_inputs_before_touching_anything) {
  std::vector<float> p = {1.f, 2.f, 3.f}, g = {0.1f, std::numeric_limits<float>::quiet_NaN(), 0.3f}, m(3, 0.f), v(3, 0.f);
  const std::vector<float> p_before = p;
  auto inputs = [&](Shape gs) {
    return NamedInputs{{"params", view_of(p, Shape{3})}, {"grads", view_of(g, gs)}, {"m", view_of(m, Shape{3})},
                       {"v", view_of(v, Shape{3})}};
  };
  VLA_EXPECT_THROWS(call_op("adamw", inputs(Shape{3}), {{"lr", 0.1}, {"step", 1}}), ErrorCode::kValue,
                    "adamw: input 'grads' has a non-finite value (NaN or Inf) at flat index 1");
  VLA_EXPECT(p == p_before && m == std::vector<float>(3, 0.f) && v == std::vector<float>(3, 0.f));
  g[1] = 0.2f;
  VLA_EXPECT_THROWS(call_op("adamw", inputs(Shape{3}), {{"step", 1}}), ErrorCode::kArgument,
                    "missing required attribute 'lr'");
  VLA_EXPECT_THROWS(call_op("adamw", inputs(Shape{3}), {{"lr", 0.1}}), ErrorCode::kArgument,
                    "missing required attribute 'step'");
  VLA_EXPECT_THROWS(call_op("adamw", inputs(Shape{3}), {{"lr", 0.1}, {"step", 0}}), ErrorCode::kValue,
                    "step = 0 is out of range; expected an integer >= 1");
  VLA_EXPECT_THROWS(call_op("adamw", inputs(Shape{3}), {{"lr", 0.1}, {"step", 1.5}}), ErrorCode::kArgument,
                    "attribute 'step' must be an integer");
  VLA_EXPECT_THROWS(call_op("adamw", inputs(Shape{3}), {{"lr", 0.1}, {"step", 1}, {"beta1", 1.0}}), ErrorCode::kValue,
                    "beta1 = 1 is out of range; expected [0, 1)");
  VLA_EXPECT_THROWS(call_op("adamw", inputs(Shape{3}), {{"lr", -0.1}, {"step", 1}}), ErrorCode::kValue,
                    "lr = -0.1 is out of range");
  VLA_EXPECT_THROWS(call_op("adamw", inputs(Shape{1, 2}), {{"lr", 0.1}, {"step", 1}}), ErrorCode::kShape,
                    "input 'grads' has shape [1, 2], expected 3 elements (as many as params [3])");
  std::vector<uint8_t> mask = {1, 2, 0};
  NamedInputs with_mask = inputs(Shape{3});
  with_mask.push_back({"mask", view_of(mask, Shape{3})});
  VLA_EXPECT_THROWS(call_op("adamw", with_mask, {{"lr", 0.1}, {"step", 1}}), ErrorCode::kValue,
                    "input 'mask' has value 2 at [1]; expected 0 or 1");
  VLA_EXPECT(p == p_before);
  // n = 0 is a no-op.
  std::vector<float> none;
  VLA_EXPECT(call_op("adamw",
                     {{"params", view_of(none, Shape{0})}, {"grads", view_of(none, Shape{0})},
                      {"m", view_of(none, Shape{0})}, {"v", view_of(none, Shape{0})}},
                     {{"lr", 0.1}, {"step", 1}})
                 .empty());
}

}  // namespace vla::test
