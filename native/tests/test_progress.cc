// The pairwise progress critic (head 'progress', EVOLVE-VLA) on the transformer core: float64
// finite-difference gradients of every parameter group, float32 against float64, the config and
// its JSON, frames told apart, training steps, checkpoints and the errors of each head's calls.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/random.h"
#include "model/checkpoint.h"
#include "model/policy.h"
#include "tests/test_framework.h"

namespace vla::test {

namespace {

ModelConfig critic_tiny() { return ModelConfig::preset_named("critic-tiny", 9); }

// Random frame pairs, partly padded instructions (at least one real token), targets in
// [-90, 90] and weights in [0.2, 2].
template <typename T>
struct CriticBatch {
  int64_t B;
  std::vector<uint8_t> images;
  std::vector<int32_t> text;
  std::vector<T> targets, weights;

  CriticBatch(const ModelConfig& c, int64_t batch, uint64_t seed) : B(batch) {
    Rng r(seed, 91);
    const int64_t S = c.image_size, L = c.max_text_len;
    images.resize(static_cast<size_t>(B * c.frames * S * S * 3));
    for (auto& p : images) p = static_cast<uint8_t>(r.below(256));
    text.assign(static_cast<size_t>(B * L), 0);
    for (int64_t b = 0; b < B; ++b) {
      const int64_t n = 1 + static_cast<int64_t>(r.below(static_cast<uint64_t>(L - 1)));  // < L: padding in every sample
      for (int64_t j = 0; j < n; ++j) text[b * L + j] = static_cast<int32_t>(2 + r.below(static_cast<uint64_t>(c.vocab_size - 2)));
    }
    for (int64_t b = 0; b < B; ++b) targets.push_back(static_cast<T>(r.range(-90, 90)));
    for (int64_t b = 0; b < B; ++b) weights.push_back(static_cast<T>(r.range(0.2, 2)));
  }
  ObsBatch<T> obs() const {
    ObsBatch<T> o;
    o.B = B;
    o.images = images.data();
    o.text = text.data();
    return o;  // no state, no embodiment: a critic reads neither
  }
};

template <typename T>
struct CriticFixture {
  ModelConfig cfg;
  Policy<T> critic;
  CriticBatch<T> batch;
  CriticFixture(uint64_t seed, int64_t B = 3) : cfg(critic_tiny()), critic(cfg, seed), batch(cfg, B, seed) {
    // Nudge the constant-initialized parameters (norm weights 1, biases 0) so no gradient is
    // trivially symmetric; shrink the output so tanh is not saturated.
    Rng r(seed, 5);
    for (const auto& p : critic.layout().params())
      if (p.is_constant)
        for (int64_t j = 0; j < p.shape.numel(); ++j) critic.params()[p.offset + j] += static_cast<T>(0.3 * r.normal());
    const ParamInfo* out = critic.layout().find("progress.out.weight");
    for (int64_t j = 0; j < out->shape.numel(); ++j) critic.params()[out->offset + j] *= T(0.5);
  }
};

}  // namespace

VLA_TEST(progress, config_presets_json_and_validation) {
  ModelConfig c = critic_tiny();
  VLA_EXPECT(c.is_progress() && c.frames == 2 && !c.use_prompt && !c.use_state_expert);
  VLA_EXPECT(c.num_patches() == 2 * (16 / 8) * (16 / 8)) << c.num_patches();
  ModelConfig back = ModelConfig::from_json(c.to_json(), "cfg");
  VLA_EXPECT(back.to_json().dump() == c.to_json().dump()) << back.to_json().dump();
  VLA_EXPECT(back.frames == 2 && back.head == "progress");
  // Written only when not default: every existing config serializes exactly as before.
  ModelConfig policy = ModelConfig::preset_named("tiny", 9);
  VLA_EXPECT(policy.to_json().find("frames") == nullptr);
  VLA_EXPECT(policy.to_json().find("head") == nullptr);
  VLA_EXPECT(c.to_json().find("frames") != nullptr && c.to_json().find("head") != nullptr);
  ModelConfig small = ModelConfig::preset_named("critic-small", 30);
  VLA_EXPECT(small.image_size == 64 && small.patch_size == 8 && small.frames == 2 && small.depth == 4 && small.num_heads == 4 &&
             small.num_kv_heads == 2 && small.head_dim == 32 && small.backbone.width == 128 && small.backbone.mlp_dim == 512 &&
             small.max_text_len == ModelConfig::preset_named("small", 30).max_text_len);

  ModelConfig bad = c;
  bad.frames = 5;
  VLA_EXPECT_THROWS(bad.validate(), ErrorCode::kValue, "frames = 5 violates 1 <= frames <= 4");
  bad = c;
  bad.head = "critic";
  VLA_EXPECT_THROWS(bad.validate(), ErrorCode::kValue, "head = 'critic' is not a known head");
  bad = c;
  bad.use_prompt = true;
  VLA_EXPECT_THROWS(bad.validate(), ErrorCode::kValue, "use_prompt = 1 violates use_prompt = false for a progress critic");
  bad = c;
  bad.use_prompt = true;
  bad.use_state_expert = true;
  VLA_EXPECT_THROWS(bad.validate(), ErrorCode::kValue, "use_prompt");
  JsonValue j = c.to_json();
  std::string text = j.dump();
  const std::string key = "\"frames\":2";
  VLA_EXPECT(text.find(key) != std::string::npos) << text;
  text.replace(text.find(key), key.size(), "\"frames\":0");
  VLA_EXPECT_THROWS(ModelConfig::from_json(parse_json(text, "cfg"), "ckpt config"), ErrorCode::kValue, "ckpt config.frames");
}

VLA_TEST(progress, layout_has_the_backbone_and_the_progress_head_only) {
  ModelConfig c = critic_tiny();
  ParamLayout l(c);
  int backbone = 0;
  for (const auto& p : l.params()) {
    VLA_EXPECT(p.name.find(".action.") == std::string::npos && p.name.rfind("action.", 0) != 0) << p.name;
    VLA_EXPECT(p.name.find(".state.") == std::string::npos && p.name.rfind("state.", 0) != 0 && p.name != "prompt") << p.name;
    VLA_EXPECT(p.group == ParamGroup::kEmbed || p.group == ParamGroup::kBackbone || p.group == ParamGroup::kProgress) << p.name;
    backbone += p.group == ParamGroup::kBackbone;
  }
  VLA_EXPECT(backbone == 8 * c.depth) << backbone;
  VLA_EXPECT(l.find("embed.pos")->shape == (Shape{c.num_patches(), c.backbone.width}));
  VLA_EXPECT(l.find("progress.final_norm.weight")->shape == (Shape{c.backbone.width}));
  VLA_EXPECT(l.find("progress.out.weight")->shape == (Shape{1, c.backbone.width}));
  VLA_EXPECT(l.find("progress.out.bias")->shape == (Shape{1}));
  VLA_EXPECT(std::string(param_group_name(ParamGroup::kProgress)) == "progress");
  std::vector<double> buf(static_cast<size_t>(l.total()));
  ParamsView<double> v = l.view(buf.data());
  VLA_EXPECT(v.layers[0].size() == static_cast<size_t>(c.depth) && v.layers[1].empty() && v.layers[2].empty());
  VLA_EXPECT(v.progress_norm && v.progress_out_w && v.progress_out_b && !v.prompt);
}

VLA_TEST(progress, gradcheck_every_group_float64) {
  CriticFixture<double> fx(1);
  Policy<double>& m = fx.critic;
  const auto obs = fx.batch.obs();
  const double* given = fx.batch.weights.data();
  for (const double* weights : {static_cast<const double*>(nullptr), given}) {
    m.zero_grads();
    m.progress_loss_and_grads(obs, fx.batch.targets.data(), weights, true);
    std::vector<double> analytic(m.grads(), m.grads() + m.num_params());
    Rng r(99, 3);
    const double h = 1e-5;
    int probes = 0, nonzero = 0;
    double worst = 0;
    bool groups_seen[6] = {false, false, false, false, false, false};
    for (const auto& p : m.layout().params()) {
      const int64_t numel = p.shape.numel(), per = 6;
      const int64_t count = numel <= 2 * per ? numel : per;
      for (int64_t k = 0; k < count; ++k) {
        int64_t i = p.offset + (numel <= 2 * per ? k : static_cast<int64_t>(r.below(static_cast<uint64_t>(numel))));
        if (p.name == "embed.text") {
          // Only ids present in the batch (and the padding id, which is never attended) have rows in use.
          const int32_t id = fx.batch.text[static_cast<size_t>(k) % fx.batch.text.size()];
          i = p.offset + id * fx.cfg.backbone.width + static_cast<int64_t>(r.below(static_cast<uint64_t>(fx.cfg.backbone.width)));
        }
        const double saved = m.params()[i];
        m.params()[i] = saved + h;
        const double lp = m.progress_loss_and_grads(obs, fx.batch.targets.data(), weights, false).total;
        m.params()[i] = saved - h;
        const double lm = m.progress_loss_and_grads(obs, fx.batch.targets.data(), weights, false).total;
        m.params()[i] = saved;
        const double numeric = (lp - lm) / (2 * h);
        const double a = analytic[static_cast<size_t>(i)];
        const double err = std::fabs(a - numeric) / (1e-9 + 1e-5 * std::max(std::fabs(a), std::fabs(numeric)));
        worst = std::max(worst, err);
        ++probes;
        nonzero += std::fabs(a) > 1e-9;
        groups_seen[static_cast<int>(p.group)] = true;
        VLA_EXPECT(err <= 1.0) << p.name << "element" << i - p.offset << "analytic" << a << "numeric" << numeric;
      }
    }
    std::printf("    progress loss (%s weights): %d probes (%d with a non-zero gradient), worst error %.3g (<= 1 passes)\n",
                weights ? "given" : "no", probes, nonzero, worst);
    VLA_EXPECT(groups_seen[static_cast<int>(ParamGroup::kEmbed)] && groups_seen[static_cast<int>(ParamGroup::kBackbone)] &&
               groups_seen[static_cast<int>(ParamGroup::kProgress)]);
    // Unlike a policy's prefix, the critic's last layer is read by its head: every probe is live
    // (the text rows of padding ids are the exception).
    VLA_EXPECT(nonzero > probes * 9 / 10) << nonzero << "of" << probes;
    VLA_EXPECT(probes > 100) << probes;
  }
}

VLA_TEST(progress, gradients_accumulate_and_weights_mean_a_weighted_mean) {
  CriticFixture<double> fx(2);
  Policy<double>& m = fx.critic;
  const auto obs = fx.batch.obs();
  m.zero_grads();
  LossResult once = m.progress_loss_and_grads(obs, fx.batch.targets.data(), nullptr, true);
  std::vector<double> g1(m.grads(), m.grads() + m.num_params());
  m.progress_loss_and_grads(obs, fx.batch.targets.data(), nullptr, true);
  double worst = 0;
  for (int64_t i = 0; i < m.num_params(); ++i) worst = std::max(worst, std::fabs(m.grads()[i] - 2 * g1[static_cast<size_t>(i)]));
  VLA_EXPECT(worst < 1e-12) << worst;
  // Null weights are weights of 1; the loss is the weighted mean of the per-sample losses.
  std::vector<double> ones(static_cast<size_t>(fx.batch.B), 2.0), values(static_cast<size_t>(fx.batch.B));
  LossResult w2 = m.progress_loss_and_grads(obs, fx.batch.targets.data(), ones.data(), false, values.data());
  VLA_EXPECT_NEAR(w2.total, once.total, 1e-14);
  const auto& w = fx.batch.weights;
  LossResult lw = m.progress_loss_and_grads(obs, fx.batch.targets.data(), w.data(), false);
  double num = 0, den = 0;
  for (int64_t b = 0; b < fx.batch.B; ++b) {
    const double d = (values[b] - fx.batch.targets[b]) / 100;
    VLA_EXPECT_NEAR(lw.progress_per_sample[b], d * d, 1e-15);
    num += w[b] * d * d;
    den += w[b];
  }
  VLA_EXPECT_NEAR(lw.total, num / den, 1e-14);
  VLA_EXPECT(lw.progress == lw.total);
  // progress() gives the same values, all within [-100, 100].
  std::vector<double> c(static_cast<size_t>(fx.batch.B));
  m.progress(obs, c.data());
  VLA_EXPECT(c == values);
  for (double v : c) VLA_EXPECT(v >= -100 && v <= 100) << v;
}

VLA_TEST(progress, float32_matches_float64) {
  CriticFixture<double> f64(3);
  Policy<float> p32(f64.cfg, 3);
  for (int64_t i = 0; i < f64.critic.num_params(); ++i) p32.params()[i] = static_cast<float>(f64.critic.params()[i]);
  for (int64_t i = 0; i < f64.critic.num_params(); ++i) f64.critic.params()[i] = static_cast<double>(p32.params()[i]);
  CriticBatch<float> b32(f64.cfg, f64.batch.B, 3);
  for (auto& y : f64.batch.targets) y = static_cast<double>(static_cast<float>(y));
  const int64_t B = f64.batch.B;
  std::vector<double> c64(static_cast<size_t>(B));
  std::vector<float> c32(static_cast<size_t>(B));
  f64.critic.progress(f64.batch.obs(), c64.data());
  p32.progress(b32.obs(), c32.data());
  double worst_c = 0;
  for (int64_t b = 0; b < B; ++b) worst_c = std::max(worst_c, std::fabs(c64[b] - static_cast<double>(c32[b])));
  f64.critic.zero_grads();
  p32.zero_grads();
  LossResult l64 = f64.critic.progress_loss_and_grads(f64.batch.obs(), f64.batch.targets.data(), nullptr, true);
  LossResult l32 = p32.progress_loss_and_grads(b32.obs(), b32.targets.data(), nullptr, true);
  double scale = 1e-6, worst = 0;
  for (int64_t i = 0; i < p32.num_params(); ++i) scale = std::max(scale, std::fabs(f64.critic.grads()[i]));
  for (int64_t i = 0; i < p32.num_params(); ++i)
    worst = std::max(worst, std::fabs(f64.critic.grads()[i] - static_cast<double>(p32.grads()[i])));
  std::printf("    float32 vs float64: c within %.3g (of 100), loss %.3g rel, gradients %.3g of max |g|\n", worst_c,
              std::fabs(l64.total - l32.total) / l64.total, worst / scale);
  VLA_EXPECT(worst_c < 1e-3) << worst_c;
  VLA_EXPECT(std::fabs(l64.total - l32.total) / l64.total < 1e-5) << l64.total << l32.total;
  VLA_EXPECT(worst / scale < 1e-4) << worst / scale;
}

VLA_TEST(progress, frames_are_told_apart) {
  // Swapping the two frames of a sample changes its score: the position rows of frame 0 and
  // frame 1 differ (the frame embedding), so the critic is not symmetric in its inputs.
  CriticFixture<float> fx(4, 2);
  const ModelConfig& c = fx.cfg;
  const int64_t frame = c.image_size * c.image_size * 3;
  std::vector<float> a(2), b(2);
  fx.critic.progress(fx.batch.obs(), a.data());
  for (int64_t s = 0; s < fx.batch.B; ++s)
    std::swap_ranges(fx.batch.images.begin() + (2 * s) * frame, fx.batch.images.begin() + (2 * s + 1) * frame,
                     fx.batch.images.begin() + (2 * s + 1) * frame);
  fx.critic.progress(fx.batch.obs(), b.data());
  for (int64_t s = 0; s < fx.batch.B; ++s) VLA_EXPECT(std::fabs(a[s] - b[s]) > 1e-3) << s << a[s] << b[s];
  // Each sample is scored on its own frames: changing sample 1 leaves sample 0's score.
  std::vector<float> d(2);
  for (int64_t i = 0; i < frame; ++i) fx.batch.images[static_cast<size_t>(2 * frame + i)] ^= 0x55;
  fx.critic.progress(fx.batch.obs(), d.data());
  VLA_EXPECT(d[0] == b[0]) << d[0] << b[0];
  VLA_EXPECT(d[1] != b[1]);
}

VLA_TEST(progress, steps_fit_a_fixed_batch) {
  CriticFixture<float> fx(5, 4);
  const std::vector<float> targets = {-60, 20, 80, -10};
  StepOptions s;
  s.adam.lr = 3e-3;
  s.adam.weight_decay = 0;
  s.max_grad_norm = 1.0;
  std::vector<float> before(fx.critic.params(), fx.critic.params() + fx.critic.num_params());
  StepResult first = fx.critic.progress_step(fx.batch.obs(), targets.data(), nullptr, s);
  StepResult last = first;
  for (int k = 1; k < 50; ++k) last = fx.critic.progress_step(fx.batch.obs(), targets.data(), nullptr, s);
  LossResult now = fx.critic.progress_loss_and_grads(fx.batch.obs(), targets.data(), nullptr, false);
  std::printf("    progress steps: loss %.4g -> %.4g after 50 steps\n", first.loss.total, now.total);
  VLA_EXPECT(now.total < 0.2 * first.loss.total) << first.loss.total << now.total;
  VLA_EXPECT(fx.critic.optimizer_step() == 50);
  VLA_EXPECT(first.grad_norm > 0 && std::isfinite(first.grad_norm));
  // Every group moved.
  for (ParamGroup g : {ParamGroup::kEmbed, ParamGroup::kBackbone, ParamGroup::kProgress}) {
    int moved = 0;
    for (auto [b, e] : fx.critic.layout().ranges_for({g}))
      for (int64_t i = b; i < e; ++i) moved += fx.critic.params()[i] != before[static_cast<size_t>(i)];
    VLA_EXPECT(moved > 0) << param_group_name(g);
  }
}

VLA_TEST(progress, non_finite_gradients_change_nothing) {
  CriticFixture<float> fx(6);
  const ParamInfo* w = fx.critic.layout().find("embed.patch.weight");
  fx.critic.params()[w->offset] = std::nanf("");
  std::vector<float> before(fx.critic.params(), fx.critic.params() + fx.critic.num_params());
  StepOptions s;
  s.adam.lr = 1e-3;
  VLA_EXPECT_THROWS(fx.critic.progress_step(fx.batch.obs(), fx.batch.targets.data(), nullptr, s), ErrorCode::kValue,
                    "progress_step: a non-finite gradient");
  for (int64_t i = 0; i < fx.critic.num_params(); ++i)
    if (i != w->offset) {
      VLA_EXPECT(fx.critic.params()[i] == before[static_cast<size_t>(i)]) << i;
    }
  VLA_EXPECT(fx.critic.optimizer_step() == 0);
}

VLA_TEST(progress, each_heads_calls_fail_on_the_other_head_and_bad_targets_are_named) {
  CriticFixture<float> fx(7);
  Policy<float>& m = fx.critic;
  ObsBatch<float> o = fx.batch.obs();
  std::vector<float> out(1024), c(static_cast<size_t>(fx.batch.B));
  FlowTargets<float> f;
  LossOptions lo;
  StepOptions so;
  so.adam.lr = 1e-3;
  VLA_EXPECT_THROWS(m.act(o, nullptr, 0, out.data()), ErrorCode::kArgument, "act: this model is a progress critic (head 'progress')");
  VLA_EXPECT_THROWS(m.predict(o, out.data(), out.data(), nullptr, out.data()), ErrorCode::kArgument, "predict: this model is a progress critic");
  VLA_EXPECT_THROWS(m.encode_observations(o, out.data()), ErrorCode::kArgument, "encode_observations: this model is a progress critic");
  VLA_EXPECT_THROWS(m.loss_and_grads(o, f, lo, true), ErrorCode::kArgument, "loss_and_grads: this model is a progress critic");
  VLA_EXPECT_THROWS(m.step(o, f, lo, so), ErrorCode::kArgument, "step: this model is a progress critic");

  Policy<float> policy(ModelConfig::preset_named("tiny", 9), 1);
  VLA_EXPECT_THROWS(policy.progress(o, c.data()), ErrorCode::kArgument, "progress: this model is a policy (head 'policy')");
  VLA_EXPECT_THROWS(policy.progress_loss_and_grads(o, fx.batch.targets.data(), nullptr, true), ErrorCode::kArgument,
                    "progress_loss_and_grads: this model is a policy");
  VLA_EXPECT_THROWS(policy.progress_step(o, fx.batch.targets.data(), nullptr, so), ErrorCode::kArgument, "progress_step: this model is a policy");

  std::vector<float> y = fx.batch.targets, w(static_cast<size_t>(fx.batch.B), 1.0f);
  y[1] = std::nanf("");
  VLA_EXPECT_THROWS(m.progress_step(o, y.data(), nullptr, so), ErrorCode::kValue, "progress_loss_and_grads: targets[1] is not finite");
  y[1] = 0;
  y[2] = 150;
  VLA_EXPECT_THROWS(m.progress_step(o, y.data(), nullptr, so), ErrorCode::kValue, "targets[2] = 150 is not in [-100, 100]");
  y[2] = -100;  // the ends are allowed
  w[0] = -1;
  VLA_EXPECT_THROWS(m.progress_loss_and_grads(o, y.data(), w.data(), false), ErrorCode::kValue, "weights[0] = -1 is negative");
  w[0] = INFINITY;
  VLA_EXPECT_THROWS(m.progress_loss_and_grads(o, y.data(), w.data(), false), ErrorCode::kValue, "weights[0] is not finite");
  std::fill(w.begin(), w.end(), 0.0f);
  VLA_EXPECT_THROWS(m.progress_loss_and_grads(o, y.data(), w.data(), false), ErrorCode::kValue, "weights are all 0");
  VLA_EXPECT_THROWS(m.progress_loss_and_grads(o, nullptr, nullptr, false), ErrorCode::kArgument, "targets [B] are required");
  ObsBatch<float> empty = o;
  empty.B = 0;
  VLA_EXPECT_THROWS(m.progress(empty, c.data()), ErrorCode::kArgument, "the batch is empty");
  ObsBatch<float> no_images = o;
  no_images.images = nullptr;
  VLA_EXPECT_THROWS(m.progress(no_images, c.data()), ErrorCode::kArgument, "images [B, frames, S, S, 3] and text are required");
  fx.batch.text[1] = 42;
  VLA_EXPECT_THROWS(m.progress(fx.batch.obs(), c.data()), ErrorCode::kValue, "text[0, 1] = 42 is outside the vocabulary");
  VLA_EXPECT(m.optimizer_step() == 0);
}

VLA_TEST(progress, checkpoint_round_trip_is_bitwise) {
  CriticFixture<float> fx(8);
  const std::vector<uint8_t> bytes = serialize_policy(fx.critic, {{"note", "critic"}});
  LoadedPolicy back = load_policy_from_bytes(bytes, "critic.safetensors");
  VLA_EXPECT(back.policy->config().is_progress() && back.policy->config().frames == 2);
  VLA_EXPECT(back.policy->config().to_json().dump() == fx.critic.config().to_json().dump());
  VLA_EXPECT(back.policy->num_params() == fx.critic.num_params());
  VLA_EXPECT(std::equal(fx.critic.params(), fx.critic.params() + fx.critic.num_params(), back.policy->params()));
  std::vector<float> a(static_cast<size_t>(fx.batch.B)), b(a.size());
  fx.critic.progress(fx.batch.obs(), a.data());
  back.policy->progress(fx.batch.obs(), b.data());
  VLA_EXPECT(a == b);
}

}  // namespace vla::test
