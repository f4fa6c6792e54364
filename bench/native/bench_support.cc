// Shared pieces of vla_bench_kernels: the JSON value, the timing helper, the section registry.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "bench.h"

namespace vla::bench {

Json& Json::push(Json v) {
  kind_ = Kind::kArray;
  items_.push_back(std::move(v));
  return items_.back();
}

Json& Json::set(const std::string& key, Json v) {
  kind_ = Kind::kObject;
  for (auto& f : fields_)
    if (f.first == key) return f.second = std::move(v);
  fields_.emplace_back(key, std::move(v));
  return fields_.back().second;
}

namespace {
void append_string(std::string& out, const std::string& s) {
  out += '"';
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  out += '"';
}

void append_number(std::string& out, double x) {
  if (!std::isfinite(x)) {
    out += "null";
    return;
  }
  char buf[32];
  // Shortest of %.{1..17}g that reads back as the same double.
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, x);
    if (std::strtod(buf, nullptr) == x) break;
  }
  out += buf;
}
}  // namespace

std::string Json::dump(int indent) const {
  std::string out;
  const std::string pad(static_cast<size_t>(indent + 2), ' '), end_pad(static_cast<size_t>(indent), ' ');
  switch (kind_) {
    case Kind::kNull: out += "null"; break;
    case Kind::kBool: out += bool_ ? "true" : "false"; break;
    case Kind::kNumber: append_number(out, number_); break;
    case Kind::kString: append_string(out, string_); break;
    case Kind::kArray:
      if (items_.empty()) {
        out += "[]";
        break;
      }
      out += "[\n";
      for (size_t i = 0; i < items_.size(); ++i) {
        out += pad + items_[i].dump(indent + 2);
        out += i + 1 < items_.size() ? ",\n" : "\n";
      }
      out += end_pad + "]";
      break;
    case Kind::kObject:
      if (fields_.empty()) {
        out += "{}";
        break;
      }
      out += "{\n";
      for (size_t i = 0; i < fields_.size(); ++i) {
        out += pad;
        append_string(out, fields_[i].first);
        out += ": " + fields_[i].second.dump(indent + 2);
        out += i + 1 < fields_.size() ? ",\n" : "\n";
      }
      out += end_pad + "}";
      break;
  }
  return out;
}

double time_median(const Options& opt, const std::function<void()>& fn) {
  using Clock = std::chrono::steady_clock;
  auto seconds_since = [](Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  // Warm-up: caches, pack buffers, the thread pools, CPU clocks.
  auto t0 = Clock::now();
  int64_t warm_calls = 0;
  do {
    fn();
    ++warm_calls;
  } while (seconds_since(t0) < opt.min_rep_seconds || warm_calls < 2);
  const double per_call = seconds_since(t0) / static_cast<double>(warm_calls);
  const int64_t calls = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(opt.min_rep_seconds / per_call)));
  std::vector<double> samples;
  for (int r = 0; r < opt.reps; ++r) {
    auto t = Clock::now();
    for (int64_t i = 0; i < calls; ++i) fn();
    samples.push_back(seconds_since(t) / static_cast<double>(calls));
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

namespace {
std::vector<std::string>& failure_list() {
  static std::vector<std::string> f;
  return f;
}
}  // namespace

void record_failure(const std::string& what) {
  std::fprintf(stderr, "FAIL: %s\n", what.c_str());
  failure_list().push_back(what);
}

const std::vector<std::string>& failures() { return failure_list(); }

std::map<std::string, SectionFn>& sections() {
  static std::map<std::string, SectionFn> s;
  return s;
}

}  // namespace vla::bench
