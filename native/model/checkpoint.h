// Policy checkpoints: safetensors with every parameter as an F32 (or F16) tensor under its layout name
// (docs/weights.md), and metadata:
//   "format": "vla-ttt-policy", "format_version": "1",
//   "config": the ModelConfig as JSON, "vocab": the tokenizer's words as a JSON array (id order),
//   plus any caller metadata (training facts) under keys of its own.
// Loading is strict: a missing tensor, an unknown tensor or a shape mismatch fails naming it.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "io/safetensors.h"
#include "model/policy.h"

namespace vla {

struct LoadedPolicy {
  std::unique_ptr<Policy<float>> policy;
  std::vector<std::pair<std::string, std::string>> metadata;  // every metadata entry of the file
};

// Writes atomically (temp file + rename). `metadata` must not use the reserved keys.
// `weights` is kF32 (exact, for resuming training) or kF16 (half the size, for shipping: rounded
// to nearest; a weight beyond float16's range fails naming its tensor). Loading widens F16 back.
void save_policy(const Policy<float>& policy, const std::string& path,
                 const std::vector<std::pair<std::string, std::string>>& metadata,
                 StDType weights = StDType::kF32);
// The bytes save_policy writes (same arguments), for callers that keep them in memory.
std::vector<uint8_t> serialize_policy(const Policy<float>& policy,
                                      const std::vector<std::pair<std::string, std::string>>& metadata,
                                      StDType weights = StDType::kF32);
LoadedPolicy load_policy(const std::string& path);
LoadedPolicy load_policy_from_bytes(std::vector<uint8_t> bytes, const std::string& source);

}  // namespace vla
