#include "io/json.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "core/error.h"

namespace vla {

JsonValue JsonValue::boolean(bool b) {
  JsonValue v;
  v.type_ = Type::kBool;
  v.bool_ = b;
  return v;
}
JsonValue JsonValue::number(double d) {
  JsonValue v;
  v.type_ = Type::kNumber;
  v.number_ = d;
  return v;
}
JsonValue JsonValue::string(std::string s) {
  JsonValue v;
  v.type_ = Type::kString;
  v.string_ = std::move(s);
  return v;
}
JsonValue JsonValue::array(std::vector<JsonValue> items) {
  JsonValue v;
  v.type_ = Type::kArray;
  v.array_ = std::move(items);
  return v;
}
JsonValue JsonValue::object(std::vector<std::pair<std::string, JsonValue>> members) {
  JsonValue v;
  v.type_ = Type::kObject;
  v.object_ = std::move(members);
  return v;
}

namespace {
const char* type_name(JsonValue::Type t) {
  switch (t) {
    case JsonValue::Type::kNull: return "null";
    case JsonValue::Type::kBool: return "a boolean";
    case JsonValue::Type::kNumber: return "a number";
    case JsonValue::Type::kString: return "a string";
    case JsonValue::Type::kArray: return "an array";
    case JsonValue::Type::kObject: return "an object";
  }
  return "?";
}
}  // namespace

bool JsonValue::as_bool(const std::string& what) const {
  if (type_ != Type::kBool) fail(ErrorCode::kValue, what, " must be a boolean, got ", type_name(type_));
  return bool_;
}
double JsonValue::as_number(const std::string& what) const {
  if (type_ != Type::kNumber) fail(ErrorCode::kValue, what, " must be a number, got ", type_name(type_));
  return number_;
}
int64_t JsonValue::as_int(const std::string& what, int64_t lo, int64_t hi) const {
  double d = as_number(what);
  // Range-check in double before converting: casting 2^63 or more to int64_t is undefined, and
  // comparing against static_cast<double>(hi) alone lets 2^63 through when hi is INT64_MAX.
  const bool fits = d == std::floor(d) && d >= -0x1p63 && d < 0x1p63;
  const int64_t i = fits ? static_cast<int64_t>(d) : 0;
  if (!fits || i < lo || i > hi) fail(ErrorCode::kValue, what, " must be an integer in [", lo, ", ", hi, "], got ", d);
  return i;
}
const std::string& JsonValue::as_string(const std::string& what) const {
  if (type_ != Type::kString) fail(ErrorCode::kValue, what, " must be a string, got ", type_name(type_));
  return string_;
}
const std::vector<JsonValue>& JsonValue::as_array(const std::string& what) const {
  if (type_ != Type::kArray) fail(ErrorCode::kValue, what, " must be an array, got ", type_name(type_));
  return array_;
}
const std::vector<std::pair<std::string, JsonValue>>& JsonValue::as_object(const std::string& what) const {
  if (type_ != Type::kObject) fail(ErrorCode::kValue, what, " must be an object, got ", type_name(type_));
  return object_;
}
const JsonValue* JsonValue::find(const std::string& key) const {
  for (const auto& [k, v] : object_)
    if (k == key) return &v;
  return nullptr;
}

std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string JsonValue::dump() const {
  switch (type_) {
    case Type::kNull: return "null";
    case Type::kBool: return bool_ ? "true" : "false";
    case Type::kNumber: {
      if (!std::isfinite(number_)) return "null";
      char buf[32];
      if (number_ == std::floor(number_) && std::fabs(number_) < 9.0e15) std::snprintf(buf, sizeof buf, "%.0f", number_);
      else std::snprintf(buf, sizeof buf, "%.17g", number_);
      return buf;
    }
    case Type::kString: return json_quote(string_);
    case Type::kArray: {
      std::string s = "[";
      for (size_t i = 0; i < array_.size(); ++i) s += (i ? "," : "") + array_[i].dump();
      return s + "]";
    }
    case Type::kObject: {
      std::string s = "{";
      for (size_t i = 0; i < object_.size(); ++i)
        s += (i ? "," : "") + json_quote(object_[i].first) + ":" + object_[i].second.dump();
      return s + "}";
    }
  }
  return "null";
}

namespace {

class Parser {
 public:
  Parser(std::string_view text, const std::string& what, const JsonLimits& limits)
      : s_(text), what_(what), limits_(limits) {}

  JsonValue parse_document() {
    if (s_.size() > limits_.max_bytes)
      fail(ErrorCode::kValue, what_, ": JSON of ", s_.size(), " bytes exceeds the limit of ", limits_.max_bytes);
    skip_space();
    JsonValue v = parse_value(0);
    skip_space();
    if (pos_ != s_.size()) error("unexpected characters after the JSON value");
    return v;
  }

 private:
  [[noreturn]] void error(const std::string& msg) const {
    fail(ErrorCode::kValue, what_, ": invalid JSON at byte ", pos_, ": ", msg);
  }

