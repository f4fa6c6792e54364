#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "ops/attention.h"
#include "ops/attention_mask.h"
#include "tests/gradcheck.h"
#include "tests/op_call_helpers.h"
#include "tests/test_framework.h"

namespace vla::test {

namespace {

// A random 0/1 mask of `n` entries with P(blocked) = p_blocked; `blocked_rows` rows of length
// `row` are then fully blocked (the first rows of the mask).
std::vector<double> random_mask(Rng& rng, int64_t n, int64_t row, double p_blocked, int64_t blocked_rows) {
  std::vector<double> m(static_cast<size_t>(n));
  for (auto& v : m) v = rng.uniform() < p_blocked ? 0.0 : 1.0;
  for (int64_t r = 0; r < blocked_rows; ++r)
    for (int64_t j = 0; j < row; ++j) m[r * row + j] = 0.0;
  return m;
}

struct Config {
  int64_t B, Tq, Tk, Hq, Hkv, D;
  int mask_kind;  // 0 none, 1 broadcast [1, Tq, Tk], 2 per batch [B, Tq, Tk], 3 causal per batch
  double scale;   // 0: default 1/sqrt(D)
};

GradCase make_case(Rng& rng, const Config& c) {
  GradCase g;
  g.inputs.push_back(random_input(rng, "q", Shape{c.B, c.Tq, c.Hq, c.D}));
  g.inputs.push_back(random_input(rng, "k", Shape{c.B, c.Tk, c.Hkv, c.D}));
  g.inputs.push_back(random_input(rng, "v", Shape{c.B, c.Tk, c.Hkv, c.D}));
  const int64_t mb = c.mask_kind == 1 ? 1 : c.B;
  if (c.mask_kind == 1 || c.mask_kind == 2) {
    g.inputs.push_back(mask_input("mask", Shape{mb, c.Tq, c.Tk}, random_mask(rng, mb * c.Tq * c.Tk, c.Tk, 0.3, 1)));
  } else if (c.mask_kind == 3) {
    std::vector<double> m(static_cast<size_t>(mb * c.Tq * c.Tk));
    for (int64_t b = 0; b < mb; ++b)
      for (int64_t i = 0; i < c.Tq; ++i)
        for (int64_t j = 0; j < c.Tk; ++j) m[(b * c.Tq + i) * c.Tk + j] = j <= i + b ? 1.0 : 0.0;
    g.inputs.push_back(mask_input("mask", Shape{mb, c.Tq, c.Tk}, m));
  }
  if (c.scale != 0) g.attrs = {{"scale", c.scale}};
  return g;
}

// Straightforward float64 attention forward and backward, for comparison.
struct Reference {
  std::vector<double> out, probs, dq, dk, dv;
};

template <typename T>
Reference reference_attention(const std::vector<T>& q, const std::vector<T>& k, const std::vector<T>& v,
                              const std::vector<uint8_t>* mask, bool mask_per_batch, const std::vector<T>& dout,
                              const AttentionShape& s, double scale) {
  Reference r;
  r.out.assign(q.size(), 0.0);
  r.dq.assign(q.size(), 0.0);
  r.dk.assign(k.size(), 0.0);
  r.dv.assign(v.size(), 0.0);
  r.probs.assign(static_cast<size_t>(s.B * s.Hq * s.Tq * s.Tk), 0.0);
  const int64_t group = s.Hq / s.Hkv;
  auto qi = [&](int64_t b, int64_t i, int64_t h) { return ((b * s.Tq + i) * s.Hq + h) * s.D; };
  auto ki = [&](int64_t b, int64_t j, int64_t g) { return ((b * s.Tk + j) * s.Hkv + g) * s.D; };
  std::vector<double> p(static_cast<size_t>(s.Tk)), dp(static_cast<size_t>(s.Tk));
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t h = 0; h < s.Hq; ++h)
      for (int64_t i = 0; i < s.Tq; ++i) {
        const int64_t g = h / group;
        auto allowed = [&](int64_t j) {
          return !mask || (*mask)[((mask_per_batch ? b : 0) * s.Tq + i) * s.Tk + j] != 0;
        };
        double mx = -INFINITY;
        for (int64_t j = 0; j < s.Tk; ++j) {
          double dot = 0;
          for (int64_t d = 0; d < s.D; ++d) dot += double(q[qi(b, i, h) + d]) * double(k[ki(b, j, g) + d]);
          p[j] = scale * dot;
          if (allowed(j)) mx = std::max(mx, p[j]);
        }
        if (mx == -INFINITY) continue;  // all blocked: zeros
        double total = 0;
        for (int64_t j = 0; j < s.Tk; ++j) {
          p[j] = allowed(j) ? std::exp(p[j] - mx) : 0.0;
          total += p[j];
        }
        double p_dot_dp = 0;
        for (int64_t j = 0; j < s.Tk; ++j) {
          p[j] /= total;
          r.probs[((b * s.Hq + h) * s.Tq + i) * s.Tk + j] = p[j];
          dp[j] = 0;
          for (int64_t d = 0; d < s.D; ++d) {
            r.out[qi(b, i, h) + d] += p[j] * double(v[ki(b, j, g) + d]);
            dp[j] += double(dout[qi(b, i, h) + d]) * double(v[ki(b, j, g) + d]);
          }
          p_dot_dp += p[j] * dp[j];
        }
        for (int64_t j = 0; j < s.Tk; ++j) {
          const double ds = p[j] * (dp[j] - p_dot_dp) * scale;
          for (int64_t d = 0; d < s.D; ++d) {
            r.dq[qi(b, i, h) + d] += ds * double(k[ki(b, j, g) + d]);
            r.dk[ki(b, j, g) + d] += ds * double(q[qi(b, i, h) + d]);
            r.dv[ki(b, j, g) + d] += p[j] * double(dout[qi(b, i, h) + d]);
          }
        }
      }
  return r;
}

// max |a - b| / max(1e-3, max |b|)
template <typename T>
double relative_deviation(const std::vector<T>& a, const std::vector<double>& b) {
  double worst = 0, scale = 1e-3;
  for (size_t i = 0; i < b.size(); ++i) {
    worst = std::max(worst, std::fabs(double(a[i]) - b[i]));
    scale = std::max(scale, std::fabs(b[i]));
  }
  return worst / scale;
}

// Segments of the policy's Mixture-of-Transformers layout and the allow table the model uses:
// observations attend observations; the prompt attends observations and the prompt; state
// tokens attend observations, the prompt and themselves; action tokens attend observations, the
// prompt and their own block. For a sample whose prompt is dropped from the action expert's view,
// the prompt tokens get segment kDroppedPrompt instead: they still attend like a prompt and the
// state still sees them, but action rows do not.
enum Segment : int32_t { kObs = 0, kPrompt = 1, kState = 2, kAction = 3, kDroppedPrompt = 4, kNumSegments = 5 };

std::vector<uint8_t> policy_allow_table() {
  std::vector<uint8_t> allow(kNumSegments * kNumSegments, 0);
  auto set = [&](Segment from, std::initializer_list<Segment> to) {
    for (Segment t : to) allow[from * kNumSegments + t] = 1;
  };
  set(kObs, {kObs});
  set(kPrompt, {kObs, kPrompt});
  set(kDroppedPrompt, {kObs, kDroppedPrompt});
  set(kState, {kObs, kPrompt, kDroppedPrompt, kState});
  set(kAction, {kObs, kPrompt, kAction});
  return allow;
}

// Segment ids of one sample: n_obs observations, n_prompt prompt tokens, one state token, the rest actions.
std::vector<int32_t> policy_segments(int64_t T, int64_t n_obs, int64_t n_prompt, bool prompt_dropped) {
  std::vector<int32_t> seg(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t)
    seg[t] = t < n_obs ? kObs
             : t < n_obs + n_prompt ? (prompt_dropped ? kDroppedPrompt : kPrompt)
             : t == n_obs + n_prompt ? kState
                                      : kAction;
  return seg;
}

}  // namespace

