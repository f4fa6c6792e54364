// The "gemm" section: vla-ttt's own float32 kernels (gemm_own_f32 at the active ISA) against
// OpenBLAS's cblas_sgemm, on the GEMMs of the `small` policy, with the same thread count for both.
//
// OpenBLAS is loaded at run time (dlopen "libopenblas.so.0"), not linked: so the own kernels are
// measured in a build configured with -DVLA_TTT_BLAS=OFF, as users without OpenBLAS get them, and
// the comparison still happens in the same run. Without the library the own kernels are still
// measured and the report says why there is no comparison ("openblas": null, "openblas_error").
//
// Each shape: the own kernels, then OpenBLAS, each timed as the median of several repetitions; then
// the two results are compared (max |own - openblas| / max |openblas|; above 1e-4 is a failure).
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench.h"
#include "core/random.h"
#include "core/thread_pool.h"
#include "ops/gemm.h"

namespace vla::bench {
namespace {

constexpr double kMaxRelError = 1e-4;
constexpr int kMaxAttempts = 6;
constexpr double kQuietLoad = 0.1;  // CPUs used by other processes up to which a measurement stands

struct GemmCase {
  std::string name;
  int64_t M, N, K;
  bool trans_a, trans_b;
  bool model;  // a shape of the model (the acceptance criterion), not just a reference point
};

// The `small` policy: width 128; attention with 4 query heads and 2 KV heads of dim 32, so the
// fused QKV projection has 4*32 + 2*2*32 = 256 outputs; GeGLU MLP of 512 (gate|up: 1024 outputs);
// 88 prefix and 10 suffix tokens per sample. A training batch of 64 samples runs the backbone on
// M = 64 * 88 = 5632 rows; acting on the robot (batch 1) runs 88 rows (prefix) or 10 (suffix).
std::vector<GemmCase> gemm_cases() {
  struct Layer {
    const char* name;
    int64_t in, out;  // W is [out, in] (PyTorch layout)
  };
  const Layer layers[] = {{"qkv", 128, 256}, {"out_proj", 128, 128}, {"mlp_up", 128, 1024}, {"mlp_down", 512, 128}};
  const int64_t rows = 64 * 88;
  std::vector<GemmCase> cases;
  for (const Layer& l : layers) {
    const std::string n = l.name;
    cases.push_back({"train." + n + ".forward", rows, l.out, l.in, false, true, true});          // y = x W^T
    cases.push_back({"train." + n + ".backward_data", rows, l.in, l.out, false, false, true});   // dx = dy W
    cases.push_back({"train." + n + ".backward_weight", l.out, l.in, rows, true, false, true});  // dW = dy^T x
  }
  for (int64_t m : {88, 10})
    for (const Layer& l : layers)
      cases.push_back({std::string(m == 88 ? "act.prefix." : "act.suffix.") + l.name + ".forward", m, l.out, l.in,
                       false, true, true});
  cases.push_back({"square1024", 1024, 1024, 1024, false, false, false});
  return cases;
}

// cblas_sgemm and friends from a dlopen'ed OpenBLAS (LP64: 32-bit integers).
struct OpenBlas {
  enum { kRowMajor = 101, kNoTrans = 111, kTrans = 112 };
  using SgemmFn = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*,
                           int);
  SgemmFn sgemm = nullptr;
  void (*set_num_threads)(int) = nullptr;
  int (*get_num_threads)() = nullptr;
  char* (*get_config)() = nullptr;
  std::string error;  // why it is unavailable

  bool load() {
    void* lib = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char* e = dlerror();
      error = std::string("dlopen(libopenblas.so.0) failed: ") + (e ? e : "unknown error");
      return false;
    }
    sgemm = reinterpret_cast<SgemmFn>(dlsym(lib, "cblas_sgemm"));
    set_num_threads = reinterpret_cast<void (*)(int)>(dlsym(lib, "openblas_set_num_threads"));
    get_num_threads = reinterpret_cast<int (*)()>(dlsym(lib, "openblas_get_num_threads"));
    get_config = reinterpret_cast<char* (*)()>(dlsym(lib, "openblas_get_config"));
    if (!sgemm || !set_num_threads) {
      error = "libopenblas.so.0 lacks cblas_sgemm or openblas_set_num_threads";
      return false;
    }
    return true;
  }

  void run(const GemmCase& c, const float* A, int64_t lda, const float* B, int64_t ldb, float* C) const {
    sgemm(kRowMajor, c.trans_a ? kTrans : kNoTrans, c.trans_b ? kTrans : kNoTrans, static_cast<int>(c.M),
          static_cast<int>(c.N), static_cast<int>(c.K), 1.0f, A, static_cast<int>(lda), B, static_cast<int>(ldb), 0.0f,
          C, static_cast<int>(c.N));
  }
};

