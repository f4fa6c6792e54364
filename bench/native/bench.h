// vla_bench_kernels: native kernel benchmarks, one section per kernel family (gemm, attention, ...).
//
// A section is a function registered with VLA_BENCH_SECTION(name) in its own file
// (bench/native/bench_<name>.cc); it measures what it wants with RepTimer / time_median() and returns its
// results as a Json value, which bench_main.cc puts under "sections": {"<name>": ...} in the report,
// next to the machine and build facts. Sections run in name order; `--filter` is handed to each
// section (which decides what it matches, e.g. shape names) and `--quick` asks for fewer, shorter
// repetitions (CI smoke runs).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace vla::bench {

// A JSON value: null, bool, number, string, array or object (keys kept in insertion order).
class Json {
 public:
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };

  Json() = default;
  Json(std::nullptr_t) {}
  Json(bool b) : kind_(Kind::kBool), bool_(b) {}
  Json(double x) : kind_(Kind::kNumber), number_(x) {}
  Json(int x) : Json(static_cast<double>(x)) {}
  Json(int64_t x) : Json(static_cast<double>(x)) {}
  Json(const char* s) : kind_(Kind::kString), string_(s) {}
  Json(std::string s) : kind_(Kind::kString), string_(std::move(s)) {}

  static Json array() { Json j; j.kind_ = Kind::kArray; return j; }
  static Json object() { Json j; j.kind_ = Kind::kObject; return j; }

  Kind kind() const { return kind_; }
  // Appends to an array.
  Json& push(Json v);
  // Sets a key of an object (replacing an existing one).
  Json& set(const std::string& key, Json v);
  // Serializes with two-space indentation; integers exactly, other numbers to 6 significant
  // digits, non-finite numbers as null.
  std::string dump(int indent = 0) const;

 private:
  Kind kind_ = Kind::kNull;
  bool bool_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<Json> items_;
  std::vector<std::pair<std::string, Json>> fields_;
};

struct Options {
  bool quick = false;      // fewer and shorter repetitions
  std::string filter;      // substring a case name must contain ("" = all)
  int threads = 1;                     // threads every library is asked to use
  double min_rep_seconds = 0.05;       // each repetition runs the measured call at least this long
  int reps = 7;                        // repetitions; the median is reported
  double peak_gflops_per_thread = 0;   // measured float32 FMA peak (0: unknown)
  double peak_gflops = 0;              // the same with `threads` threads
  double wait_quiet_seconds = 0;       // before each measurement, wait up to this long for a quiet machine

  bool matches(const std::string& name) const { return filter.empty() || name.find(filter) != std::string::npos; }
};

// Times one call: the constructor warms up (caches, pack buffers, thread pools, clocks) and
// calibrates how many calls fill min_rep_seconds; each rep() then runs that many calls and returns
// the seconds per call. Timers of two implementations can take turns rep by rep, so that both see
// the same machine conditions.
class RepTimer {
 public:
  RepTimer(const Options& opt, std::function<void()> fn);
  double rep();

 private:
  std::function<void()> fn_;
  int64_t calls_ = 1;
};

double median(std::vector<double> samples);

// The median over opt.reps repetitions of one call, seconds.
double time_median(const Options& opt, const std::function<void()>& fn);

// What other processes did to the machine over a measurement: the CPU time they used (all CPUs
// busy time from /proc/stat minus this process's own) and the time the hypervisor took (steal),
// both as average CPUs over the wall time. Benchmarks share machines with builds and tests; a
// section repeats a measurement that others disturbed and reports the load it ran under.
struct CpuLoad {
  double others = 0;  // average CPUs used by other processes
  double steal = 0;   // average CPUs taken by the hypervisor
};
class CpuLoadMeter {
 public:
  CpuLoadMeter();  // starts measuring
  CpuLoad load() const;  // since construction

 private:
  double wall0_;
  long long busy0_, steal0_, self0_;
};

// Waits until other processes have used at most 0.1 CPUs over a 2-second window, or until
// max_seconds have passed; returns whether the machine was quiet.
bool wait_for_quiet(double max_seconds);

// A check inside a section failed (a wrong result, say): printed at once, listed in the report
// under "failures", and the executable exits with status 1 after writing the report.
void record_failure(const std::string& what);
const std::vector<std::string>& failures();

using SectionFn = std::function<Json(const Options&)>;
std::map<std::string, SectionFn>& sections();

struct SectionRegistrar {
  SectionRegistrar(const char* name, SectionFn fn) { sections()[name] = std::move(fn); }
};

}  // namespace vla::bench

#define VLA_BENCH_SECTION(name)                                                                   \
  static ::vla::bench::Json vla_bench_section_##name(const ::vla::bench::Options& options);      \
  static ::vla::bench::SectionRegistrar vla_bench_registrar_##name(#name, vla_bench_section_##name); \
  static ::vla::bench::Json vla_bench_section_##name(const ::vla::bench::Options& options)