VLA_TEST(attention, gradcheck_gqa_masks_and_odd_shapes) {
  const Config configs[] = {
      {2, 3, 5, 2, 2, 4, 0, 0},      // GQA ratio 1, no mask
      {2, 4, 20, 4, 2, 19, 1, 0},    // ratio 2, broadcast mask, D > 16 and odd, Tk over one key block
      {3, 1, 7, 4, 1, 3, 2, 0},      // ratio 4, per-batch mask, Tq = 1
      {1, 5, 1, 2, 1, 16, 2, 0},     // Tk = 1 (rows either fully blocked or a single key)
      {2, 6, 6, 3, 3, 8, 3, 0.3},    // causal per-batch mask, explicit scale
      {2, 17, 35, 4, 1, 33, 2, 0},   // ratio 4, ragged allowed ranges across key blocks
      {1, 1, 1, 1, 1, 1, 0, -0.7},   // everything 1, negative scale
  };
  uint64_t seed = 1;
  for (const Config& cfg : configs) {
    Rng rng(seed);
    expect_gradcheck("attention", make_case(rng, cfg), seed);
    ++seed;
  }
}

VLA_TEST(attention, known_values) {
  // One query, two keys, D = 1, scale 1: scores [0, ln 2] -> probs [1/3, 2/3]; out = 3/3 + 12/3 = 5.
  std::vector<double> q = {1.0}, k = {0.0, std::log(2.0)}, v = {3.0, 6.0};
  auto out = call_op("attention",
                     {{"q", view_of(q, Shape{1, 1, 1, 1})}, {"k", view_of(k, Shape{1, 2, 1, 1})},
                      {"v", view_of(v, Shape{1, 2, 1, 1})}},
                     {{"scale", 1.0}});
  VLA_EXPECT_NEAR(out[0].view.ptr<double>()[0], 5.0, 1e-14);
  VLA_EXPECT_NEAR(out[1].view.ptr<double>()[0], 1.0 / 3.0, 1e-15);
  VLA_EXPECT_NEAR(out[1].view.ptr<double>()[1], 2.0 / 3.0, 1e-15);
  // The default scale is 1/sqrt(D): D = 4, q = k = [1, 1, 1, 1] gives score 2 for key 0.
  std::vector<double> q4 = {1, 1, 1, 1}, k4 = {1, 1, 1, 1, 0, 0, 0, 0}, v4 = {1, 0, 0, 0, 0, 1, 0, 0};
  auto out4 = call_op("attention", {{"q", view_of(q4, Shape{1, 1, 1, 4})},
                                    {"k", view_of(k4, Shape{1, 2, 1, 4})},
                                    {"v", view_of(v4, Shape{1, 2, 1, 4})}});
  const double p0 = std::exp(2.0) / (std::exp(2.0) + 1.0);
  VLA_EXPECT_NEAR(out4[1].view.ptr<double>()[0], p0, 1e-15);
  VLA_EXPECT_NEAR(out4[0].view.ptr<double>()[1], 1.0 - p0, 1e-15);
}

