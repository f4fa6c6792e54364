// Where the native policy's time goes (small preset), outside Node, for bench/model.bench.mjs's
// findings: act at batch 1 (and its prefix / per-step split, from a 1-step config with the same
// weights), the promptStep- and trainStep-shaped losses forward only, forward + backward and as a
// whole step, each with the float32 GEMM on OpenBLAS and on vla-ttt's own kernels, and the GeGLU
// activation at the model's shapes next to the same arithmetic with an exp-based tanh.
// Medians over repeated calls; uses only the public native API (native/model/policy.h).
// Build after `npm install` (which leaves build/libvla_core.a), from the repository root:
//   g++ -O3 -std=c++17 -mavx2 -mfma -Inative bench/tools/policy_phases.cc build/libvla_core.a \
//       -lopenblas -lpthread -o /tmp/policy_phases && /tmp/policy_phases THREADS
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "core/random.h"
#include "core/thread_pool.h"
#include "model/flow_draws.h"
#include "model/policy.h"
#include "ops/activations.h"
#include "ops/gemm.h"

using namespace vla;
using Clock = std::chrono::steady_clock;

double median_ms(int warm, int n, const std::function<void()>& f) {
  for (int i = 0; i < warm; ++i) f();
  std::vector<double> t;
  for (int i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

struct Batch {
  int64_t B;
  std::vector<uint8_t> images;
  std::vector<int32_t> text;
  std::vector<float> state;
  std::vector<int32_t> emb;
  ObsBatch<float> obs() const { return ObsBatch<float>{B, images.data(), text.data(), state.data(), emb.data()}; }
};

Batch make_batch(const ModelConfig& c, int64_t B, bool mixed) {
  Batch b;
  b.B = B;
  Rng rng(42, 1);
  b.images.resize(B * c.image_size * c.image_size * 3);
  for (size_t i = 0; i < b.images.size(); ++i) b.images[i] = static_cast<uint8_t>(rng.uniform_at(i) * 255);
  b.text.assign(B * c.max_text_len, 0);
  for (int64_t i = 0; i < B; ++i)
    for (int64_t j = 0; j < 6; ++j) b.text[i * c.max_text_len + j] = 2 + static_cast<int32_t>(j);
  b.state.resize(B * c.state_dim);
  for (size_t i = 0; i < b.state.size(); ++i) b.state[i] = static_cast<float>(0.5 * rng.normal_at(1000 + i));
  b.emb.resize(B);
  for (int64_t i = 0; i < B; ++i) b.emb[i] = mixed ? static_cast<int32_t>(i % c.num_embodiments) : 0;
  return b;
}

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  set_num_threads(threads);
  ModelConfig c = ModelConfig::preset_named("small", 30);
  Policy<float> p(c, 1);
  ModelConfig c1 = c;
  c1.sample_steps = 1;
  Policy<float> p1(c1, 1);  // same seed, same weights: act with one denoising step
  Batch b1 = make_batch(c, 1, false), b128 = make_batch(c, 128, false), b64 = make_batch(c, 64, true);
  std::vector<float> out(c.horizon * c.action_dim);

  auto d128 = draw_flow<float>(1, 0, 128, 0, c.state_dim, 0.0);
  FlowTargets<float> fp;
  fp.state_noise = d128.state_noise.data();
  fp.state_time = d128.state_time.data();
  LossOptions lp;
  lp.action_loss = false;
  lp.grad_groups = {ParamGroup::kPrompt};

  auto d64 = draw_flow<float>(1, 0, 64, c.horizon * c.action_dim, c.state_dim, 0.0);
  std::vector<float> actions(64 * c.horizon * c.action_dim);
  for (size_t i = 0; i < actions.size(); ++i) actions[i] = static_cast<float>(0.5 * Rng(3, 3).normal_at(i));
  FlowTargets<float> ft;
  ft.actions = actions.data();
  ft.action_noise = d64.action_noise.data();
  ft.action_time = d64.action_time.data();
  ft.state_noise = d64.state_noise.data();
  ft.state_time = d64.state_time.data();
  ft.drop_prompt = d64.drop_prompt.data();
  LossOptions lt;
  lt.grad_groups = {ParamGroup::kEmbed, ParamGroup::kPrompt, ParamGroup::kBackbone, ParamGroup::kAction, ParamGroup::kState};
  StepOptions sp;
  sp.adam.lr = 1e-3;
  sp.adam.weight_decay = 0;
  StepOptions st;
  st.adam.lr = 3e-4;
  st.max_grad_norm = 1.0;

  for (GemmBackend be : {GemmBackend::kOpenBlas, GemmBackend::kOwn}) {
    set_gemm_backend(be);
    std::printf("threads %d, gemm %s\n", threads, gemm_backend_name());
    const double act10 = median_ms(5, 41, [&] { p.act(b1.obs(), nullptr, 1, out.data()); });
    const double act1 = median_ms(5, 41, [&] { p1.act(b1.obs(), nullptr, 1, out.data()); });
    const double per_step = (act10 - act1) / (c.sample_steps - 1);
    std::printf("  act B=1                       %8.2f ms (prefix pass ~%.2f ms, each of %ld denoising steps ~%.2f ms)\n", act10,
                act1 - per_step, (long)c.sample_steps, per_step);
    std::printf("  promptStep B=128: forward     %8.2f ms\n", median_ms(1, 5, [&] { p.loss_and_grads(b128.obs(), fp, lp, false); }));
    std::printf("  promptStep B=128: fwd+bwd     %8.2f ms\n", median_ms(1, 5, [&] { p.zero_grads(); p.loss_and_grads(b128.obs(), fp, lp, true); }));
    std::printf("  promptStep B=128: step        %8.2f ms\n", median_ms(1, 5, [&] { p.step(b128.obs(), fp, lp, sp, true); }));
    std::printf("  trainStep B=64: forward       %8.2f ms\n", median_ms(1, 5, [&] { p.loss_and_grads(b64.obs(), ft, lt, false); }));
    std::printf("  trainStep B=64: fwd+bwd       %8.2f ms\n", median_ms(1, 5, [&] { p.zero_grads(); p.loss_and_grads(b64.obs(), ft, lt, true); }));
    std::printf("  trainStep B=64: step          %8.2f ms\n", median_ms(1, 5, [&] { p.step(b64.obs(), ft, lt, st, false); }));
  }
  set_gemm_backend(GemmBackend::kAuto);

  // GeGLU (tanh-GELU gate) at the model's shapes, and the same arithmetic with a tanh that the
  // compiler can vectorize (tanh(u) = 1 - 2 / (exp(2u) + 1) on clamped u), for comparison.
  const int64_t F = c.backbone.mlp_dim;
  for (int64_t rows : {int64_t(9), int64_t(88), int64_t(64 * 80), int64_t(128 * 80)}) {
    std::vector<float> x(rows * 2 * F), y(rows * F);
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(Rng(5, 5).normal_at(i));
    const int n = rows > 1000 ? 5 : 201;
    double lib = median_ms(2, n, [&] { geglu_forward<float>(x.data(), y.data(), rows, F); });
    double vec = median_ms(2, n, [&] {
      for (int64_t r = 0; r < rows; ++r) {
        const float* g = x.data() + r * 2 * F;
        const float* u = g + F;
        float* o = y.data() + r * F;
        for (int64_t j = 0; j < F; ++j) {
          float v = g[j];
          float inner = 0.7978845608028654f * (v + 0.044715f * v * v * v);
          inner = std::min(9.0f, std::max(-9.0f, inner));
          float e = __builtin_expf(2.0f * inner);
          float th = 1.0f - 2.0f / (e + 1.0f);
          o[j] = 0.5f * v * (1.0f + th) * u[j];
        }
      }
    });
    std::printf("geglu_forward rows %6ld x F %ld: native %8.3f ms, vectorizable-tanh loop (1 thread) %8.3f ms\n", (long)rows, (long)F, lib, vec);
  }
  return 0;
}
