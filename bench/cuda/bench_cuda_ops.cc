// CUDA op benchmarks at the model presets' shapes (small, base, pi0): the median time of each
// kernel over repeated launches timed with CUDA events after a warm-up, and what it achieved
// (GFLOP/s for products and attention, GB/s for the memory-bound ops). Device only; built when
// the build has CUDA (target vla_bench_cuda). bench/torch_cuda_ops.py times PyTorch on the same
// shapes.
//
//   vla_bench_cuda [--json FILE] [--preset small|base|pi0] [--reps N]
//
// Shapes: "train" rows are a training batch (small/base: 64 sequences of 90 tokens; pi0: 8 of
// 816, three 224px images and text); "act" rows are one denoising step of act at batch 1 (the
// 9 suffix rows: state token + 8 actions, attending the cached prefix).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "core/build_info.h"
#include "cuda/activations_cuda.h"
#include "cuda/adamw_cuda.h"
#include "cuda/attention_cuda.h"
#include "cuda/device_buffer.h"
#include "cuda/gemm_cuda.h"
#include "cuda/rmsnorm_cuda.h"
#include "cuda/rope_cuda.h"

namespace {

using vla::cuda::DeviceBuffer;

struct Preset {
  const char* name;
  int64_t width, mlp, heads, kv_heads, head_dim, tokens, batch;
  int64_t expert_width, expert_mlp;
};

const Preset kPresets[] = {
    {"small", 128, 512, 4, 2, 32, 90, 64, 128, 512},
    {"base", 512, 2048, 8, 2, 64, 90, 64, 512, 2048},
    {"pi0", 2048, 16384, 8, 1, 256, 816, 8, 1024, 4096},
};

struct Result {
  std::string preset, op, shape;
  double ms = 0, rate = 0;
  const char* unit = "";
};

// Device memory filled with small random values (a fixed LCG: the values do not matter for
// timing, only that they are finite and not all zero).
DeviceBuffer random_buffer(int64_t n, uint32_t seed) {
  std::vector<float> h(static_cast<size_t>(n));
  uint32_t s = seed * 2654435761u + 1;
  for (auto& x : h) {
    s = s * 1664525u + 1013904223u;
    x = (static_cast<float>(s >> 8) / 16777216.0f - 0.5f) * 0.2f;
  }
  DeviceBuffer b(h.size() * sizeof(float));
  b.upload(h.data(), h.size() * sizeof(float));
  return b;
}

double median_ms(const std::function<void()>& op, int reps) {
  for (int i = 0; i < 3; ++i) op();
  cudaDeviceSynchronize();
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  std::vector<double> samples;
  for (int s = 0; s < 7; ++s) {
    cudaEventRecord(start);
    for (int i = 0; i < reps; ++i) op();
    cudaEventRecord(stop);
    cudaEventSynchronize(stop);
    float ms = 0;
    cudaEventElapsedTime(&ms, start, stop);
    samples.push_back(ms / reps);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

void bench_preset(const Preset& p, int reps, std::vector<Result>& out) {
  auto add = [&](const std::string& op, const std::string& shape, double ms, double amount, const char* unit) {
    out.push_back({p.name, op, shape, ms, amount / (ms * 1e-3) / 1e9, unit});
    std::printf("%-6s %-28s %-34s %9.4f ms %10.1f %s\n", p.name, op.c_str(), shape.c_str(), ms,
                amount / (ms * 1e-3) / 1e9, unit);
  };
  const int64_t M = p.batch * p.tokens, W = p.width, F = p.mlp, D = p.head_dim;
  const int64_t qkv = (p.heads + 2 * p.kv_heads) * D;
  auto sz = [](std::initializer_list<int64_t> dims) {
    std::string s;
    for (int64_t d : dims) s += (s.empty() ? "" : "x") + std::to_string(d);
    return s;
  };

  // Products (y = x W^T): QKV projection, MLP up (gate|up) and down, in every math mode.
  struct Gemm { const char* what; int64_t m, k, n; };
  const Gemm gemms[] = {{"qkv", M, W, qkv}, {"mlp_up", M, W, 2 * F}, {"mlp_down", M, F, W},
                        {"act_qkv", 9, p.expert_width, (p.heads + 2 * p.kv_heads) * D},
                        {"act_mlp_up", 9, p.expert_width, 2 * p.expert_mlp}};
  for (const Gemm& g : gemms) {
    DeviceBuffer a = random_buffer(g.m * g.k, 1), b = random_buffer(g.n * g.k, 2), c(g.m * g.n * sizeof(float));
    for (auto math : {vla::cuda::GemmMath::kFp32, vla::cuda::GemmMath::kTf32, vla::cuda::GemmMath::kBf16}) {
      double ms = median_ms([&] {
        vla::cuda::gemm(false, true, g.m, g.n, g.k, 1.0f, a.as<float>(), g.k, b.as<float>(), g.k, 0.0f, c.as<float>(), g.n, math);
      }, reps);
      add(std::string("gemm_") + g.what + "_" + vla::cuda::gemm_math_name(math), sz({g.m, g.k, g.n}), ms,
          2.0 * g.m * g.n * g.k, "GFLOP/s");
    }
  }

  // Row ops on the training rows.
  {
    DeviceBuffer x = random_buffer(M * W, 3), w = random_buffer(W, 4), y(M * W * 4), rstd(M * 4), dx(M * W * 4), dw(W * 4);
    double ms = median_ms([&] { vla::cuda::rmsnorm_forward(x.as<float>(), w.as<float>(), 1e-6f, y.as<float>(), rstd.as<float>(), M, W); }, reps);
    add("rmsnorm_forward", sz({M, W}), ms, 2.0 * M * W * 4, "GB/s");
    ms = median_ms([&] {
      vla::cuda::rmsnorm_backward(y.as<float>(), x.as<float>(), w.as<float>(), rstd.as<float>(), dx.as<float>(), dw.as<float>(), M, W);
    }, reps);
    add("rmsnorm_backward", sz({M, W}), ms, 4.0 * M * W * 4, "GB/s");
  }
  {
    DeviceBuffer x = random_buffer(M * 2 * F, 5), y(M * F * 4), dx(M * 2 * F * 4);
    double ms = median_ms([&] { vla::cuda::geglu_forward(x.as<float>(), y.as<float>(), M, F); }, reps);
    add("geglu_forward", sz({M, 2 * F}), ms, 3.0 * M * F * 4, "GB/s");
    ms = median_ms([&] { vla::cuda::geglu_backward(y.as<float>(), x.as<float>(), dx.as<float>(), M, F); }, reps);
    add("geglu_backward", sz({M, 2 * F}), ms, 7.0 * M * F * 4, "GB/s");
  }
  {
    vla::RopeShape s;
    s.B = p.batch; s.S = p.tokens; s.H = p.heads; s.D = D; s.positions_per_batch = false;
    std::vector<int32_t> pos(static_cast<size_t>(p.tokens));
    for (size_t i = 0; i < pos.size(); ++i) pos[i] = static_cast<int32_t>(i);
    DeviceBuffer d_pos(pos.size() * 4), x = random_buffer(s.B * s.S * s.H * D, 6), y(s.B * s.S * s.H * D * 4);
    d_pos.upload(pos.data(), pos.size() * 4);
    double ms = median_ms([&] { vla::cuda::rope_forward(x.as<float>(), d_pos.as<int32_t>(), 10000.0, y.as<float>(), s); }, reps);
    add("rope_forward", sz({s.B, s.S, s.H, D}), ms, 2.0 * s.B * s.S * s.H * D * 4, "GB/s");
  }

  // Attention: full training sequences (no mask: the dense cost), and act's 9 suffix rows.
  for (int act = 0; act < 2; ++act) {
    vla::AttentionShape s;
    s.B = act ? 1 : p.batch; s.Tq = act ? 9 : p.tokens; s.Tk = act ? p.tokens + 9 : p.tokens;
    s.Hq = p.heads; s.Hkv = p.kv_heads; s.D = D;
    DeviceBuffer q = random_buffer(s.B * s.Tq * s.Hq * D, 7), k = random_buffer(s.B * s.Tk * s.Hkv * D, 8),
                 v = random_buffer(s.B * s.Tk * s.Hkv * D, 9), o(s.B * s.Tq * s.Hq * D * 4),
                 probs(s.B * s.Hq * s.Tq * s.Tk * 4), dq(s.B * s.Tq * s.Hq * D * 4), dk(s.B * s.Tk * s.Hkv * D * 4),
                 dv(s.B * s.Tk * s.Hkv * D * 4);
    const float scale = 1.0f / std::sqrt(static_cast<float>(D));
    const double flops = 4.0 * s.B * s.Hq * s.Tq * s.Tk * D;
    double ms = median_ms([&] {
      vla::cuda::attention_forward(q.as<float>(), k.as<float>(), v.as<float>(), nullptr, scale, o.as<float>(), probs.as<float>(), s);
    }, reps);
    std::string shape = sz({s.B, s.Tq, s.Tk, s.Hq, s.Hkv, D});
    add(act ? "attention_forward_act" : "attention_forward", shape, ms, flops, "GFLOP/s");
    if (!act) {
      ms = median_ms([&] {
        vla::cuda::attention_backward(q.as<float>(), k.as<float>(), v.as<float>(), probs.as<float>(), o.as<float>(), scale,
                                      dq.as<float>(), dk.as<float>(), dv.as<float>(), s);
      }, reps);
      add("attention_backward", shape, ms, 2.0 * flops, "GFLOP/s");
    }
  }

  // AdamW over a flat buffer the size of the backbone's layer weights (memory-bound: 4 reads, 3 writes).
  {
    const int64_t n = std::min<int64_t>(int64_t{4} * W * qkv + 3 * W * F, int64_t{1} << 28);
    DeviceBuffer prm = random_buffer(n, 10), g = random_buffer(n, 11), m = random_buffer(n, 12), v(n * 4);
    cudaMemset(v.data(), 0, n * 4);
    vla::AdamWHyper h;
    h.lr = 1e-4;
    double ms = median_ms([&] { vla::cuda::adamw_step(prm.as<float>(), g.as<float>(), m.as<float>(), v.as<float>(), nullptr, n, h); }, reps);
    add("adamw_step", sz({n}), ms, 7.0 * n * 4, "GB/s");
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string json_path, only;
  int reps = 20;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--json" && i + 1 < argc) json_path = argv[++i];
    else if (a == "--preset" && i + 1 < argc) only = argv[++i];
    else if (a == "--reps" && i + 1 < argc) reps = std::max(1, std::atoi(argv[++i]));
    else {
      std::fprintf(stderr, "usage: vla_bench_cuda [--json FILE] [--preset small|base|pi0] [--reps N]\n");
      return 2;
    }
  }
  vla::CudaStatus status = vla::cuda_status();
  if (!status.available) {
    std::fprintf(stderr, "vla_bench_cuda: %s\n", status.reason.c_str());
    return 1;
  }
  std::printf("device: %s; GEMM backend: %s\n", status.reason.c_str(), vla::cuda::gemm_backend_name());
  std::vector<Result> results;
  try {
    for (const Preset& p : kPresets)
      if (only.empty() || only == p.name) bench_preset(p, reps, results);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vla_bench_cuda: %s\n", e.what());
    return 1;
  }
  if (!json_path.empty()) {
    FILE* f = std::fopen(json_path.c_str(), "w");
    if (!f) {
      std::fprintf(stderr, "vla_bench_cuda: cannot write %s\n", json_path.c_str());
      return 1;
    }
    std::fprintf(f, "{\n  \"device\": \"%s\",\n  \"gemm_backend\": \"%s\",\n  \"results\": [\n", status.reason.c_str(),
                 vla::cuda::gemm_backend_name());
    for (size_t i = 0; i < results.size(); ++i) {
      const Result& r = results[i];
      std::fprintf(f, "    {\"preset\": \"%s\", \"op\": \"%s\", \"shape\": \"%s\", \"ms\": %.6f, \"rate\": %.3f, \"unit\": \"%s\"}%s\n",
                   r.preset.c_str(), r.op.c_str(), r.shape.c_str(), r.ms, r.rate, r.unit, i + 1 < results.size() ? "," : "");
    }
    std::fprintf(f, "  ]\n}\n");
    std::fclose(f);
  }
  return 0;
}