VLA_TEST(attention, fully_blocked_rows_are_zero_never_nan) {
  // B = 2, Tq = 3, Tk = 4, Hq = 2, Hkv = 1, D = 5, per-batch mask.
  Rng rng(11);
  std::vector<float> q = random_values<float>(rng, 2 * 3 * 2 * 5), k = random_values<float>(rng, 2 * 4 * 5),
                     v = random_values<float>(rng, 2 * 4 * 5), dout = random_values<float>(rng, 2 * 3 * 2 * 5);
  // Batch 0 row 1 and batch 1 rows 0 and 2 are fully blocked.
  std::vector<uint8_t> mask = {1, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0,   // batch 0
                               0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0};  // batch 1
  auto fwd = call_op("attention", {{"q", view_of(q, Shape{2, 3, 2, 5})}, {"k", view_of(k, Shape{2, 4, 1, 5})},
                                   {"v", view_of(v, Shape{2, 4, 1, 5})}, {"mask", view_of(mask, Shape{2, 3, 4})}});
  std::vector<float> out = values_of<float>(fwd[0]), probs = values_of<float>(fwd[1]);
  auto bwd = call_op("attention_backward",
                     {{"q", view_of(q, Shape{2, 3, 2, 5})}, {"k", view_of(k, Shape{2, 4, 1, 5})},
                      {"v", view_of(v, Shape{2, 4, 1, 5})}, {"probs", view_of(probs, Shape{2, 2, 3, 4})},
                      {"dout", view_of(dout, Shape{2, 3, 2, 5})}});
  std::vector<float> dq = values_of<float>(bwd[0]);
  auto blocked = [&](int64_t b, int64_t i) { return (b == 0 && i == 1) || (b == 1 && i != 1); };
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t h = 0; h < 2; ++h) {
        double row_sum = 0;
        for (int64_t j = 0; j < 4; ++j) {
          const float p = probs[((b * 2 + h) * 3 + i) * 4 + j];
          VLA_EXPECT(std::isfinite(p));
          if (mask[(b * 3 + i) * 4 + j] == 0) {
            VLA_EXPECT(p == 0.0f) << "blocked key has weight" << p;
          }
          row_sum += p;
        }
        for (int64_t d = 0; d < 5; ++d) {
          const int64_t e = ((b * 3 + i) * 2 + h) * 5 + d;
          VLA_EXPECT(std::isfinite(out[e]) && std::isfinite(dq[e]));
          if (blocked(b, i)) {
            VLA_EXPECT(out[e] == 0.0f && dq[e] == 0.0f);
          }
        }
        VLA_EXPECT_NEAR(row_sum, blocked(b, i) ? 0.0 : 1.0, 1e-6);
      }
  for (const auto& t : bwd)
    for (float x : values_of<float>(t)) VLA_EXPECT(std::isfinite(x));
}

