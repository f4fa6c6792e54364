// The policy end to end in float64: finite-difference gradient checks of every parameter group
// and of the prompt through the whole model, the gradient routing of TTT-VLA, KV-cached sampling
// against the full pass, and float32 against float64.
#include <cmath>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "core/random.h"
#include "model/policy.h"
#include "tests/test_framework.h"

namespace vla::test {

namespace {

ModelConfig tiny_config() {
  ModelConfig c = ModelConfig::preset_named("tiny", 9);
  c.sample_steps = 3;
  return c;
}

// A batch with random images, partly padded instructions, states and embodiments, and the
// flow-matching draws.
template <typename T>
struct Batch {
  int64_t B;
  std::vector<uint8_t> images;
  std::vector<int32_t> text;
  std::vector<T> state, actions, a_noise, a_time, s_noise, s_time;
  std::vector<uint8_t> drop;

  Batch(const ModelConfig& c, int64_t batch, uint64_t seed) : B(batch) {
    Rng r(seed, 77);
    const int64_t S = c.image_size, L = c.max_text_len;
    images.resize(static_cast<size_t>(B * S * S * 3));
    for (auto& p : images) p = static_cast<uint8_t>(r.below(256));
    text.assign(static_cast<size_t>(B * L), 0);
    for (int64_t b = 0; b < B; ++b) {
      int64_t n = 1 + static_cast<int64_t>(r.below(static_cast<uint64_t>(L)));  // at least one real token
      for (int64_t j = 0; j < n; ++j) text[b * L + j] = static_cast<int32_t>(2 + r.below(static_cast<uint64_t>(c.vocab_size - 2)));
    }
    auto fill = [&](std::vector<T>& v, int64_t n, double lo, double hi, bool normal) {
      v.resize(static_cast<size_t>(n));
      for (auto& x : v) x = static_cast<T>(normal ? r.normal() : r.range(lo, hi));
    };
    fill(state, B * c.state_dim, 0, 0, true);
    fill(actions, B * c.horizon * c.action_dim, 0, 0, true);
    fill(a_noise, B * c.horizon * c.action_dim, 0, 0, true);
    fill(a_time, B, 0.05, 0.95, false);
    fill(s_noise, B * c.state_dim, 0, 0, true);
    fill(s_time, B, 0.05, 0.95, false);
    drop.assign(static_cast<size_t>(B), 0);
  }