// 64-byte aligned floats, as the arenas hand them out.
struct AlignedFloats {
  explicit AlignedFloats(int64_t n)
      : data(static_cast<float*>(std::aligned_alloc(64, static_cast<size_t>((n * 4 + 63) / 64 * 64)))) {}
  ~AlignedFloats() { std::free(data); }
  float* data;
};

double max_rel_error(const float* x, const float* ref, int64_t n) {
  double worst = 0, scale = 0;
  for (int64_t i = 0; i < n; ++i) {
    worst = std::max(worst, std::fabs(static_cast<double>(x[i]) - ref[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(ref[i])));
  }
  return worst / std::max(scale, 1e-30);
}

}  // namespace

VLA_BENCH_SECTION(gemm) {
  const Options& opt = options;
  OpenBlas blas;
  const bool have_blas = blas.load();
  if (have_blas) blas.set_num_threads(opt.threads);
  std::fprintf(stderr, "own kernels: %s; OpenBLAS: %s\n", gemm_backend_name(),
               have_blas ? (blas.get_config ? blas.get_config() : "loaded") : blas.error.c_str());

  Json section = Json::object();
  section.set("own", std::string("vla-ttt ") + gemm_backend_name() + " (gemm_own_f32)");
  if (have_blas) {
    Json ob = Json::object();
    ob.set("library", "libopenblas.so.0 (dlopen)");
    ob.set("config", blas.get_config ? blas.get_config() : "unknown");
    ob.set("threads", blas.get_num_threads ? blas.get_num_threads() : opt.threads);
    section.set("openblas", ob);
  } else {
    section.set("openblas", nullptr);
    section.set("openblas_error", blas.error);
  }
  section.set("threads", opt.threads);
  section.set("timing", std::string("median of ") + std::to_string(opt.reps) + " repetitions, each >= " +
                            std::to_string(static_cast<int>(opt.min_rep_seconds * 1000)) +
                            " ms of calls, own and OpenBLAS repetitions alternating");
  section.set("max_rel_error_definition", "max |own - openblas| / max |openblas| over C, beta = 0");
  section.set("disturbance",
              "other_processes_cpus / steal_cpus: average CPUs used by other processes / the hypervisor while the "
              "shape was measured; a shape is measured again (up to " + std::to_string(kMaxAttempts) +
                  " attempts) while they exceed 0.1, and the quietest attempt is kept");

  Json shapes = Json::array();
  double min_model_ratio = INFINITY;
  Json shortfalls = Json::array();
  for (const GemmCase& c : gemm_cases()) {
    if (!opt.matches(c.name)) continue;
    // Stored operand shapes: A is [M, K] or [K, M] (trans_a); B is [K, N] or [N, K] (trans_b).
    const int64_t lda = c.trans_a ? c.M : c.K, ldb = c.trans_b ? c.K : c.N;
    AlignedFloats A(c.M * c.K), B(c.K * c.N), C_own(c.M * c.N), C_blas(c.M * c.N);
    Rng rng(0x6E33 + c.M * 31 + c.N * 7 + c.K);
    for (int64_t i = 0; i < c.M * c.K; ++i) A.data[i] = static_cast<float>(rng.range(-1, 1));
    for (int64_t i = 0; i < c.K * c.N; ++i) B.data[i] = static_cast<float>(rng.range(-1, 1));
    const double flops = 2.0 * static_cast<double>(c.M) * static_cast<double>(c.N) * static_cast<double>(c.K);

    // The two implementations take turns, one repetition each, so that both are timed under the
    // same conditions; after each OpenBLAS repetition a pause lets its idle threads, which spin for
    // a while after a call, go to sleep before the own kernels run again. An attempt is repeated
    // (up to kMaxAttempts) while other processes load the machine; the least disturbed is kept.
    struct Attempt {
      double own_s = 0, blas_s = 0;
      CpuLoad load;
    };
    auto attempt = [&] {
      if (opt.wait_quiet_seconds > 0) wait_for_quiet(opt.wait_quiet_seconds);
      CpuLoadMeter meter;
      RepTimer own(opt, [&] {
        gemm_own_f32(c.trans_a, c.trans_b, c.M, c.N, c.K, 1.0f, A.data, lda, B.data, ldb, 0.0f, C_own.data, c.N);
      });
      std::unique_ptr<RepTimer> ref;
      if (have_blas) ref = std::make_unique<RepTimer>(opt, [&] { blas.run(c, A.data, lda, B.data, ldb, C_blas.data); });
      std::vector<double> own_samples, blas_samples;
      for (int r = 0; r < opt.reps; ++r) {
        if (have_blas) std::this_thread::sleep_for(std::chrono::milliseconds(opt.quick ? 20 : 150));
        own_samples.push_back(own.rep());
        if (have_blas) blas_samples.push_back(ref->rep());
      }
      Attempt a;
      a.own_s = median(own_samples);
      a.blas_s = have_blas ? median(blas_samples) : 0;
      a.load = meter.load();
      return a;
    };
    const int max_attempts = opt.quick ? 1 : kMaxAttempts;
    Attempt best;
    int attempts = 0;
    for (;;) {
      Attempt a = attempt();
      ++attempts;
      if (attempts == 1 || a.load.others + a.load.steal < best.load.others + best.load.steal) best = a;
      if (a.load.others + a.load.steal <= kQuietLoad || attempts >= max_attempts) break;
      std::fprintf(stderr, "%-32s disturbed (other processes used %.2f CPUs), measuring again\n", c.name.c_str(),
                   a.load.others + a.load.steal);
      std::this_thread::sleep_for(std::chrono::seconds(3));
    }
    const double own_s = best.own_s;
    const double own_gflops = flops / own_s / 1e9;

    Json r = Json::object();
    r.set("name", c.name);
    r.set("M", c.M);
    r.set("N", c.N);
    r.set("K", c.K);
    r.set("trans_a", c.trans_a);
    r.set("trans_b", c.trans_b);
    r.set("model_shape", c.model);
    r.set("own_gflops", own_gflops);
    r.set("own_us", own_s * 1e6);
    r.set("own_fraction_of_peak", opt.peak_gflops > 0 ? own_gflops / opt.peak_gflops : NAN);
    r.set("other_processes_cpus", best.load.others);
    r.set("steal_cpus", best.load.steal);
    r.set("attempts", attempts);
    if (have_blas) {
      const double blas_s = best.blas_s;
      const double blas_gflops = flops / blas_s / 1e9;
      const double ratio = own_gflops / blas_gflops;
      const double err = max_rel_error(C_own.data, C_blas.data, c.M * c.N);
      r.set("openblas_gflops", blas_gflops);
      r.set("openblas_us", blas_s * 1e6);
      r.set("openblas_fraction_of_peak", opt.peak_gflops > 0 ? blas_gflops / opt.peak_gflops : NAN);
      r.set("ratio", ratio);
      r.set("max_rel_error", err);
      if (!(err <= kMaxRelError))
        record_failure("gemm " + c.name + ": own result deviates from OpenBLAS by " + std::to_string(err) +
                       " (max relative), more than " + std::to_string(kMaxRelError));
      if (c.model) {
        min_model_ratio = std::min(min_model_ratio, ratio);
        if (ratio < 0.8) shortfalls.push(c.name);
      }
      std::fprintf(stderr, "%-32s M=%5lld N=%5lld K=%5lld %s%s  own %7.1f  openblas %7.1f GFLOP/s  ratio %.2f  "
                   "own/peak %.2f  err %.1e\n", c.name.c_str(), (long long)c.M, (long long)c.N, (long long)c.K,
                   c.trans_a ? "T" : "N", c.trans_b ? "T" : "N", own_gflops, blas_gflops, ratio,
                   opt.peak_gflops > 0 ? own_gflops / opt.peak_gflops : NAN, err);
    } else {
      r.set("openblas_gflops", nullptr);
      r.set("ratio", nullptr);
      std::fprintf(stderr, "%-32s M=%5lld N=%5lld K=%5lld %s%s  own %7.1f GFLOP/s  own/peak %.2f\n", c.name.c_str(),
                   (long long)c.M, (long long)c.N, (long long)c.K, c.trans_a ? "T" : "N", c.trans_b ? "T" : "N",
                   own_gflops, opt.peak_gflops > 0 ? own_gflops / opt.peak_gflops : NAN);
    }
    shapes.push(r);
  }
  section.set("shapes", shapes);
  if (have_blas) {
    Json criterion = Json::object();
    criterion.set("what", "own GFLOP/s >= 0.8 x OpenBLAS GFLOP/s on every model shape (training and acting)");
    criterion.set("min_ratio", std::isfinite(min_model_ratio) ? Json(min_model_ratio) : Json());
    criterion.set("shapes_below", shortfalls);
    criterion.set("met", std::isfinite(min_model_ratio) && min_model_ratio >= 0.8);
    section.set("criterion", criterion);
  }
  return section;
}

}  // namespace vla::bench
