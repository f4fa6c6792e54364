#include "model/config.h"

#include <functional>
#include <map>

#include "core/error.h"

namespace vla {

namespace {

void require(bool ok, const std::string& field, const std::string& rule, double value) {
  if (!ok) fail(ErrorCode::kValue, "model config: ", field, " = ", value, " violates ", rule);
}

}  // namespace

void ModelConfig::validate() const {
  require(image_size >= 1 && image_size <= 1024, "image_size", "1 <= image_size <= 1024", static_cast<double>(image_size));
  require(patch_size >= 1 && image_size % patch_size == 0, "patch_size", "patch_size divides image_size",
          static_cast<double>(patch_size));
  require(max_text_len >= 1 && max_text_len <= 512, "max_text_len", "1 <= max_text_len <= 512", static_cast<double>(max_text_len));
  require(vocab_size >= 2 && vocab_size <= 1 << 20, "vocab_size", "2 <= vocab_size <= 2^20 (ids 0 and 1 are <pad> and <unk>)",
          static_cast<double>(vocab_size));
  require(depth >= 1 && depth <= 128, "depth", "1 <= depth <= 128", static_cast<double>(depth));
  require(num_heads >= 1 && num_heads <= 256, "num_heads", "1 <= num_heads <= 256", static_cast<double>(num_heads));
  require(num_kv_heads >= 1 && num_heads % num_kv_heads == 0, "num_kv_heads", "num_kv_heads divides num_heads",
          static_cast<double>(num_kv_heads));
  require(head_dim >= 2 && head_dim % 2 == 0 && head_dim <= 1024, "head_dim", "an even number in [2, 1024] (RoPE rotates pairs)",
          static_cast<double>(head_dim));
  for (auto [name, e] : {std::pair<const char*, ExpertDims>{"backbone", backbone}, {"action", action}, {"state", state}}) {
    require(e.width >= 1 && e.width <= 65536, std::string(name) + ".width", "1 <= width <= 65536", static_cast<double>(e.width));
    require(e.mlp_dim >= 1 && e.mlp_dim <= 1 << 20, std::string(name) + ".mlp_dim", "1 <= mlp_dim <= 2^20",
            static_cast<double>(e.mlp_dim));
  }
  require(backbone.width % 2 == 0, "backbone.width", "an even width (sinusoidal features come in sin/cos pairs)",
          static_cast<double>(backbone.width));
  require(action.width % 2 == 0, "action.width", "an even width (sinusoidal time features come in sin/cos pairs)",
          static_cast<double>(action.width));
  require(state.width % 2 == 0, "state.width", "an even width (sinusoidal time features come in sin/cos pairs)",
          static_cast<double>(state.width));
  require(num_prompt_tokens >= 1 && num_prompt_tokens <= 256, "num_prompt_tokens", "1 <= num_prompt_tokens <= 256",
          static_cast<double>(num_prompt_tokens));
  require(num_embodiments >= 1 && num_embodiments <= 1024, "num_embodiments", "1 <= num_embodiments <= 1024",
          static_cast<double>(num_embodiments));
  require(!use_state_expert || use_prompt, "use_state_expert", "the state expert needs the prompt (use_prompt = true)",
          use_state_expert ? 1 : 0);
  require(!obs_attends_prompt || use_prompt, "obs_attends_prompt", "observation rows can attend the prompt only with use_prompt = true",
          obs_attends_prompt ? 1 : 0);
  require(horizon >= 1 && horizon <= 256, "horizon", "1 <= horizon <= 256", static_cast<double>(horizon));
  require(action_dim >= 1 && action_dim <= 64, "action_dim", "1 <= action_dim <= 64", static_cast<double>(action_dim));
  require(state_dim >= 1 && state_dim <= 64, "state_dim", "1 <= state_dim <= 64", static_cast<double>(state_dim));
  require(time_min_period > 0 && time_max_period > time_min_period, "time_max_period", "0 < time_min_period < time_max_period",
          time_max_period);
  require(sample_steps >= 1 && sample_steps <= 1000, "sample_steps", "1 <= sample_steps <= 1000", static_cast<double>(sample_steps));
  require(rope_theta > 1, "rope_theta", "rope_theta > 1", rope_theta);
  require(rms_eps > 0 && rms_eps < 1, "rms_eps", "0 < rms_eps < 1", rms_eps);
  require(frames >= 1 && frames <= 4, "frames", "1 <= frames <= 4", static_cast<double>(frames));
  if (head != "policy" && head != "progress")
    fail(ErrorCode::kValue, "model config: head = '", head, "' is not a known head ('policy' or 'progress')");
  if (is_progress()) {
    // The critic's stack is the observation segment alone: no prompt and no state expert to read.
    require(!use_prompt, "use_prompt", "use_prompt = false for a progress critic (head 'progress')", use_prompt ? 1 : 0);
    require(!use_state_expert, "use_state_expert", "use_state_expert = false for a progress critic (head 'progress')",
            use_state_expert ? 1 : 0);
  }
}

JsonValue ModelConfig::to_json() const {
  auto num = [](double v) { return JsonValue::number(v); };
  auto expert = [&](const ExpertDims& e) {
    return JsonValue::object({{"width", num(static_cast<double>(e.width))}, {"mlp_dim", num(static_cast<double>(e.mlp_dim))}});
  };
  std::vector<std::pair<std::string, JsonValue>> members = {
      {"preset", JsonValue::string(preset)},
      {"image_size", num(static_cast<double>(image_size))},
      {"patch_size", num(static_cast<double>(patch_size))},
      {"max_text_len", num(static_cast<double>(max_text_len))},
      {"vocab_size", num(static_cast<double>(vocab_size))},
      {"depth", num(static_cast<double>(depth))},
      {"num_heads", num(static_cast<double>(num_heads))},
      {"num_kv_heads", num(static_cast<double>(num_kv_heads))},
      {"head_dim", num(static_cast<double>(head_dim))},
      {"backbone", expert(backbone)},
      {"action", expert(action)},
      {"state", expert(state)},
      {"num_prompt_tokens", num(static_cast<double>(num_prompt_tokens))},
      {"num_embodiments", num(static_cast<double>(num_embodiments))},
      {"use_prompt", JsonValue::boolean(use_prompt)},
      {"use_state_expert", JsonValue::boolean(use_state_expert)},
      {"horizon", num(static_cast<double>(horizon))},
      {"action_dim", num(static_cast<double>(action_dim))},
      {"state_dim", num(static_cast<double>(state_dim))},
      {"time_min_period", num(time_min_period)},
      {"time_max_period", num(time_max_period)},
      {"sample_steps", num(static_cast<double>(sample_steps))},
      {"rope_theta", num(rope_theta)},
      {"rms_eps", num(rms_eps)},
  };
  // Written only when off, so configs without the switch serialize exactly as before.
  if (!action_sees_state) members.emplace_back("action_sees_state", JsonValue::boolean(false));
  if (obs_attends_prompt) members.emplace_back("obs_attends_prompt", JsonValue::boolean(true));
  if (frames != 1) members.emplace_back("frames", num(static_cast<double>(frames)));
  if (head != "policy") members.emplace_back("head", JsonValue::string(head));
  return JsonValue::object(std::move(members));
}

ModelConfig ModelConfig::from_json(const JsonValue& v, const std::string& what) {
  ModelConfig c;
  const int64_t big = int64_t(1) << 40;
  std::map<std::string, std::function<void(const JsonValue&, const std::string&)>> fields = {
      {"preset", [&](const JsonValue& x, const std::string& w) { c.preset = x.as_string(w); }},
      {"image_size", [&](const JsonValue& x, const std::string& w) { c.image_size = x.as_int(w, 1, big); }},
      {"patch_size", [&](const JsonValue& x, const std::string& w) { c.patch_size = x.as_int(w, 1, big); }},
      {"max_text_len", [&](const JsonValue& x, const std::string& w) { c.max_text_len = x.as_int(w, 1, big); }},
      {"vocab_size", [&](const JsonValue& x, const std::string& w) { c.vocab_size = x.as_int(w, 1, big); }},
      {"depth", [&](const JsonValue& x, const std::string& w) { c.depth = x.as_int(w, 1, big); }},
      {"num_heads", [&](const JsonValue& x, const std::string& w) { c.num_heads = x.as_int(w, 1, big); }},
      {"num_kv_heads", [&](const JsonValue& x, const std::string& w) { c.num_kv_heads = x.as_int(w, 1, big); }},
      {"head_dim", [&](const JsonValue& x, const std::string& w) { c.head_dim = x.as_int(w, 1, big); }},
      {"num_prompt_tokens", [&](const JsonValue& x, const std::string& w) { c.num_prompt_tokens = x.as_int(w, 1, big); }},
      {"num_embodiments", [&](const JsonValue& x, const std::string& w) { c.num_embodiments = x.as_int(w, 1, big); }},
      {"use_prompt", [&](const JsonValue& x, const std::string& w) { c.use_prompt = x.as_bool(w); }},
      {"use_state_expert", [&](const JsonValue& x, const std::string& w) { c.use_state_expert = x.as_bool(w); }},
      {"action_sees_state", [&](const JsonValue& x, const std::string& w) { c.action_sees_state = x.as_bool(w); }},
      {"obs_attends_prompt", [&](const JsonValue& x, const std::string& w) { c.obs_attends_prompt = x.as_bool(w); }},
      {"horizon", [&](const JsonValue& x, const std::string& w) { c.horizon = x.as_int(w, 1, big); }},
      {"action_dim", [&](const JsonValue& x, const std::string& w) { c.action_dim = x.as_int(w, 1, big); }},
      {"state_dim", [&](const JsonValue& x, const std::string& w) { c.state_dim = x.as_int(w, 1, big); }},
      {"time_min_period", [&](const JsonValue& x, const std::string& w) { c.time_min_period = x.as_number(w); }},
      {"time_max_period", [&](const JsonValue& x, const std::string& w) { c.time_max_period = x.as_number(w); }},
      {"sample_steps", [&](const JsonValue& x, const std::string& w) { c.sample_steps = x.as_int(w, 1, big); }},
      {"rope_theta", [&](const JsonValue& x, const std::string& w) { c.rope_theta = x.as_number(w); }},
      {"rms_eps", [&](const JsonValue& x, const std::string& w) { c.rms_eps = x.as_number(w); }},
      {"frames", [&](const JsonValue& x, const std::string& w) { c.frames = x.as_int(w, 1, big); }},
      {"head", [&](const JsonValue& x, const std::string& w) { c.head = x.as_string(w); }},
  };
  auto expert = [&](ExpertDims* e) {
    return [&, e](const JsonValue& x, const std::string& w) {
      for (const auto& [k, val] : x.as_object(w)) {
        if (k == "width") e->width = val.as_int(w + ".width", 1, big);
        else if (k == "mlp_dim") e->mlp_dim = val.as_int(w + ".mlp_dim", 1, big);
        else fail(ErrorCode::kValue, w, ": unknown key '", k, "' (expected width, mlp_dim)");
      }
    };
  };
  fields["backbone"] = expert(&c.backbone);
  fields["action"] = expert(&c.action);
  fields["state"] = expert(&c.state);
  for (const auto& [k, val] : v.as_object(what)) {
    auto it = fields.find(k);
    if (it == fields.end()) fail(ErrorCode::kValue, what, ": unknown key '", k, "'");
    it->second(val, what + "." + k);
  }
  // validate() does not know where the config came from; name it (the checkpoint file, say).
  try {
    c.validate();
  } catch (const Error& e) {
    fail(e.code(), what, ": ", e.what());
  }
  return c;
}

namespace {

// The tiny presets' observation encoding and backbone (tests): 16px images, two layers of width 16.
void use_tiny_backbone(ModelConfig& c) {
  c.image_size = 16;
  c.patch_size = 8;
  c.max_text_len = 4;
  c.depth = 2;
  c.num_heads = 2;
  c.num_kv_heads = 1;
  c.head_dim = 8;
  c.backbone = {16, 24};
}

}  // namespace

ModelConfig ModelConfig::preset_named(const std::string& name, int64_t vocab_size) {
  ModelConfig c;
  c.preset = name;
  c.vocab_size = vocab_size;
  if (name == "tiny") {
    use_tiny_backbone(c);
    c.action = {12, 20};
    c.state = {10, 16};
    c.num_prompt_tokens = 2;
    c.num_embodiments = 2;
    c.horizon = 3;
  } else if (name == "small") {
    // The CPU default and the shipped checkpoints: width 128, depth 4, 4 heads of 32, MLP 512.
  } else if (name == "base") {
    c.depth = 8;
    c.num_heads = 8;
    c.num_kv_heads = 2;
    c.head_dim = 64;
    c.backbone = {512, 2048};
    c.action = {512, 2048};
    c.state = {512, 2048};
  } else if (name == "pi0") {
    // pi0-scale shapes (PaliGemma 2B backbone + 300M action expert), random weights, for GPU benchmarks.
    c.image_size = 224;
    c.patch_size = 14;
    c.max_text_len = 48;
    c.depth = 18;
    c.num_heads = 8;
    c.num_kv_heads = 1;
    c.head_dim = 256;
    c.backbone = {2048, 16384};
    c.action = {1024, 4096};
    c.state = {1024, 4096};
    c.horizon = 50;
  } else if (name == "critic-tiny" || name == "critic-small") {
    // Progress critics: the backbone stack alone over two frames and the instruction.
    c.head = "progress";
    c.frames = 2;
    c.use_prompt = false;
    c.use_state_expert = false;
    if (name == "critic-tiny") use_tiny_backbone(c);
    // critic-small: the small preset's backbone (image 64, patch 8, depth 4, 4 heads of 32 with
    // 2 kv heads, width 128, MLP 512, 16 text tokens).
  } else {
    fail(ErrorCode::kValue, "model config: unknown preset '", name, "' (tiny, small, base, pi0, critic-tiny, critic-small)");
  }
  c.validate();
  return c;
}

}  // namespace vla