  std::vector<int32_t> embodiment_ids(const ModelConfig& c) const {
    std::vector<int32_t> e(static_cast<size_t>(B));
    for (int64_t b = 0; b < B; ++b) e[b] = static_cast<int32_t>(b % c.num_embodiments);
    return e;
  }
};

template <typename T>
struct Fixture {
  ModelConfig cfg;
  Policy<T> policy;
  Batch<T> batch;
  std::vector<int32_t> emb;
  Fixture(uint64_t seed, int64_t B = 3, ModelConfig config = tiny_config())
      : cfg(config), policy(cfg, seed), batch(cfg, B, seed), emb(batch.embodiment_ids(cfg)) {
    // Nudge the constant-initialized parameters (norm weights 1, biases 0) so no gradient is
    // trivially symmetric.
    Rng r(seed, 5);
    for (const auto& p : policy.layout().params())
      if (p.is_constant)
        for (int64_t j = 0; j < p.shape.numel(); ++j) policy.params()[p.offset + j] += static_cast<T>(0.3 * r.normal());
  }
  ObsBatch<T> obs() const {
    return ObsBatch<T>{batch.B, batch.images.data(), batch.text.data(), batch.state.data(), emb.data()};
  }
  FlowTargets<T> targets() const {
    FlowTargets<T> f;
    f.actions = batch.actions.data();
    f.action_noise = batch.a_noise.data();
    f.action_time = batch.a_time.data();
    f.state_noise = batch.s_noise.data();
    f.state_time = batch.s_time.data();
    f.drop_prompt = batch.drop.data();
    return f;
  }
};

// Checks d(total loss)/d(param) for probed elements of every tensor in `groups` against central
// differences. Returns the number of probes.
int check_groups(Fixture<double>& fx, const LossOptions& opt, const std::vector<ParamGroup>& groups,
                 const std::string& what, int probes_per_tensor = 8) {
  Policy<double>& pol = fx.policy;
  pol.zero_grads();
  pol.loss_and_grads(fx.obs(), fx.targets(), opt, true);
  std::vector<double> analytic(pol.grads(), pol.grads() + pol.num_params());
  Rng r(99, 3);
  int probes = 0, nonzero = 0;
  double worst = 0;
  const double h = 1e-5;
  LossOptions fwd = opt;
  for (const auto& p : pol.layout().params()) {
    bool in = false;
    for (ParamGroup g : groups) in = in || g == p.group;
    if (!in) continue;
    // Small tensors are checked whole; larger ones at random elements.
    const int64_t numel = p.shape.numel();
    const int64_t count = numel <= 2 * probes_per_tensor ? numel : probes_per_tensor;
    for (int64_t k = 0; k < count; ++k) {
      int64_t i = p.offset + (numel <= 2 * probes_per_tensor ? k : static_cast<int64_t>(r.below(static_cast<uint64_t>(numel))));
      double saved = pol.params()[i];
      pol.params()[i] = saved + h;
      double lp = pol.loss_and_grads(fx.obs(), fx.targets(), fwd, false).total;
      pol.params()[i] = saved - h;
      double lm = pol.loss_and_grads(fx.obs(), fx.targets(), fwd, false).total;
      pol.params()[i] = saved;
      double numeric = (lp - lm) / (2 * h);
      double a = analytic[static_cast<size_t>(i)];
      double err = std::fabs(a - numeric) / (1e-7 + 1e-5 * std::max(std::fabs(a), std::fabs(numeric)));
      worst = std::max(worst, err);
      ++probes;
      nonzero += std::fabs(a) > 1e-9;
      VLA_EXPECT(err <= 1.0) << what << p.name << "element" << i - p.offset << "analytic" << a << "numeric" << numeric;
    }
  }
  std::printf("    %s: %d probes (%d with a non-zero gradient), worst error %.3g (<= 1 passes)\n", what.c_str(), probes,
              nonzero, worst);
  // Most probed elements must carry gradient, or the check proves little (the backbone's last
  // out-projection and MLP are legitimately dead: no head reads the prefix output).
  VLA_EXPECT(nonzero > probes * 3 / 4) << what << nonzero << "of" << probes;
  return probes;
}

std::vector<ParamGroup> all_groups() {
  return {ParamGroup::kEmbed, ParamGroup::kPrompt, ParamGroup::kBackbone, ParamGroup::kAction, ParamGroup::kState};
}

}  // namespace

VLA_TEST(policy, gradcheck_action_loss_embed_backbone_action) {
  // With the prompt hidden from every action row, the routed action-loss gradient is the true
  // gradient for the embeddings, the backbone and the action expert.
  Fixture<double> fx(1);
  std::fill(fx.batch.drop.begin(), fx.batch.drop.end(), uint8_t(1));
  LossOptions o;
  o.state_loss = false;
  o.grad_groups = all_groups();
  int n = check_groups(fx, o, {ParamGroup::kEmbed, ParamGroup::kBackbone, ParamGroup::kAction}, "action loss");
  VLA_EXPECT(n > 100) << n;
}

VLA_TEST(policy, without_the_state_the_action_expert_is_blind_to_it_and_its_gradient_is_exact) {
  ModelConfig c = tiny_config();
  c.action_sees_state = false;
  Fixture<double> fx(7, 3, c);
  std::fill(fx.batch.drop.begin(), fx.batch.drop.end(), uint8_t(1));
  LossOptions o;
  o.state_loss = false;
  o.grad_groups = all_groups();
  int n = check_groups(fx, o, {ParamGroup::kEmbed, ParamGroup::kBackbone, ParamGroup::kAction}, "action loss, no state input");
  VLA_EXPECT(n > 100) << n;
  // The action field does not change with the state; with the state visible it does.
  const int64_t HA = c.horizon * c.action_dim;
  std::vector<double> x(static_cast<size_t>(fx.batch.B * HA), 0.3), t(static_cast<size_t>(fx.batch.B), 0.5);
  std::vector<double> v1(x.size()), v2(x.size());
  fx.policy.predict(fx.obs(), x.data(), t.data(), nullptr, v1.data());
  for (auto& s : fx.batch.state) s += 1.0;
  fx.policy.predict(fx.obs(), x.data(), t.data(), nullptr, v2.data());
  VLA_EXPECT(v1 == v2);
  Fixture<double> seeing(7, 3);
  seeing.policy.predict(seeing.obs(), x.data(), t.data(), nullptr, v1.data());
  for (auto& s : seeing.batch.state) s += 1.0;
  seeing.policy.predict(seeing.obs(), x.data(), t.data(), nullptr, v2.data());
  VLA_EXPECT(v1 != v2);
  // The switch survives the config's JSON round trip, and configs without it serialize as before.
  VLA_EXPECT(ModelConfig::from_json(c.to_json(), "cfg").action_sees_state == false);
  VLA_EXPECT(tiny_config().to_json().find("action_sees_state") == nullptr);
}

VLA_TEST(policy, gradcheck_state_loss_prompt_and_state_expert) {
  // The state-grounding loss reaches the prompt and the state expert, exactly.
  Fixture<double> fx(2);
  LossOptions o;
  o.action_loss = false;
  o.grad_groups = all_groups();
  int n = check_groups(fx, o, {ParamGroup::kPrompt, ParamGroup::kState}, "state loss", 6);
  VLA_EXPECT(n > 50) << n;
}

VLA_TEST(policy, gradcheck_action_loss_to_prompt_when_routed) {
  // EVOLVE's prompt-only updates open the action -> prompt edge: then the prompt's gradient of
  // the action loss is exact.
  Fixture<double> fx(3);
  LossOptions o;
  o.state_loss = false;
  o.routing.action_to_prompt = true;
  o.grad_groups = {ParamGroup::kPrompt};
  int n = check_groups(fx, o, {ParamGroup::kPrompt}, "action loss -> prompt", 24);
  VLA_EXPECT(n == 24);
}

ModelConfig prompt_seeing_config() {
  ModelConfig c = tiny_config();
  c.obs_attends_prompt = true;
  return c;
}

VLA_TEST(policy, obs_attends_prompt_state_loss_reaches_the_prompt_through_the_observation_rows_exactly) {
  // The observation rows read the prompt, so the state loss's prompt gradient has paths through
  // them (state -> obs -> prompt, prompt -> obs -> prompt): the checked gradient includes them all.
  Fixture<double> fx(21, 3, prompt_seeing_config());
  LossOptions o;
  o.action_loss = false;
  o.grad_groups = all_groups();
  int n = check_groups(fx, o, {ParamGroup::kPrompt, ParamGroup::kState}, "state loss, obs attend prompt", 6);
  VLA_EXPECT(n > 50) << n;
  // Routing still holds: the backbone and the embeddings learn nothing from the state loss.
  for (const auto& p : fx.policy.layout().params())
    if (p.group == ParamGroup::kBackbone || p.group == ParamGroup::kEmbed) {
      for (int64_t j = 0; j < p.shape.numel(); ++j) {
        VLA_EXPECT(fx.policy.grads()[p.offset + j] == 0.0) << p.name;
      }
    }
}

VLA_TEST(policy, obs_attends_prompt_action_loss_to_prompt_when_routed_is_exact) {
  Fixture<double> fx(22, 3, prompt_seeing_config());
  std::fill(fx.batch.drop.begin(), fx.batch.drop.end(), uint8_t(1));  // only through the observation rows
  LossOptions o;
  o.state_loss = false;
  o.routing.action_to_prompt = true;
  o.grad_groups = {ParamGroup::kPrompt};
  int n = check_groups(fx, o, {ParamGroup::kPrompt}, "action loss -> obs -> prompt", 24);
  VLA_EXPECT(n == 24);
}

VLA_TEST(policy, obs_attends_prompt_joint_loss_routes_each_loss_to_its_own_parameters) {
  // Joint loss, a pass per loss: the prompt's gradient is the state loss's alone, the experts'
  // gradients are exact, the backbone's equals the action loss's alone.
  Fixture<double> fx(23, 3, prompt_seeing_config());
  fx.batch.drop[1] = 1;
  LossOptions joint;
  joint.state_weight = 0.7;
  joint.grad_groups = all_groups();
  check_groups(fx, joint, {ParamGroup::kAction, ParamGroup::kState}, "joint loss, obs attend prompt");
  Policy<double>& pol = fx.policy;
  auto grads_of = [&](const LossOptions& o) {
    pol.zero_grads();
    pol.loss_and_grads(fx.obs(), fx.targets(), o, true);
    return std::vector<double>(pol.grads(), pol.grads() + pol.num_params());
  };
  std::vector<double> both = grads_of(joint);
  LossOptions action_only = joint, state_only = joint;
  action_only.state_loss = false;
  state_only.action_loss = false;
  std::vector<double> ga = grads_of(action_only), gs = grads_of(state_only);
  double prompt_norm = 0;
  for (const auto& p : pol.layout().params())
    for (int64_t j = 0; j < p.shape.numel(); ++j) {
      const size_t i = static_cast<size_t>(p.offset + j);
      if (p.group == ParamGroup::kPrompt) {
        VLA_EXPECT(std::fabs(both[i] - gs[i]) <= 1e-12 * (1 + std::fabs(gs[i]))) << p.name;
        VLA_EXPECT(ga[i] == 0.0) << p.name;
        prompt_norm += gs[i] * gs[i];
      }
      if (p.group == ParamGroup::kBackbone || p.group == ParamGroup::kEmbed) {
        VLA_EXPECT(std::fabs(both[i] - ga[i]) <= 1e-12 * (1 + std::fabs(ga[i]))) << p.name;
      }
    }
  VLA_EXPECT(prompt_norm > 0);
}

VLA_TEST(policy, obs_attends_prompt_moves_actions_without_the_action_edge_and_refuses_encodings) {
  // With every prompt -> action edge dropped, a changed prompt still changes the action field when
  // the observation rows read it, and never when they do not.
  for (bool seeing : {false, true}) {
    Fixture<double> fx(24, 2, seeing ? prompt_seeing_config() : tiny_config());
    std::fill(fx.batch.drop.begin(), fx.batch.drop.end(), uint8_t(1));
    const int64_t HA = fx.cfg.horizon * fx.cfg.action_dim;
    std::vector<double> x(static_cast<size_t>(fx.batch.B * HA), 0.3), t(static_cast<size_t>(fx.batch.B), 0.5);
    std::vector<double> v1(x.size()), v2(x.size());
    fx.policy.predict(fx.obs(), x.data(), t.data(), fx.batch.drop.data(), v1.data());
    for (const auto& p : fx.policy.layout().params())
      if (p.group == ParamGroup::kPrompt)
        for (int64_t j = 0; j < p.shape.numel(); ++j) fx.policy.params()[p.offset + j] += 0.5;
    fx.policy.predict(fx.obs(), x.data(), t.data(), fx.batch.drop.data(), v2.data());
    VLA_EXPECT((v1 != v2) == seeing) << "obs_attends_prompt" << seeing;
  }
  Fixture<double> fx(25, 2, prompt_seeing_config());
  std::vector<double> enc(static_cast<size_t>(fx.batch.B * fx.policy.encoding_size()));
  VLA_EXPECT_THROWS(fx.policy.encode_observations(fx.obs(), enc.data()), ErrorCode::kArgument, "obs_attends_prompt");
  std::vector<double> out(static_cast<size_t>(fx.batch.B * fx.cfg.horizon * fx.cfg.action_dim));
  VLA_EXPECT_THROWS(fx.policy.act(fx.obs(), nullptr, 1, out.data(), nullptr, enc.data()), ErrorCode::kArgument, "obs_attends_prompt");
  // The switch survives the JSON round trip; configs without it serialize as before.
  VLA_EXPECT(ModelConfig::from_json(fx.cfg.to_json(), "cfg").obs_attends_prompt);
  VLA_EXPECT(tiny_config().to_json().find("obs_attends_prompt") == nullptr);
  ModelConfig bad = prompt_seeing_config();
  bad.use_prompt = false;
  bad.use_state_expert = false;
  VLA_EXPECT_THROWS(bad.validate(), ErrorCode::kValue, "obs_attends_prompt");
}

VLA_TEST(policy, act_repacks_its_weights_after_every_change) {
  // act packs its projection weights once per parameter version: after an AdamW step or a write
  // through params() it must act exactly as a fresh policy with the same parameters.
  ModelConfig c = ModelConfig::preset_named("tiny", 9);
  Policy<float> p(c, 3);
  Batch<float> b(c, 2, 4);
  std::vector<int32_t> emb = b.embodiment_ids(c);
  ObsBatch<float> o{b.B, b.images.data(), b.text.data(), b.state.data(), emb.data()};
  const size_t n = static_cast<size_t>(b.B * c.horizon * c.action_dim);
  auto fresh_act = [&](const Policy<float>& src) {
    Policy<float> q(c, src.params());
    std::vector<float> out(n);
    q.act(o, nullptr, 11, out.data());
    return out;
  };
  std::vector<float> a1(n), a2(n);
  p.act(o, nullptr, 11, a1.data());
  p.act(o, nullptr, 11, a2.data());
  VLA_EXPECT(a1 == a2 && a1 == fresh_act(p));
  // A write through params() (the path of setParams and setPrompt).
  const ParamInfo* up = p.layout().find("layers.0.action.mlp.up.weight");
  VLA_CHECK(up != nullptr);
  for (int64_t j = 0; j < up->shape.numel(); ++j) p.params()[up->offset + j] *= 1.5f;
  p.act(o, nullptr, 11, a2.data());
  VLA_EXPECT(a2 != a1);
  VLA_EXPECT(a2 == fresh_act(p));
  // An AdamW step.
  FlowTargets<float> f;
  f.actions = b.actions.data();
  f.action_noise = b.a_noise.data();
  f.action_time = b.a_time.data();
  f.state_noise = b.s_noise.data();
  f.state_time = b.s_time.data();
  LossOptions lo;
  lo.grad_groups = all_groups();
  StepOptions so;
  so.adam.lr = 1e-2;
  p.step(o, f, lo, so);
  std::vector<float> a3(n);
  p.act(o, nullptr, 11, a3.data());
  VLA_EXPECT(a3 != a2);
  VLA_EXPECT(a3 == fresh_act(p));
}

VLA_TEST(policy, gradcheck_joint_loss_expert_weights) {
  // L = L_action + lambda L_state: each expert's weights see only their own loss, exactly.
  Fixture<double> fx(4);
  fx.batch.drop[1] = 1;  // a mix of dropped and kept prompt edges
  LossOptions o;
  o.state_weight = 0.7;
  o.grad_groups = all_groups();
  check_groups(fx, o, {ParamGroup::kAction, ParamGroup::kState}, "joint loss");
}

VLA_TEST(policy, routing_keeps_action_loss_out_of_the_prompt_and_state_loss_out_of_the_backbone) {
  Fixture<double> fx(5);
  Policy<double>& pol = fx.policy;
  auto grad_norm = [&](ParamGroup g) {
    double s = 0;
    for (const auto& p : pol.layout().params())
      if (p.group == g)
        for (int64_t j = 0; j < p.shape.numel(); ++j) s += pol.grads()[p.offset + j] * pol.grads()[p.offset + j];
    return std::sqrt(s);
  };
  LossOptions a;
  a.state_loss = false;
  a.grad_groups = all_groups();
  pol.zero_grads();
  pol.loss_and_grads(fx.obs(), fx.targets(), a, true);
  VLA_EXPECT(grad_norm(ParamGroup::kPrompt) == 0.0) << grad_norm(ParamGroup::kPrompt);
  VLA_EXPECT(grad_norm(ParamGroup::kBackbone) > 0 && grad_norm(ParamGroup::kAction) > 0);
  // ...while the prompt does influence the action loss (the edge exists in the forward).
  LossOptions open = a;
  open.routing.action_to_prompt = true;
  pol.zero_grads();
  pol.loss_and_grads(fx.obs(), fx.targets(), open, true);
  VLA_EXPECT(grad_norm(ParamGroup::kPrompt) > 0);

  LossOptions s;
  s.action_loss = false;
  s.grad_groups = all_groups();
  pol.zero_grads();
  pol.loss_and_grads(fx.obs(), fx.targets(), s, true);
  VLA_EXPECT(grad_norm(ParamGroup::kBackbone) == 0.0 && grad_norm(ParamGroup::kEmbed) == 0.0);
  VLA_EXPECT(grad_norm(ParamGroup::kPrompt) > 0 && grad_norm(ParamGroup::kState) > 0);
}

VLA_TEST(policy, observation_rows_do_not_depend_on_the_prompt) {
  // Changing the prompt must not change the action loss when every action row drops the prompt.
  Fixture<double> fx(6);
  std::fill(fx.batch.drop.begin(), fx.batch.drop.end(), uint8_t(1));
  LossOptions o;
  o.state_loss = false;
  double before = fx.policy.loss_and_grads(fx.obs(), fx.targets(), o, false).total;
  const ParamInfo* pr = fx.policy.layout().find("prompt");
  for (int64_t j = 0; j < pr->shape.numel(); ++j) fx.policy.params()[pr->offset + j] += 0.5;
  double after = fx.policy.loss_and_grads(fx.obs(), fx.targets(), o, false).total;
  VLA_EXPECT(before == after) << before << after;
  // With the prompt visible, it does change.
  std::fill(fx.batch.drop.begin(), fx.batch.drop.end(), uint8_t(0));
  double visible = fx.policy.loss_and_grads(fx.obs(), fx.targets(), o, false).total;
  for (int64_t j = 0; j < pr->shape.numel(); ++j) fx.policy.params()[pr->offset + j] -= 0.5;
  VLA_EXPECT(std::fabs(visible - fx.policy.loss_and_grads(fx.obs(), fx.targets(), o, false).total) > 1e-9);
}

VLA_TEST(policy, cached_sampling_matches_full_passes) {
  // act() encodes the prefix once and re-runs the action rows per step; the same Euler steps
  // computed with full passes (predict) must agree.
  Fixture<double> fx(7);
  const ModelConfig& c = fx.cfg;
  const int64_t B = fx.batch.B, n = B * c.horizon * c.action_dim;
  std::vector<double> noise(static_cast<size_t>(n)), out(static_cast<size_t>(n)), x, v(static_cast<size_t>(n));
  Rng r(11);
  for (auto& z : noise) z = r.normal();
  fx.policy.act(fx.obs(), noise.data(), 0, out.data());
  x = noise;
  std::vector<double> t(static_cast<size_t>(B));
  for (int64_t k = 0; k < c.sample_steps; ++k) {
    std::fill(t.begin(), t.end(), 1.0 - static_cast<double>(k) / static_cast<double>(c.sample_steps));
    fx.policy.predict(fx.obs(), x.data(), t.data(), nullptr, v.data());
    for (int64_t i = 0; i < n; ++i) x[i] -= v[i] / static_cast<double>(c.sample_steps);
  }
  double worst = 0;
  for (int64_t i = 0; i < n; ++i) worst = std::max(worst, std::fabs(out[i] - x[i]));
  VLA_EXPECT(worst < 1e-12) << worst;
  // Seeded noise is reproducible.
  std::vector<double> a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
  fx.policy.act(fx.obs(), nullptr, 42, a.data());
  fx.policy.act(fx.obs(), nullptr, 42, b.data());
  VLA_EXPECT(a == b);
}

VLA_TEST(policy, float32_matches_float64) {
  Fixture<double> f64(8);
  Policy<float> p32(f64.cfg, 8);
  for (int64_t i = 0; i < f64.policy.num_params(); ++i) p32.params()[i] = static_cast<float>(f64.policy.params()[i]);
  for (int64_t i = 0; i < f64.policy.num_params(); ++i) f64.policy.params()[i] = static_cast<double>(p32.params()[i]);
  Batch<float> b32(f64.cfg, f64.batch.B, 8);
  auto cast = [](const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); };
  b32.state = cast(f64.batch.state);
  b32.actions = cast(f64.batch.actions);
  b32.a_noise = cast(f64.batch.a_noise);
  b32.a_time = cast(f64.batch.a_time);
  b32.s_noise = cast(f64.batch.s_noise);
  b32.s_time = cast(f64.batch.s_time);
  b32.images = f64.batch.images;
  b32.text = f64.batch.text;
  for (auto* v : {&f64.batch.state, &f64.batch.actions, &f64.batch.a_noise, &f64.batch.a_time, &f64.batch.s_noise, &f64.batch.s_time})
    for (auto& x : *v) x = static_cast<double>(static_cast<float>(x));
  std::vector<int32_t> emb = f64.emb;
  ObsBatch<float> o32{b32.B, b32.images.data(), b32.text.data(), b32.state.data(), emb.data()};
  FlowTargets<float> t32;
  t32.actions = b32.actions.data();
  t32.action_noise = b32.a_noise.data();
  t32.action_time = b32.a_time.data();
  t32.state_noise = b32.s_noise.data();
  t32.state_time = b32.s_time.data();
  t32.drop_prompt = b32.drop.data();
  LossOptions o;
  o.grad_groups = all_groups();
  f64.policy.zero_grads();
  p32.zero_grads();
  LossResult l64 = f64.policy.loss_and_grads(f64.obs(), f64.targets(), o, true);
  LossResult l32 = p32.loss_and_grads(o32, t32, o, true);
  VLA_EXPECT(std::fabs(l64.total - l32.total) / l64.total < 1e-5) << l64.total << l32.total;
  double scale = 1e-6, worst = 0;
  for (int64_t i = 0; i < f64.policy.num_params(); ++i) scale = std::max(scale, std::fabs(f64.policy.grads()[i]));
  for (int64_t i = 0; i < f64.policy.num_params(); ++i)
    worst = std::max(worst, std::fabs(f64.policy.grads()[i] - static_cast<double>(p32.grads()[i])));
  std::printf("    float32 vs float64: loss %.3g rel, gradients %.3g of max |g|\n", std::fabs(l64.total - l32.total) / l64.total,
              worst / scale);
  VLA_EXPECT(worst / scale < 1e-4) << worst / scale;
}

