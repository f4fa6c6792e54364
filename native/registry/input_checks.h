// Value checks shared by op registrations: integer ranges (ids, segments) and 0/1 masks. Each
// failure is a kValue error naming the op, the input, the position as a multi-index and the value.
#pragma once

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>

#include "registry/op_registry.h"

namespace vla {

// "[i0, i1, ...]": the multi-index of flat position `flat` in `shape` (row-major).
inline std::string index_string(const Shape& shape, int64_t flat) {
  std::string s;
  for (int a = shape.rank() - 1; a >= 0; --a) {
    const int64_t d = shape[a] > 0 ? shape[a] : 1;
    s = std::to_string(flat % d) + (s.empty() ? "" : ", " + s);
    flat /= d;
  }
  return "[" + s + "]";
}

// Every element of int32 input `input` lies in [0, limit); `limit_doc` names the limit, e.g. "V".
// A branch-free pass first (it vectorizes: infer runs on the caller's thread), then the search
// for the position only when something is out of range.
inline void check_int_range(const OpCall& c, const std::string& input, int64_t limit, const std::string& limit_doc) {
  const AnyTensor& t = c.in(input);
  const int32_t* p = t.ptr<int32_t>();
  const int64_t n = t.numel();
  const uint32_t bound = static_cast<uint32_t>(std::min<int64_t>(limit, INT32_MAX));
  bool bad = false;
  for (int64_t i = 0; i < n; ++i) bad |= static_cast<uint32_t>(p[i]) >= bound;  // negatives wrap high
  if (!bad && limit <= INT32_MAX) return;
  for (int64_t i = 0; i < n; ++i)
    if (p[i] < 0 || p[i] >= limit)
      c.fail_value("input '" + input + "' has value " + std::to_string(p[i]) + " at " + index_string(t.shape, i) +
                   ", outside [0, " + limit_doc + " = " + std::to_string(limit) + ")");
}

// Every element of uint8 input `input` is 0 or 1 (same two passes as check_int_range).
inline void check_zero_one(const OpCall& c, const std::string& input, const std::string& meaning) {
  const AnyTensor& t = c.in(input);
  const uint8_t* p = t.ptr<uint8_t>();
  const int64_t n = t.numel();
  uint8_t seen = 0;
  for (int64_t i = 0; i < n; ++i) seen |= p[i];
  if (seen <= 1) return;
  for (int64_t i = 0; i < n; ++i)
    if (p[i] > 1)
      c.fail_value("input '" + input + "' has value " + std::to_string(p[i]) + " at " + index_string(t.shape, i) +
                   "; expected 0 or 1 (" + meaning + ")");
}

// A float attribute that must be finite and satisfy `ok`; `expected` describes the range.
template <typename Pred>
double checked_attr(const OpCall& c, const std::string& name, Pred ok, const std::string& expected) {
  const double v = c.attr(name);
  if (!std::isfinite(v) || !ok(v)) {
    std::ostringstream os;
    os << "attribute '" << name << "' = " << v << " is out of range; expected " << expected;
    c.fail_value(os.str());
  }
  return v;
}

}  // namespace vla
