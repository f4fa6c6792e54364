// vla_bench_kernels [--out FILE] [--quick] [--filter SUBSTR] [--threads N] [--section NAME]
//                   [--wait-quiet SECONDS]
//
// Measures the machine (CPU, build, peak FMA throughput), runs every registered bench section
// (bench.h) and writes one JSON report to FILE, or to stdout. Progress goes to stderr.
// --wait-quiet: before each measurement, wait (up to SECONDS) until other processes leave the
// CPUs idle; for reference runs on a shared machine.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench.h"
#include "core/build_info.h"
#include "core/cpu_features.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "peak_fma.h"

namespace vla::bench {
namespace {

// The first value of `key` in /proc/cpuinfo ("model name", "cpu family", ...), or "unknown".
std::string cpuinfo(const std::string& key) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    name.erase(name.find_last_not_of(" \t") + 1);
    if (name != key) continue;
    const size_t start = line.find_first_not_of(" \t", colon + 1);
    return start == std::string::npos ? "" : line.substr(start);
  }
  return "unknown";
}

// "L1d 32K, L2 512K, L3 32768K" from sysfs (cpu0), or "" where unavailable.
std::string cache_sizes() {
  std::string out;
  for (int i = 0; i < 8; ++i) {
    std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    std::ifstream level(dir + "level"), type(dir + "type"), size(dir + "size");
    std::string l, t, s;
    if (!(level >> l) || !(type >> t) || !(size >> s)) break;
    if (t == "Instruction") continue;
    if (!out.empty()) out += ", ";
    out += "L" + l + (t == "Data" ? "d" : "") + " " + s;
  }
  return out;
}

// One block of FMAs at the active ISA; lanes per vector in *lanes. 0 lanes: no SIMD FMA here.
float fma_block(int64_t iterations, int* lanes) {
  switch (active_isa()) {
    case Isa::kAvx512: *lanes = 16; return fma_block_avx512(iterations);
    case Isa::kAvx2: *lanes = 8; return fma_block_avx2(iterations);
    case Isa::kGeneric: break;
  }
  *lanes = 0;
  return 0;
}

// Peak float32 GFLOP/s of `threads` threads running the FMA loop at once (each on its own core
// when the OS spreads them), over about `seconds`.
double peak_gflops(int threads, double seconds) {
  using Clock = std::chrono::steady_clock;
  int lanes = 0;
  auto t0 = Clock::now();
  int64_t calib = 1 << 18;
  fma_block(calib, &lanes);
  if (lanes == 0) return 0;
  double t_calib = std::chrono::duration<double>(Clock::now() - t0).count();
  const int64_t iterations = std::max<int64_t>(calib, static_cast<int64_t>(calib * seconds / t_calib));
  std::vector<std::thread> pool;
  volatile float sink = 0;
  t0 = Clock::now();
  for (int t = 1; t < threads; ++t) pool.emplace_back([&] { int l; float s = fma_block(iterations, &l); sink = s; });
  sink = fma_block(iterations, &lanes);
  for (auto& th : pool) th.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  return static_cast<double>(iterations) * kFmaAccumulators * lanes * 2.0 * threads / elapsed / 1e9;
}

void usage() {
  std::fprintf(stderr,
               "usage: vla_bench_kernels [--out FILE] [--quick] [--filter SUBSTR] [--threads N] [--section NAME] "
               "[--wait-quiet SECONDS]\n");
}

}  // namespace
}  // namespace vla::bench

