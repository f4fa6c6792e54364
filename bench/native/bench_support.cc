// Shared pieces of vla_bench_kernels: the JSON value, the timing helper, the section registry.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <unistd.h>

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
  char buf[40];
  if (x == std::floor(x) && std::fabs(x) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", x);
  } else {
    // Measurements: 6 significant digits say more than they are worth already.
    std::snprintf(buf, sizeof buf, "%.6g", x);
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

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
}  // namespace

RepTimer::RepTimer(const Options& opt, std::function<void()> fn) : fn_(std::move(fn)) {
  const auto t0 = Clock::now();
  int64_t warm_calls = 0;
  do {
    fn_();
    ++warm_calls;
  } while (seconds_since(t0) < opt.min_rep_seconds || warm_calls < 2);
  const double per_call = seconds_since(t0) / static_cast<double>(warm_calls);
  calls_ = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(opt.min_rep_seconds / per_call)));
}

double RepTimer::rep() {
  const auto t0 = Clock::now();
  for (int64_t i = 0; i < calls_; ++i) fn_();
  return seconds_since(t0) / static_cast<double>(calls_);
}

double median(std::vector<double> samples) {
  if (samples.empty()) return NAN;
  std::sort(samples.begin(), samples.end());
  const size_t n = samples.size();
  return n % 2 ? samples[n / 2] : 0.5 * (samples[n / 2 - 1] + samples[n / 2]);
}

double time_median(const Options& opt, const std::function<void()>& fn) {
  RepTimer timer(opt, fn);
  std::vector<double> samples;
  for (int r = 0; r < opt.reps; ++r) samples.push_back(timer.rep());
  return median(samples);
}

namespace {

// Busy and steal ticks of all CPUs (/proc/stat), and this process's user + system ticks.
void read_ticks(long long* busy, long long* steal, long long* self) {
  *busy = *steal = *self = 0;
  if (FILE* f = std::fopen("/proc/stat", "r")) {
    long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, st = 0;
    if (std::fscanf(f, "cpu %lld %lld %lld %lld %lld %lld %lld %lld", &user, &nice, &system, &idle, &iowait, &irq,
                    &softirq, &st) == 8) {
      *busy = user + nice + system + irq + softirq;
      *steal = st;
    }
    std::fclose(f);
  }
  if (FILE* f = std::fopen("/proc/self/stat", "r")) {
    // Fields 14 and 15 (utime, stime) follow the command name, which ends with the last ')'.
    char buf[1024];
    size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    if (const char* p = std::strrchr(buf, ')')) {
      long long utime = 0, stime = 0;
      if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld", &utime, &stime) == 2)
        *self = utime + stime;
    }
    std::fclose(f);
  }
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

CpuLoadMeter::CpuLoadMeter() : wall0_(now_seconds()) { read_ticks(&busy0_, &steal0_, &self0_); }

CpuLoad CpuLoadMeter::load() const {
  long long busy, steal, self;
  read_ticks(&busy, &steal, &self);
  const double ticks_per_second = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double wall = std::max(1e-3, now_seconds() - wall0_);
  CpuLoad l;
  l.others = std::max(0.0, static_cast<double>((busy - busy0_) - (self - self0_)) / ticks_per_second / wall);
  l.steal = static_cast<double>(steal - steal0_) / ticks_per_second / wall;
  return l;
}

bool wait_for_quiet(double max_seconds) {
  const double t0 = now_seconds();
  for (;;) {
    CpuLoadMeter meter;
    std::this_thread::sleep_for(std::chrono::seconds(2));
    const CpuLoad load = meter.load();
    if (load.others + load.steal <= 0.1) return true;
    if (now_seconds() - t0 >= max_seconds) return false;
  }
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
