#include "fuzz/harness.h"

#include <string_view>
#include <vector>

#include "core/error.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "model/checkpoint.h"
#include "model/config.h"

namespace vla::fuzz {

namespace {

[[noreturn]] void violated(const std::string& what) { throw InvariantViolation("fuzz invariant violated: " + what); }

bool is_float_type(StDType t) {
  return t == StDType::kF32 || t == StDType::kF64 || t == StDType::kF16 || t == StDType::kBF16;
}

}  // namespace

bool safetensors_one_input(const uint8_t* data, size_t size) {
  try {
    SafetensorsFile f = SafetensorsFile::from_bytes(std::vector<uint8_t>(data, data + size), "fuzz.safetensors");
    const SafetensorsHeader& h = f.header();
    if (h.data_start < 8 || h.data_start + h.data_size != static_cast<int64_t>(size)) violated("data buffer outside the file");
    int64_t cursor = 0;
    for (const SafetensorsEntry& e : h.tensors) {
      // The parser promises: sorted, tiling the buffer exactly, sizes matching shape and dtype.
      if (e.begin != cursor || e.end < e.begin || e.end > h.data_size) violated("tensor '" + e.name + "' offsets");
      if (e.shape.numel() * st_dtype_size(e.dtype) != e.end - e.begin) violated("tensor '" + e.name + "' size");
      cursor = e.end;
      if (h.find(e.name) != &e) violated("tensor '" + e.name + "' is not unique");
      if (is_float_type(e.dtype)) {
        std::vector<float> out(static_cast<size_t>(e.shape.numel()));
        f.read_as_f32(e.name, e.shape, out.data());
      }
    }
    if (cursor != h.data_size) violated("tensors do not cover the data buffer");
    return true;
  } catch (const Error&) {
    return false;
  }
}

bool json_one_input(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  JsonValue v;
  try {
    v = parse_json(text, "fuzz.json");
  } catch (const Error&) {
    return false;
  }
  // What the writer produces must read back identically (checkpoints store configs this way).
  const std::string dumped = v.dump();
  try {
    if (parse_json(dumped, "fuzz.json dump").dump() != dumped) violated("dump -> parse -> dump changed the value");
  } catch (const Error& e) {
    violated(std::string("dump() is not valid JSON: ") + e.what());
  }
  try {
    ModelConfig cfg = ModelConfig::from_json(v, "fuzz.json config");
    const std::string again = cfg.to_json().dump();
    if (ModelConfig::from_json(parse_json(again, "fuzz.json config dump"), "config").to_json().dump() != again)
      violated("config to_json -> from_json changed the config");
  } catch (const Error&) {
    // Most JSON is not a model config; being rejected with a clear error is the expected outcome.
  }
  return true;
}

bool checkpoint_one_input(const uint8_t* data, size_t size) {
  try {
    LoadedPolicy loaded = load_policy_from_bytes(std::vector<uint8_t>(data, data + size), "fuzz.safetensors");
    if (!loaded.policy || loaded.policy->num_params() != loaded.policy->layout().total()) violated("policy without parameters");
    return true;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace vla::fuzz
