// The policy on the GPU (cuda/policy_device.h), as a controller calls it: act at batch 1 (one
// control step's latency) and batch 256 (throughput), and a latent-prompt step at batch 128,
// for the small, base and pi0 presets with seeded random weights. Wall-clock medians over
// repeated calls after warm-up, uploads of the inputs and the download of the result included.
// A training step of every parameter follows (batch 128; 8 for pi0). bench/torch_cuda_model.py
// times PyTorch on the same shapes.
//
//   vla_bench_cuda_model [--json FILE] [--preset small|base|pi0] [--reps N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "core/build_info.h"
#include "core/random.h"
#include "cuda/policy_device.h"
#include "model/policy.h"

namespace {

struct Row {
  std::string preset, op;
  int64_t batch;
  double ms;
};

struct Inputs {
  std::vector<uint8_t> images;
  std::vector<int32_t> text, embodiment;
  std::vector<float> state, noise, time;
  vla::ObsBatch<float> obs;
};

Inputs make_inputs(const vla::ModelConfig& c, int64_t B, uint64_t seed) {
  Inputs in;
  vla::Rng rng(seed);
  in.images.resize(static_cast<size_t>(B * c.frames * c.image_size * c.image_size * 3));
  for (auto& v : in.images) v = static_cast<uint8_t>(rng.uniform() * 256.0);
  in.text.assign(static_cast<size_t>(B * c.max_text_len), 0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < c.max_text_len - 2; ++j)
      in.text[b * c.max_text_len + j] = static_cast<int32_t>(1 + rng.uniform() * (c.vocab_size - 2));
  for (int64_t b = 0; b < B; ++b) in.embodiment.push_back(static_cast<int32_t>(b % c.num_embodiments));
  for (int64_t i = 0; i < B * c.state_dim; ++i) {
    in.state.push_back(static_cast<float>(rng.normal() * 0.2));
    in.noise.push_back(static_cast<float>(rng.normal()));
  }
  for (int64_t b = 0; b < B; ++b) in.time.push_back(static_cast<float>(0.001 + 0.999 * rng.uniform()));
  in.obs.B = B;
  in.obs.images = in.images.data();
  in.obs.text = in.text.data();
  in.obs.state = in.state.data();
  in.obs.embodiment = in.embodiment.data();
  return in;
}

template <typename F>
double median_ms(F&& call, int reps) {
  for (int i = 0; i < 2; ++i) call();
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    call();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

void bench_preset(const std::string& name, int reps, std::vector<Row>& rows) {
  const vla::ModelConfig c = vla::ModelConfig::preset_named(name, 64);
  auto t0 = std::chrono::steady_clock::now();
  vla::Policy<float> host(c, 1);
  vla::cuda::DevicePolicy device(host);
  std::printf("%s: %lld parameters, set up in %.1f s\n", name.c_str(), static_cast<long long>(host.num_params()),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  auto report = [&](const char* op, int64_t B, double ms) {
    rows.push_back({name, op, B, ms});
    std::printf("%-6s %-12s batch %4lld  %10.3f ms\n", name.c_str(), op, static_cast<long long>(B), ms);
    std::fflush(stdout);
  };
  for (int64_t B : {int64_t{1}, int64_t{256}}) {
    Inputs in = make_inputs(c, B, 7 + static_cast<uint64_t>(B));
    std::vector<float> out(static_cast<size_t>(B * c.horizon * c.action_dim));
    uint64_t seed = 0;
    report("act", B, median_ms([&] { device.act(in.obs, nullptr, ++seed, out.data()); }, B == 1 ? reps * 5 : reps));
  }
  {
    const int64_t B = 128;
    Inputs in = make_inputs(c, B, 99);
    vla::FlowTargets<float> f;
    f.state_noise = in.noise.data();
    f.state_time = in.time.data();
    vla::StepOptions s;
    s.adam.lr = 1e-3;
    s.adam.weight_decay = 0;
    report("prompt_step", B, median_ms([&] { device.prompt_step(in.obs, f, s); }, reps));
  }
  // A training step of every parameter at batch 128 (8 for pi0: its saved activations, about
  // 1.2 GB per sample over 18 layers, beside 42 GB of weights, gradients and moments, would
  // not fit an 80 GB card at 64).
  {
    const int64_t B = name == "pi0" ? 8 : 128;
    Inputs in = make_inputs(c, B, 123);
    std::vector<float> actions(static_cast<size_t>(B * c.horizon * c.action_dim)), anoise(actions.size());
    vla::Rng rng(5);
    for (size_t i = 0; i < actions.size(); ++i) {
      actions[i] = static_cast<float>(rng.normal() * 0.3);
      anoise[i] = static_cast<float>(rng.normal());
    }
    vla::FlowTargets<float> f;
    f.actions = actions.data();
    f.action_noise = anoise.data();
    f.action_time = in.time.data();
    f.state_noise = in.noise.data();
    f.state_time = in.time.data();
    vla::StepOptions s;
    s.adam.lr = 1e-4;
    s.max_grad_norm = 1.0;
    report("train_step", B, median_ms([&] { device.train_step(in.obs, f, 1.0, s); }, reps));
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string json_path, only;
  int reps = 10;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--json" && i + 1 < argc) json_path = argv[++i];
    else if (a == "--preset" && i + 1 < argc) only = argv[++i];
    else if (a == "--reps" && i + 1 < argc) reps = std::max(1, std::atoi(argv[++i]));
    else {
      std::fprintf(stderr, "usage: vla_bench_cuda_model [--json FILE] [--preset small|base|pi0] [--reps N]\n");
      return 2;
    }
  }
  vla::CudaStatus status = vla::cuda_status();
  if (!status.available) {
    std::fprintf(stderr, "vla_bench_cuda_model: %s\n", status.reason.c_str());
    return 1;
  }
  std::printf("device: %s\n", status.reason.c_str());
  std::vector<Row> rows;
  try {
    for (const char* name : {"small", "base", "pi0"})
      if (only.empty() || only == name) bench_preset(name, reps, rows);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vla_bench_cuda_model: %s\n", e.what());
  }
  if (!json_path.empty()) {
    FILE* f = std::fopen(json_path.c_str(), "w");
    if (!f) return 1;
    std::fprintf(f, "{\n  \"device\": \"%s\",\n  \"results\": [\n", status.reason.c_str());
    for (size_t i = 0; i < rows.size(); ++i)
      std::fprintf(f, "    {\"preset\": \"%s\", \"op\": \"%s\", \"batch\": %lld, \"ms\": %.4f}%s\n", rows[i].preset.c_str(),
                   rows[i].op.c_str(), static_cast<long long>(rows[i].batch), rows[i].ms, i + 1 < rows.size() ? "," : "");
    std::fprintf(f, "  ]\n}\n");
    std::fclose(f);
  }
  return rows.empty() ? 1 : 0;
}