VLA_TEST(attention, matches_reference_at_policy_shapes) {
  // The training layout (T = 98, Hq = 4, Hkv = 2, D = 32) with the policy's per-sample MoT mask,
  // and the acting layout (10 suffix queries against 98 cached keys, broadcast mask), in float32
  // and float64, against a straightforward float64 implementation.
  const std::vector<uint8_t> allow = policy_allow_table();
  struct Layout {
    AttentionShape s;
    const char* name;
  };
  for (const Layout& L : {Layout{{4, 98, 98, 4, 2, 32, true}, "training"}, Layout{{1, 10, 98, 4, 2, 32, false}, "acting"}}) {
    const AttentionShape& s = L.s;
    // Mask from segment ids: 48 observations, 16 prompt, 1 state, 33 actions; samples 1 and 3 drop the prompt.
    std::vector<uint8_t> mask(static_cast<size_t>((s.mask_per_batch ? s.B : 1) * s.Tq * s.Tk));
    for (int64_t b = 0; b < (s.mask_per_batch ? s.B : 1); ++b) {
      std::vector<int32_t> keys = policy_segments(s.Tk, 48, 16, b % 2 == 1);
      std::vector<int32_t> queries(keys.end() - s.Tq, keys.end());
      BlockMaskShape ms{1, s.Tq, s.Tk, kNumSegments, false, false};
      build_block_mask(queries.data(), keys.data(), allow.data(), mask.data() + b * s.Tq * s.Tk, ms);
    }
    Rng rng(21);
    std::vector<double> q = random_values<double>(rng, s.B * s.Tq * s.Hq * s.D, 2.0);
    std::vector<double> k = random_values<double>(rng, s.B * s.Tk * s.Hkv * s.D, 2.0);
    std::vector<double> v = random_values<double>(rng, s.B * s.Tk * s.Hkv * s.D);
    std::vector<double> dout = random_values<double>(rng, s.B * s.Tq * s.Hq * s.D);
    const double scale = 1.0 / std::sqrt(32.0);
    Reference ref = reference_attention(q, k, v, &mask, s.mask_per_batch, dout, s, scale);

    auto run = [&](auto tag) {
      using T = decltype(tag);
      std::vector<T> qt(q.begin(), q.end()), kt(k.begin(), k.end()), vt(v.begin(), v.end()),
          dt(dout.begin(), dout.end());
      std::vector<T> out(q.size()), probs(ref.probs.size()), dq(q.size(), T(0)), dk(k.size(), T(0)),
          dv(v.size(), T(0));
      attention_forward<T>(qt.data(), kt.data(), vt.data(), mask.data(), static_cast<T>(scale), out.data(),
                           probs.data(), s);
      attention_backward<T>(qt.data(), kt.data(), vt.data(), probs.data(), dt.data(), static_cast<T>(scale),
                            dq.data(), dk.data(), dv.data(), s);
      const double tol = sizeof(T) == 4 ? 2e-5 : 1e-12;
      const double devs[] = {relative_deviation(out, ref.out), relative_deviation(probs, ref.probs),
                             relative_deviation(dq, ref.dq), relative_deviation(dk, ref.dk),
                             relative_deviation(dv, ref.dv)};
      const char* names[] = {"out", "probs", "dq", "dk", "dv"};
      for (int i = 0; i < 5; ++i)
        VLA_EXPECT(devs[i] <= tol) << L.name << (sizeof(T) == 4 ? "float32" : "float64") << isa_name(active_isa())
                                   << names[i] << devs[i];
      std::printf("    %s %s (%s kernels): worst relative deviation from the float64 reference %.3g\n", L.name,
                  sizeof(T) == 4 ? "float32" : "float64", isa_name(active_isa()), *std::max_element(devs, devs + 5));
    };
    // Every kernel this machine can run: the generic one, and AVX2 where available.
    const Isa before = active_isa();
    for (Isa isa : {Isa::kGeneric, before}) {
      set_isa_cap(isa);
      run(float{});
      run(double{});
      if (isa == before) break;
    }
    set_isa_cap(before);
  }
}

