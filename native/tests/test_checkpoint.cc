// Policy checkpoints from memory: the round trip, and damaged or hostile files that must fail
// naming the tensor or metadata field (the checkpoint fuzz target's regression cases).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "model/checkpoint.h"
#include "model/config.h"
#include "model/policy.h"
#include "tests/test_framework.h"

namespace vla::test {

namespace {

ModelConfig tiny() { return ModelConfig::preset_named("tiny", 9); }

// Every parameter of `policy` as an F32 tensor, for tests to damage one at a time.
std::vector<TensorToWrite> tensors_of(const Policy<float>& policy) {
  std::vector<TensorToWrite> out;
  for (const auto& p : policy.layout().params()) out.push_back({p.name, StDType::kF32, p.shape, policy.params() + p.offset});
  return out;
}

std::vector<std::pair<std::string, std::string>> metadata_for(const ModelConfig& cfg) {
  return {{"format", "vla-ttt-policy"}, {"format_version", "1"}, {"config", cfg.to_json().dump()}};
}

void expect_load_fails(const std::vector<uint8_t>& bytes, const std::string& fragment) {
  try {
    load_policy_from_bytes(bytes, "ckpt.safetensors");
    VLA_EXPECT(false) << "accepted; wanted an error with:" << fragment;
  } catch (const Error& e) {
    VLA_EXPECT(e.code() == ErrorCode::kValue) << e.what();
    VLA_EXPECT(std::string(e.what()).find(fragment) != std::string::npos) << e.what() << "| wanted:" << fragment;
    VLA_EXPECT(std::string(e.what()).find("ckpt.safetensors") != std::string::npos) << e.what();
  }
}

}  // namespace

VLA_TEST(checkpoint, round_trip_from_memory) {
  Policy<float> policy(tiny(), 7);
  for (StDType weights : {StDType::kF32, StDType::kF16}) {
    const std::vector<uint8_t> bytes = serialize_policy(policy, {{"note", "x"}}, weights);
    LoadedPolicy back = load_policy_from_bytes(bytes, "mem");
    VLA_EXPECT(back.policy->num_params() == policy.num_params());
    VLA_EXPECT(back.policy->config().to_json().dump() == policy.config().to_json().dump());
    double worst = 0;
    for (int64_t i = 0; i < policy.num_params(); ++i)
      worst = std::max(worst, std::fabs(static_cast<double>(back.policy->params()[i]) - policy.params()[i]));
    VLA_EXPECT(worst <= (weights == StDType::kF32 ? 0.0 : 4e-3)) << st_dtype_name(weights) << "worst" << worst;
    bool has_note = false;
    for (const auto& [k, v] : back.metadata) has_note |= k == "note" && v == "x";
    VLA_EXPECT(has_note);
  }
}

VLA_TEST(checkpoint, damaged_and_hostile_files) {
  Policy<float> policy(tiny(), 7);
  const ModelConfig cfg = tiny();
  const std::vector<TensorToWrite> all = tensors_of(policy);

  // A valid config describing a huge model (hundreds of terabytes of weights) in a tiny file:
  // rejected by the tensor check before any allocation (the loader used to allocate first).
  ModelConfig huge = cfg;
  huge.depth = 128;
  huge.backbone = {65536, 1 << 20};
  huge.vocab_size = 1 << 20;
  huge.validate();
  expect_load_fails(serialize_safetensors(all, metadata_for(huge)), "tensor 'embed.patch.weight' has shape [16, 192], expected [65536, 192]");
  expect_load_fails(serialize_safetensors({}, metadata_for(huge)), "tensor 'embed.patch.weight' is missing");

  // One tensor missing, one too many, one of the wrong shape or type.
  std::vector<TensorToWrite> missing(all.begin() + 1, all.end());
  expect_load_fails(serialize_safetensors(missing, metadata_for(cfg)), "tensor '" + all[0].name + "' is missing");
  std::vector<TensorToWrite> extra = all;
  const float one = 1;
  extra.push_back({"stray", StDType::kF32, Shape{1}, &one});
  expect_load_fails(serialize_safetensors(extra, metadata_for(cfg)), "tensor 'stray' is not a parameter of this model (tiny config)");
  std::vector<TensorToWrite> reshaped = all;
  reshaped[0].shape = Shape{reshaped[0].shape.numel()};
  expect_load_fails(serialize_safetensors(reshaped, metadata_for(cfg)), "tensor '" + all[0].name + "' has shape [");
  std::vector<TensorToWrite> ints = all;
  ints[0].dtype = StDType::kI32;  // same byte size as F32
  expect_load_fails(serialize_safetensors(ints, metadata_for(cfg)), "tensor '" + all[0].name + "' is I32, expected a float type");

  // Metadata: wrong format or version, a config that is not JSON, not a config, or invalid.
  auto with_meta = [&](const std::string& key, const std::string& value) {
    auto meta = metadata_for(cfg);
    for (auto& [k, v] : meta)
      if (k == key) v = value;
    return serialize_safetensors(all, meta);
  };
  expect_load_fails(with_meta("format", "other"), "not a vla-ttt policy checkpoint (metadata 'format' is 'other')");
  expect_load_fails(with_meta("format_version", "2"), "checkpoint format_version 2 is not supported");
  expect_load_fails(with_meta("config", "{\"depth\":"), "config: invalid JSON at byte 9");
  expect_load_fails(with_meta("config", "[]"), "config must be an object");
  expect_load_fails(with_meta("config", "{\"depht\":2}"), "unknown key 'depht'");
  expect_load_fails(with_meta("config", "{\"depth\":0}"), "config.depth must be an integer in [1, 1099511627776], got 0");
  expect_load_fails(with_meta("config", "{\"head_dim\":3}"), "head_dim = 3 violates");
  expect_load_fails(serialize_safetensors(all, {{"format", "vla-ttt-policy"}, {"format_version", "1"}}), "metadata 'config' is missing");
}

}  // namespace vla::test
