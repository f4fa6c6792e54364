#include "model/checkpoint.h"

#include <cmath>

#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "core/error.h"
#include "io/json.h"
#include "io/safetensors.h"

namespace vla {

namespace {
const char* kReserved[] = {"format", "format_version", "config"};

LoadedPolicy from_file(const SafetensorsFile& f) {
  const SafetensorsHeader& h = f.header();
  const std::string* format = h.meta("format");
  if (!format || *format != "vla-ttt-policy")
    fail(ErrorCode::kValue, f.source(), ": not a vla-ttt policy checkpoint (metadata 'format' is ",
         format ? "'" + *format + "'" : std::string("missing"), ")");
  const std::string* version = h.meta("format_version");
  if (!version || *version != "1")
    fail(ErrorCode::kValue, f.source(), ": checkpoint format_version ", version ? *version : std::string("missing"),
         " is not supported (this build reads version 1)");
  const std::string* config = h.meta("config");
  if (!config) fail(ErrorCode::kValue, f.source(), ": metadata 'config' is missing");
  ModelConfig cfg = ModelConfig::from_json(parse_json(*config, f.source() + " config"), f.source() + " config");
  ParamLayout layout(cfg);
  // Match every parameter to its tensor (name, shape, float type) before allocating anything: a
  // valid config alone may describe terabytes of weights, and only a file that really holds them
  // may make us allocate them. A hash index keeps this linear in the number of tensors.
  std::unordered_map<std::string_view, const SafetensorsEntry*> by_name;
  by_name.reserve(h.tensors.size());
  for (const auto& t : h.tensors) by_name.emplace(t.name, &t);
  std::vector<const SafetensorsEntry*> entries;
  entries.reserve(layout.params().size());
  std::unordered_set<std::string_view> expected;
  for (const auto& p : layout.params()) {
    auto it = by_name.find(p.name);
    if (it == by_name.end())
      fail(ErrorCode::kValue, f.source(), ": tensor '", p.name, "' is missing (the ", cfg.preset, " config in the metadata needs it)");
    const SafetensorsEntry& e = *it->second;
    if (e.shape != p.shape)
      fail(ErrorCode::kValue, f.source(), ": tensor '", p.name, "' has shape ", e.shape.str(), ", expected ", p.shape.str());
    if (e.dtype != StDType::kF32 && e.dtype != StDType::kF16 && e.dtype != StDType::kBF16 && e.dtype != StDType::kF64)
      fail(ErrorCode::kValue, f.source(), ": tensor '", p.name, "' is ", st_dtype_name(e.dtype), ", expected a float type");
    entries.push_back(&e);
    expected.insert(p.name);
  }
  for (const auto& t : h.tensors)
    if (!expected.count(t.name))
      fail(ErrorCode::kValue, f.source(), ": tensor '", t.name, "' is not a parameter of this model (", cfg.preset, " config)");
  std::vector<float> weights(static_cast<size_t>(layout.total()), 0.0f);
  for (size_t i = 0; i < entries.size(); ++i) f.read_as_f32(*entries[i], weights.data() + layout.params()[i].offset);
  LoadedPolicy out;
  out.policy = std::make_unique<Policy<float>>(cfg, weights.data());
  out.metadata = h.metadata;
  return out;
}
}  // namespace

std::vector<uint8_t> serialize_policy(const Policy<float>& policy,
                                      const std::vector<std::pair<std::string, std::string>>& metadata, StDType weights) {
  if (weights != StDType::kF32 && weights != StDType::kF16)
    fail(ErrorCode::kArgument, "save_policy: weights are saved as F32 or F16, not ", st_dtype_name(weights));
  std::vector<std::pair<std::string, std::string>> meta = {
      {"format", "vla-ttt-policy"}, {"format_version", "1"}, {"config", policy.config().to_json().dump()}};
  for (const auto& [k, v] : metadata) {
    for (const char* r : kReserved)
      if (k == r) fail(ErrorCode::kArgument, "save_policy: metadata key '", k, "' is reserved");
    meta.emplace_back(k, v);
  }
  std::vector<TensorToWrite> tensors;
  std::vector<uint16_t> halves;  // the F16 copy of every parameter, in layout order
  if (weights == StDType::kF16) {
    halves.resize(static_cast<size_t>(policy.num_params()));
    for (const auto& p : policy.layout().params()) {
      const float* src = policy.params() + p.offset;
      for (int64_t i = 0; i < p.shape.numel(); ++i) {
        uint16_t h = f32_to_f16(src[i]);
        if ((h & 0x7C00u) == 0x7C00u && std::isfinite(src[i]))
          fail(ErrorCode::kValue, "save_policy: ", p.name, "[", i, "] = ", src[i], " is beyond float16's range (65504); save as float32");
        halves[static_cast<size_t>(p.offset + i)] = h;
      }
    }
  }
  for (const auto& p : policy.layout().params()) {
    if (weights == StDType::kF16)
      tensors.push_back({p.name, StDType::kF16, p.shape, halves.data() + p.offset});
    else
      tensors.push_back({p.name, StDType::kF32, p.shape, policy.params() + p.offset});
  }
  return serialize_safetensors(tensors, meta);
}

void save_policy(const Policy<float>& policy, const std::string& path,
                 const std::vector<std::pair<std::string, std::string>>& metadata, StDType weights) {
  const std::vector<uint8_t> bytes = serialize_policy(policy, metadata, weights);
  write_file_atomic(path, bytes.data(), bytes.size());
}

LoadedPolicy load_policy(const std::string& path) { return from_file(SafetensorsFile::read(path)); }

LoadedPolicy load_policy_from_bytes(std::vector<uint8_t> bytes, const std::string& source) {
  return from_file(SafetensorsFile::from_bytes(std::move(bytes), source));
}

}  // namespace vla