VLA_TEST(policy, adamw_step_trains_only_the_requested_groups) {
  Fixture<float> fx(9);
  std::vector<float> before(fx.policy.params(), fx.policy.params() + fx.policy.num_params());
  LossOptions o;
  o.action_loss = false;
  o.grad_groups = {ParamGroup::kPrompt};
  StepOptions s;
  s.adam.lr = 1e-2;
  s.adam.weight_decay = 0;
  // Embodiment 0 only: the other prompt blocks must stay bit-identical.
  std::fill(fx.emb.begin(), fx.emb.end(), 0);
  StepResult r = fx.policy.step(fx.obs(), fx.targets(), o, s, true);
  VLA_EXPECT(r.grad_norm > 0);
  const ParamInfo* pr = fx.policy.layout().find("prompt");
  const int64_t block = fx.cfg.num_prompt_tokens * fx.cfg.backbone.width;
  int moved = 0;
  for (int64_t i = 0; i < fx.policy.num_params(); ++i) {
    bool in_block0 = i >= pr->offset && i < pr->offset + block;
    if (!in_block0) VLA_EXPECT(fx.policy.params()[i] == before[i]) << "element" << i << "moved";
    else moved += fx.policy.params()[i] != before[i];
  }
  VLA_EXPECT(moved == block) << moved << block;
  VLA_EXPECT(fx.policy.optimizer_step() == 1);
}