  // A byte for an error message: quoted when printable ASCII, hex otherwise (the message itself
  // must stay valid UTF-8 whatever the input holds).
  static std::string shown(char c) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7F) return std::string("'") + c + "'";
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%02x", u);
    return buf;
  }

  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }

  bool consume(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  void expect_literal(std::string_view lit) {
    if (s_.substr(pos_, lit.size()) != lit) error("expected '" + std::string(lit) + "'");
    pos_ += lit.size();
  }

  JsonValue parse_value(int depth) {
    if (depth > limits_.max_depth) error("nesting deeper than " + std::to_string(limits_.max_depth));
    if (pos_ >= s_.size()) error("unexpected end of input");
    char c = s_[pos_];
    if (c == '{') return parse_object(depth);
    if (c == '[') return parse_array(depth);
    if (c == '"') return JsonValue::string(parse_string());
    if (c == 't') {
      expect_literal("true");
      return JsonValue::boolean(true);
    }
    if (c == 'f') {
      expect_literal("false");
      return JsonValue::boolean(false);
    }
    if (c == 'n') {
      expect_literal("null");
      return JsonValue::null();
    }
    if (c == '-' || (c >= '0' && c <= '9')) return JsonValue::number(parse_number());
    error("unexpected character " + shown(c));
  }

  JsonValue parse_object(int depth) {
    ++pos_;  // '{'
    std::vector<std::pair<std::string, JsonValue>> members;
    std::set<std::string> seen;
    skip_space();
    if (consume('}')) return JsonValue::object(std::move(members));
    for (;;) {
      skip_space();
      if (pos_ >= s_.size() || s_[pos_] != '"') error("expected a string key");
      std::string key = parse_string();
      if (!seen.insert(key).second) error("duplicate key " + json_quote(key));
      skip_space();
      if (!consume(':')) error("expected ':'");
      skip_space();
      members.emplace_back(std::move(key), parse_value(depth + 1));
      skip_space();
      if (consume(',')) continue;
      if (consume('}')) break;
      error("expected ',' or '}'");
    }
    return JsonValue::object(std::move(members));
  }

  JsonValue parse_array(int depth) {
    ++pos_;  // '['
    std::vector<JsonValue> items;
    skip_space();
    if (consume(']')) return JsonValue::array(std::move(items));
    for (;;) {
      skip_space();
      items.push_back(parse_value(depth + 1));
      skip_space();
      if (consume(',')) continue;
      if (consume(']')) break;
      error("expected ',' or ']'");
    }
    return JsonValue::array(std::move(items));
  }

  unsigned parse_hex4() {
    if (pos_ + 4 > s_.size()) error("truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<unsigned>(c - 'A' + 10);
      else error("bad hex digit in \\u escape");
    }
    return v;
  }

  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  // JSON text is UTF-8 (RFC 8259): one well-formed sequence starting at pos_ (no overlong forms,
  // no surrogates, nothing past U+10FFFF) is copied, anything else is an error. Names and
  // metadata reach JavaScript strings, which would silently replace bad bytes.
  void append_utf8_sequence(std::string& out) {
    const auto lead = static_cast<unsigned char>(s_[pos_]);
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (lead >= 0xC2 && lead <= 0xDF) {
      len = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      len = 3;
      if (lead == 0xE0) lo = 0xA0;  // overlong below U+0800
      if (lead == 0xED) hi = 0x9F;  // U+D800..U+DFFF are surrogates, not characters
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      len = 4;
      if (lead == 0xF0) lo = 0x90;  // overlong below U+10000
      if (lead == 0xF4) hi = 0x8F;  // past U+10FFFF
    } else {
      error("invalid UTF-8 in string (byte " + shown(s_[pos_]) + " cannot start a character)");
    }
    if (pos_ + len > s_.size()) error("invalid UTF-8 in string (truncated character)");
    for (size_t k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s_[pos_ + k]);
      const bool ok = k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
      if (!ok) error("invalid UTF-8 in string (byte " + shown(s_[pos_ + k]) + " after lead byte " + shown(s_[pos_]) + ")");
    }
    out.append(s_.data() + pos_, len);
    pos_ += len;
  }

  std::string parse_string() {
    ++pos_;  // opening quote
    std::string out;
    for (;;) {
      if (pos_ >= s_.size()) error("unterminated string");
      char c = s_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) error("control character in string");
      if (static_cast<unsigned char>(c) >= 0x80) {
        --pos_;
        append_utf8_sequence(out);
        continue;
      }
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) error("unterminated escape");
      char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned cp = parse_hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (!(consume('\\') && consume('u'))) error("unpaired surrogate in \\u escape");
            unsigned lo = parse_hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) error("bad low surrogate in \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            error("unpaired low surrogate in \\u escape");
          }
          append_utf8(out, cp);
          break;
        }
        default: error("bad escape: backslash then " + shown(e));
      }
    }
  }

  double parse_number() {
    size_t start = pos_;
    consume('-');
    if (pos_ >= s_.size()) error("truncated number");
    if (s_[pos_] == '0') {
      ++pos_;
    } else if (s_[pos_] >= '1' && s_[pos_] <= '9') {
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    } else {
      error("bad number");
    }
    if (consume('.')) {
      if (pos_ >= s_.size() || s_[pos_] < '0' || s_[pos_] > '9') error("bad fraction");
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (pos_ >= s_.size() || s_[pos_] < '0' || s_[pos_] > '9') error("bad exponent");
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    }
    std::string token(s_.substr(start, pos_ - start));
    double d = std::strtod(token.c_str(), nullptr);
    if (!std::isfinite(d)) error("number out of range");
    return d;
  }

  std::string_view s_;
  std::string what_;
  JsonLimits limits_;
  size_t pos_ = 0;
};

}  // namespace

JsonValue parse_json(std::string_view text, const std::string& what, const JsonLimits& limits) {
  return Parser(text, what, limits).parse_document();
}

}  // namespace vla