VLA_TEST(attention, same_result_for_any_thread_count) {
  const AttentionShape s{3, 13, 29, 4, 2, 24, true};
  Rng rng(5);
  std::vector<float> q = random_values<float>(rng, 3 * 13 * 4 * 24), k = random_values<float>(rng, 3 * 29 * 2 * 24),
                     v = random_values<float>(rng, 3 * 29 * 2 * 24), dout = random_values<float>(rng, 3 * 13 * 4 * 24);
  std::vector<uint8_t> mask(3 * 13 * 29);
  for (auto& m : mask) m = rng.uniform() < 0.2 ? 0 : 1;
  std::vector<std::vector<float>> results;
  const int before = num_threads();
  // 8 threads > B * Hkv = 6: the forward then gives each query head a task of its own.
  for (int threads : {1, 2, 3, 8}) {
    set_num_threads(threads);
    std::vector<float> out(q.size()), probs(3 * 4 * 13 * 29), dq(q.size()), dk(k.size()), dv(v.size());
    attention_forward<float>(q.data(), k.data(), v.data(), mask.data(), 0.2f, out.data(), probs.data(), s);
    attention_backward<float>(q.data(), k.data(), v.data(), probs.data(), dout.data(), 0.2f, dq.data(), dk.data(),
                              dv.data(), s);
    std::vector<float> all;
    for (const auto* t : {&out, &probs, &dq, &dk, &dv}) all.insert(all.end(), t->begin(), t->end());
    results.push_back(all);
  }
  set_num_threads(before);
  VLA_EXPECT(results[0] == results[1] && results[0] == results[2] && results[0] == results[3]);
}

VLA_TEST(attention, backward_accumulates) {
  // Plain backward functions add into their gradient buffers.
  const AttentionShape s{1, 3, 4, 2, 1, 4, false};
  Rng rng(8);
  std::vector<double> q = random_values<double>(rng, 24), k = random_values<double>(rng, 16),
                      v = random_values<double>(rng, 16), dout = random_values<double>(rng, 24);
  std::vector<double> out(24), probs(24);
  attention_forward<double>(q.data(), k.data(), v.data(), nullptr, 0.5, out.data(), probs.data(), s);
  std::vector<double> dq0(24, 0.0), dk0(16, 0.0), dv0(16, 0.0);
  attention_backward<double>(q.data(), k.data(), v.data(), probs.data(), dout.data(), 0.5, dq0.data(), dk0.data(),
                             dv0.data(), s);
  std::vector<double> dq1(24, 1.0), dk1(16, 2.0), dv1(16, 3.0);
  attention_backward<double>(q.data(), k.data(), v.data(), probs.data(), dout.data(), 0.5, dq1.data(), dk1.data(),
                             dv1.data(), s);
  for (int i = 0; i < 24; ++i) VLA_EXPECT_NEAR(dq1[i], dq0[i] + 1.0, 1e-12);
  for (int i = 0; i < 16; ++i) {
    VLA_EXPECT_NEAR(dk1[i], dk0[i] + 2.0, 1e-12);
    VLA_EXPECT_NEAR(dv1[i], dv0[i] + 3.0, 1e-12);
  }
}