VLA_TEST(policy, rejects_bad_batches) {
  Fixture<float> fx(10);
  std::vector<float> out(static_cast<size_t>(fx.batch.B * fx.cfg.horizon * fx.cfg.action_dim));
  fx.emb[1] = 7;
  VLA_EXPECT_THROWS(fx.policy.act(fx.obs(), nullptr, 0, out.data()), ErrorCode::kValue, "embodiment[1] = 7 is not a known embodiment id");
  fx.emb[1] = 0;
  fx.batch.text[2] = 99;
  VLA_EXPECT_THROWS(fx.policy.act(fx.obs(), nullptr, 0, out.data()), ErrorCode::kValue, "text[0, 2] = 99 is outside the vocabulary");
  fx.batch.text[2] = 0;
  fx.batch.state[3] = std::nanf("");
  VLA_EXPECT_THROWS(fx.policy.act(fx.obs(), nullptr, 0, out.data()), ErrorCode::kValue, "state[0, 3] is not finite");
}

}  // namespace vla::test

namespace vla::test {

VLA_TEST(policy, observation_encodings_reproduce_the_uncached_results) {
  Fixture<float> fx(12);
  const ModelConfig& c = fx.cfg;
  const int64_t B = fx.batch.B, E = fx.policy.encoding_size(), n = B * c.horizon * c.action_dim;
  VLA_EXPECT(E == c.depth * 2 * c.obs_len() * c.kv_dim());
  std::vector<float> enc(static_cast<size_t>(B * E)), enc_act(static_cast<size_t>(B * E));
  fx.policy.encode_observations(fx.obs(), enc.data());
  std::vector<float> a1(static_cast<size_t>(n)), a2(static_cast<size_t>(n));
  fx.policy.act(fx.obs(), nullptr, 5, a1.data(), nullptr, enc_act.data());
  VLA_EXPECT(enc == enc_act);  // the prefix pass of act computes the same encodings
  ObsBatch<float> cached = fx.obs();
  cached.images = nullptr;
  cached.encodings = enc.data();
  fx.policy.act(cached, nullptr, 5, a2.data());
  VLA_EXPECT(a1 == a2);

  // The prompt step's loss and prompt gradient are the same with encodings.
  LossOptions o;
  o.action_loss = false;
  o.grad_groups = {ParamGroup::kPrompt, ParamGroup::kState};
  fx.policy.zero_grads();
  LossResult full = fx.policy.loss_and_grads(fx.obs(), fx.targets(), o, true);
  std::vector<float> g_full(fx.policy.grads(), fx.policy.grads() + fx.policy.num_params());
  fx.policy.zero_grads();
  LossResult enc_loss = fx.policy.loss_and_grads(cached, fx.targets(), o, true);
  VLA_EXPECT(full.total == enc_loss.total) << full.total << enc_loss.total;
  VLA_EXPECT(std::equal(g_full.begin(), g_full.end(), fx.policy.grads()));

  // Encodings cannot train what produced them.
  LossOptions train_backbone;
  train_backbone.state_loss = false;
  train_backbone.grad_groups = {ParamGroup::kBackbone};
  VLA_EXPECT_THROWS(fx.policy.loss_and_grads(cached, fx.targets(), train_backbone, true), ErrorCode::kArgument,
                    "cannot train the embeddings or the backbone");
}

}  // namespace vla::test