int main(int argc, char** argv) {
  using namespace vla::bench;
  Options opt;
  opt.threads = vla::available_cpus();
  std::string out_path, only_section;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--out") out_path = value();
    else if (a == "--quick") opt.quick = true;
    else if (a == "--filter") opt.filter = value();
    else if (a == "--threads") opt.threads = std::atoi(value().c_str());
    else if (a == "--section") only_section = value();
    else if (a == "--wait-quiet") opt.wait_quiet_seconds = std::atof(value().c_str());
    else {
      usage();
      return 2;
    }
  }
  if (opt.threads < 1) {
    usage();
    return 2;
  }
  opt.min_rep_seconds = opt.quick ? 0.01 : 0.05;
  opt.reps = opt.quick ? 3 : 7;

  try {
    vla::set_num_threads(opt.threads);
    Json report = Json::object();
    Json machine = Json::object();
    machine.set("cpu", cpuinfo("model name"));
    // Virtual machines often show a bare "AMD EPYC"; family and model say which generation
    // (family 25 = Zen3 / Zen4).
    machine.set("cpu_family_model", "family " + cpuinfo("cpu family") + ", model " + cpuinfo("model"));
    machine.set("caches", cache_sizes());
    machine.set("available_cpus", vla::available_cpus());
    machine.set("threads_used", opt.threads);
    machine.set("hardware_isa", vla::isa_name(vla::hardware_isa()));
    machine.set("active_isa", vla::isa_name(vla::active_isa()));
    report.set("machine", machine);

    vla::BuildInfo b = vla::build_info();
    Json build = Json::object();
    build.set("version", b.version);
    build.set("compiler", b.compiler);
    build.set("build_type", b.build_type);
    build.set("blas", b.blas);
    build.set("has_openblas", b.has_openblas);
    build.set("cuda", b.cuda);
    report.set("build", build);

    const double peak_seconds = opt.quick ? 0.1 : 0.5;
    std::fprintf(stderr, "measuring peak FMA throughput (%s)...\n", vla::isa_name(vla::active_isa()));
    // Other processes can only lower what the loop reaches: measure again while they are busy and
    // keep the highest values.
    CpuLoad peak_load;
    for (int attempt = 1;; ++attempt) {
      if (opt.wait_quiet_seconds > 0) wait_for_quiet(opt.wait_quiet_seconds);
      CpuLoadMeter meter;
      const double one = peak_gflops(1, peak_seconds), all = peak_gflops(opt.threads, peak_seconds);
      const CpuLoad load = meter.load();
      if (all > opt.peak_gflops) {
        opt.peak_gflops_per_thread = std::max(opt.peak_gflops_per_thread, one);
        opt.peak_gflops = all;
        peak_load = load;
      }
      if (load.others + load.steal <= 0.1 || attempt >= (opt.quick ? 1 : 6)) break;
      std::fprintf(stderr, "peak measurement disturbed (other processes used %.2f CPUs), measuring again\n",
                   load.others + load.steal);
      std::this_thread::sleep_for(std::chrono::seconds(3));
    }
    Json peak = Json::object();
    peak.set("what",
             "float32 FMA loop on registers (12 independent accumulators), widest vectors of the active ISA; "
             "fractions of peak in the sections are of gflops_all_threads");
    peak.set("gflops_per_thread", opt.peak_gflops_per_thread);
    peak.set("gflops_all_threads", opt.peak_gflops);
    peak.set("threads", opt.threads);
    peak.set("other_processes_cpus", peak_load.others);
    peak.set("steal_cpus", peak_load.steal);
    report.set("peak", peak);
    std::fprintf(stderr, "peak: %.1f GFLOP/s per thread, %.1f GFLOP/s on %d threads\n", opt.peak_gflops_per_thread,
                 opt.peak_gflops, opt.threads);

    Json results = Json::object();
    for (auto& [name, fn] : sections()) {
      if (!only_section.empty() && name != only_section) continue;
      std::fprintf(stderr, "== section %s\n", name.c_str());
      results.set(name, fn(opt));
    }
    report.set("sections", results);
    Json failed = Json::array();
    for (const auto& f : failures()) failed.push(f);
    report.set("failures", failed);

    std::string text = report.dump() + "\n";
    if (out_path.empty()) {
      std::fwrite(text.data(), 1, text.size(), stdout);
    } else {
      std::ofstream f(out_path);
      f << text;
      if (!f) {
        std::fprintf(stderr, "cannot write %s\n", out_path.c_str());
        return 1;
      }
      std::fprintf(stderr, "wrote %s\n", out_path.c_str());
    }
    if (!failures().empty()) {
      std::fprintf(stderr, "%zu check(s) failed\n", failures().size());
      return 1;
    }
  } catch (const vla::Error& e) {
    std::fprintf(stderr, "error [%s]: %s\n", vla::error_code_name(e.code()), e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