VLA_TEST(attention, zero_sized) {
  std::vector<float> none;
  std::vector<float> q(2 * 3 * 2 * 4, 0.5f), dout(2 * 3 * 2 * 4, 0.25f);
  // Tk = 0: every query row has no key: zeros, and zero gradients.
  auto fwd = call_op("attention", {{"q", view_of(q, Shape{2, 3, 2, 4})}, {"k", view_of(none, Shape{2, 0, 1, 4})},
                                   {"v", view_of(none, Shape{2, 0, 1, 4})}});
  for (float x : values_of<float>(fwd[0])) VLA_EXPECT(x == 0.0f);
  VLA_EXPECT(fwd[1].view.shape == (Shape{2, 2, 3, 0}));
  auto bwd = call_op("attention_backward",
                     {{"q", view_of(q, Shape{2, 3, 2, 4})}, {"k", view_of(none, Shape{2, 0, 1, 4})},
                      {"v", view_of(none, Shape{2, 0, 1, 4})}, {"probs", view_of(none, Shape{2, 2, 3, 0})},
                      {"dout", view_of(dout, Shape{2, 3, 2, 4})}});
  for (float x : values_of<float>(bwd[0])) VLA_EXPECT(x == 0.0f);
  // B = 0 and Tq = 0.
  std::vector<float> kv(3 * 1 * 4, 1.0f);
  VLA_EXPECT(call_op("attention", {{"q", view_of(none, Shape{0, 3, 2, 4})}, {"k", view_of(none, Shape{0, 3, 1, 4})},
                                   {"v", view_of(none, Shape{0, 3, 1, 4})}})[0]
                 .view.numel() == 0);
  VLA_EXPECT(call_op("attention", {{"q", view_of(none, Shape{1, 0, 2, 4})}, {"k", view_of(kv, Shape{1, 3, 1, 4})},
                                   {"v", view_of(kv, Shape{1, 3, 1, 4})}})[1]
                 .view.shape == (Shape{1, 2, 0, 3}));
}

VLA_TEST(attention, errors_name_input_and_expected_shape) {
  std::vector<float> q(2 * 3 * 4 * 8, 0.5f), k(2 * 5 * 3 * 8, 0.5f), k2(2 * 5 * 2 * 8, 0.5f);
  std::vector<uint8_t> mask(2 * 3 * 5, 1);
  auto attn = [&](Shape qs, Shape ks, Shape vs, const Shape* ms, NamedAttrs attrs = {}) {
    NamedInputs in = {{"q", view_of(q, qs)}, {"k", view_of(k, ks)}, {"v", view_of(k, vs)}};
    if (ms) in.push_back({"mask", view_of(mask, *ms)});
    return call_op("attention", in, attrs);
  };
  VLA_EXPECT_THROWS(attn(Shape{2, 3, 4, 8}, Shape{2, 5, 3, 8}, Shape{2, 5, 3, 8}, nullptr), ErrorCode::kShape,
                    "input 'k' has shape [2, 5, 3, 8], expected [2, Tk, Hkv, 8] with Hkv >= 1 dividing Hq = 4");
  VLA_EXPECT_THROWS(attn(Shape{2, 3, 4, 8}, Shape{2, 5, 2, 12}, Shape{2, 5, 2, 12}, nullptr), ErrorCode::kShape,
                    "input 'k' has shape [2, 5, 2, 12], expected [2, Tk, Hkv, 8]");
  VLA_EXPECT_THROWS(attn(Shape{2, 3, 4, 8}, Shape{2, 5, 2, 8}, Shape{2, 4, 2, 8}, nullptr), ErrorCode::kShape,
                    "input 'v' has shape [2, 4, 2, 8], expected [2, 5, 2, 8] (the shape of 'k')");
  VLA_EXPECT_THROWS(attn(Shape{2, 3, 32}, Shape{2, 5, 2, 8}, Shape{2, 5, 2, 8}, nullptr), ErrorCode::kShape,
                    "input 'q' has shape [2, 3, 32], expected rank 4");
  const Shape bad_mask{2, 5, 3};
  VLA_EXPECT_THROWS(attn(Shape{2, 3, 4, 8}, Shape{2, 5, 2, 8}, Shape{2, 5, 2, 8}, &bad_mask), ErrorCode::kShape,
                    "input 'mask' has shape [2, 5, 3], expected [2, 3, 5] or [1, 3, 5]");
  const Shape good_mask{2, 3, 5};
  mask[7] = 2;
  VLA_EXPECT_THROWS(attn(Shape{2, 3, 4, 8}, Shape{2, 5, 2, 8}, Shape{2, 5, 2, 8}, &good_mask), ErrorCode::kValue,
                    "input 'mask' has value 2 at [0, 1, 2]; expected 0 or 1");
  mask[7] = 1;
  VLA_EXPECT_THROWS(attn(Shape{2, 3, 4, 8}, Shape{2, 5, 2, 8}, Shape{2, 5, 2, 8}, &good_mask, {{"scale", INFINITY}}),
                    ErrorCode::kValue, "attribute 'scale' = inf is out of range");
  std::vector<float> probs(2 * 4 * 3 * 4);
  VLA_EXPECT_THROWS(call_op("attention_backward", {{"q", view_of(q, Shape{2, 3, 4, 8})},
                                                   {"k", view_of(k, Shape{2, 5, 2, 8})},
                                                   {"v", view_of(k, Shape{2, 5, 2, 8})},
                                                   {"probs", view_of(probs, Shape{2, 4, 3, 4})},
                                                   {"dout", view_of(q, Shape{2, 3, 4, 8})}}),
                    ErrorCode::kShape, "input 'probs' has shape [2, 4, 3, 4], expected [2, 4, 3, 5]");
}

