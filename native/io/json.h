// A small JSON parser and writer for file headers (safetensors metadata, dataset manifests).
// Hardened for untrusted input: depth limit, size limit, exact error positions, no recursion
// beyond the depth limit, strings must be well-formed UTF-8, duplicate keys are rejected, numbers
// range-checked by the accessors that read them.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace vla {

class JsonValue {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };

  JsonValue() = default;
  static JsonValue null() { return JsonValue(); }
  static JsonValue boolean(bool b);
  static JsonValue number(double d);
  static JsonValue string(std::string s);
  static JsonValue array(std::vector<JsonValue> items = {});
  static JsonValue object(std::vector<std::pair<std::string, JsonValue>> members = {});

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_object() const { return type_ == Type::kObject; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_number() const { return type_ == Type::kNumber; }

  // Accessors fail with ErrorCode::kValue naming `what` when the type or range is wrong.
  bool as_bool(const std::string& what) const;
  double as_number(const std::string& what) const;
  // An integer in [lo, hi] (rejects fractions, NaN, out of range).
  int64_t as_int(const std::string& what, int64_t lo, int64_t hi) const;
  const std::string& as_string(const std::string& what) const;
  const std::vector<JsonValue>& as_array(const std::string& what) const;
  // Members in file order; duplicate keys are rejected by the parser.
  const std::vector<std::pair<std::string, JsonValue>>& as_object(const std::string& what) const;
  // nullptr if absent (this must be an object).
  const JsonValue* find(const std::string& key) const;

  std::string dump() const;  // compact JSON

 private:
  Type type_ = Type::kNull;
  bool bool_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<JsonValue> array_;
  std::vector<std::pair<std::string, JsonValue>> object_;
};

struct JsonLimits {
  int max_depth = 64;
  size_t max_bytes = size_t(64) << 20;
};

// Parses `text` completely (trailing non-space is an error). Errors are ErrorCode::kValue with
// the byte offset, prefixed by `what` (e.g. "safetensors header").
JsonValue parse_json(std::string_view text, const std::string& what, const JsonLimits& limits = {});

// `s` as a JSON string literal, quotes included.
std::string json_quote(std::string_view s);

}  // namespace vla