VLA_TEST(attention, hot_path_timing) {
  // Not a benchmark harness: prints the two policy layouts' timings (min of several runs) so
  // regressions are visible in the test log. Checks only that the outputs are finite.
  struct Layout {
    AttentionShape s;
    const char* name;
    int reps;
  };
  for (const Layout& L : {Layout{{64, 98, 98, 4, 2, 32, false}, "training B=64 T=98 Hq=4 Hkv=2 D=32", 20},
                          Layout{{1, 10, 98, 4, 2, 32, false}, "acting B=1 Tq=10 Tk=98 Hq=4 Hkv=2 D=32", 2000}}) {
    const AttentionShape& s = L.s;
    Rng rng(2);
    std::vector<float> q = random_values<float>(rng, s.B * s.Tq * s.Hq * s.D),
                       k = random_values<float>(rng, s.B * s.Tk * s.Hkv * s.D),
                       v = random_values<float>(rng, s.B * s.Tk * s.Hkv * s.D),
                       dout = random_values<float>(rng, s.B * s.Tq * s.Hq * s.D);
    std::vector<uint8_t> mask(static_cast<size_t>(s.Tq * s.Tk), 1);
    for (int64_t i = 0; i < s.Tq; ++i)  // a prefix-LM-like mask: the last 33 keys are causal
      for (int64_t j = s.Tk - 33; j < s.Tk; ++j) mask[i * s.Tk + j] = j - (s.Tk - s.Tq) <= i ? 1 : 0;
    std::vector<float> out(q.size()), probs(static_cast<size_t>(s.B * s.Hq * s.Tq * s.Tk)), dq(q.size()),
        dk(k.size()), dv(v.size());
    double best_fwd = 1e30, best_bwd = 1e30;
    for (int r = 0; r < L.reps; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      attention_forward<float>(q.data(), k.data(), v.data(), mask.data(), 0.17677669f, out.data(), probs.data(), s);
      auto t1 = std::chrono::steady_clock::now();
      attention_backward<float>(q.data(), k.data(), v.data(), probs.data(), dout.data(), 0.17677669f, dq.data(),
                                dk.data(), dv.data(), s);
      auto t2 = std::chrono::steady_clock::now();
      best_fwd = std::min(best_fwd, std::chrono::duration<double, std::micro>(t1 - t0).count());
      best_bwd = std::min(best_bwd, std::chrono::duration<double, std::micro>(t2 - t1).count());
    }
    std::printf("    attention %s, %d threads: forward %.1f us, backward %.1f us\n", L.name, num_threads(), best_fwd,
                best_bwd);
    for (const auto* t : {&out, &dq, &dk, &dv})
      for (float x : *t) VLA_EXPECT(std::isfinite(x));
  }
}

}  // namespace vla::test
