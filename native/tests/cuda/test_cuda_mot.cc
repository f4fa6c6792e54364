// The device layer stack (cuda/mot_cuda.h) against the CPU's (model/mot.h) on the tiny preset:
// same random weights, embeddings, masks (padding, a dropped prompt) and positions, one pass
// over every segment with activations saved, then the backward with random output gradients.
// Checks the heads' rows, every layer's K/V, every weight gradient and the input gradients.
#include <cstring>

#include "cuda/mot_cuda.h"
#include "model/layout.h"
#include "model/mot.h"
#include "model/params.h"
#include "tests/cuda/cuda_test_support.h"

namespace vla::test {
namespace {

using gpu::testing::to_device;
using gpu::testing::to_host;

struct Stack {
  std::vector<SegmentActs<float>> segs;
  KvCache<float> kv;
};

// Carves the K/V cache and the segments (obs and prompt without a tail, as in training).
void carve(Arena& a, const ModelConfig& c, int64_t B, const KeyLayout& keys, Stack* st) {
  allocate_kv(a, c, B, keys.total(), &st->kv);
  st->segs.resize(keys.segments().size());
  for (size_t i = 0; i < keys.segments().size(); ++i) {
    Seg s = keys.segments()[i];
    allocate_segment(a, c, B, keys.total(), s, true, s == Seg::kAction || s == Seg::kState, &st->segs[i]);
  }
}

template <typename T>
void upload_to(T* device_ptr, const T* host, int64_t n) {
  gpu::copy_to_device(device_ptr, host, static_cast<size_t>(n) * sizeof(T));
}
template <typename T>
std::vector<T> download(const T* device_ptr, int64_t n) {
  gpu::synchronize();
  std::vector<T> h(static_cast<size_t>(n));
  gpu::copy_to_host(h.data(), device_ptr, static_cast<size_t>(n) * sizeof(T));
  return h;
}
std::vector<float> host_copy(const float* p, int64_t n) { return std::vector<float>(p, p + n); }

VLA_CUDA_TEST(mot_forward_backward) {
  VLA_REQUIRE_CUDA_DEVICE();
  const ModelConfig c = ModelConfig::preset_named("tiny", 40);
  const int64_t B = 3, L = c.max_text_len;
  ParamLayout layout(c);
  std::vector<float> params(static_cast<size_t>(layout.total()));
  layout.initialize(params.data(), 11);
  // Norm weights start at 1: perturb every parameter so each gradient path is exercised.
  auto noise = random_floats(layout.total(), 12, 0.02);
  for (size_t i = 0; i < params.size(); ++i) params[i] += noise[i];

  std::vector<Seg> segs = {Seg::kObs, Seg::kPrompt, Seg::kAction, Seg::kState};
  KeyLayout keys(c, segs);
  std::vector<int32_t> text(static_cast<size_t>(B * L), 0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < L - b; ++t) text[b * L + t] = static_cast<int32_t>(1 + (b * 7 + t * 3) % 39);  // padding grows with b
  std::vector<uint8_t> drop = {0, 1, 0};
  SampleTokens tokens{text.data(), drop.data()};

  // Host stack.
  Arena plan = Arena::planning();
  Stack planned;
  carve(plan, c, B, keys, &planned);
  const int64_t bytes = plan.used();
  Arena host_arena(bytes);
  Stack host;
  carve(host_arena, c, B, keys, &host);
  // Device stack, carved identically.
  gpu::DeviceBuffer dev_mem(static_cast<size_t>(bytes) + 256);
  Arena dev_arena = Arena::over(dev_mem.data(), bytes + 256);
  Stack dev;
  carve(dev_arena, c, B, keys, &dev);

  // Inputs: x[0], mask, positions of each segment.
  for (size_t i = 0; i < segs.size(); ++i) {
    SegmentActs<float>& hs = host.segs[i];
    SegmentActs<float>& ds = dev.segs[i];
    const int64_t rows = B * hs.len;
    auto x0 = random_floats(rows * hs.w, 100 + i);
    std::memcpy(hs.x[0], x0.data(), x0.size() * sizeof(float));
    upload_to(ds.x[0], x0.data(), rows * hs.w);
    build_query_mask(c, keys, segs[i], segs, tokens, B, hs.mask);
    build_positions(c, segs[i], tokens, B, hs.positions);
    upload_to(ds.mask, hs.mask, rows * keys.total());
    upload_to(ds.positions, hs.positions, rows);
  }
  auto dev_params = to_device(params);
  ParamsView<float> hp = layout.view(params.data());
  ParamsView<float> dp = layout.view(dev_params.as<float>());
  std::vector<SegmentActs<float>*> host_active, dev_active;
  for (size_t i = 0; i < segs.size(); ++i) {
    host_active.push_back(&host.segs[i]);
    dev_active.push_back(&dev.segs[i]);
  }

  mot_forward(c, hp, B, keys, host.kv, host_active);
  gpu::mot_forward(c, dp, B, keys, dev.kv, dev_active);

  auto check = [&](const std::string& what, const std::vector<float>& device, const std::vector<float>& reference) {
    double e = max_rel_error(device, reference);
    VLA_EXPECT(e < 1e-4) << what << ": relative error " << e;
  };
  const int64_t kv_n = B * keys.total() * c.kv_dim();
  for (int64_t l = 0; l < c.depth; ++l) {
    check("K layer " + std::to_string(l), download(dev.kv.k[l], kv_n), host_copy(host.kv.k[l], kv_n));
    check("V layer " + std::to_string(l), download(dev.kv.v[l], kv_n), host_copy(host.kv.v[l], kv_n));
  }
  for (size_t i = 2; i < segs.size(); ++i) {
    const int64_t n = B * host.segs[i].len * host.segs[i].w;
    check("output of segment " + std::to_string(i), download(dev.segs[i].x[c.depth], n), host_copy(host.segs[i].x[c.depth], n));
  }

  // Backward: output gradients on the heads' segments; input gradients of the prompt and the
  // action rows; default routing (the action loss never reaches the prompt).
  std::vector<float> zeros(params.size(), 0.0f);
  std::vector<float> host_grads = zeros;
  auto dev_grads = to_device(zeros);
  ParamsView<float> hg = layout.view(host_grads.data()), dg = layout.view(dev_grads.as<float>());
  std::vector<SegmentGrad<float>> host_g(segs.size()), dev_g(segs.size());
  std::vector<std::vector<float>> dout(segs.size()), dx0_host(segs.size());
  std::vector<gpu::DeviceBuffer> dout_dev, dx0_dev;
  for (size_t i = 0; i < segs.size(); ++i) {
    const int64_t n = B * host.segs[i].len * host.segs[i].w;
    dx0_host[i] = random_floats(n, 300 + i);  // dx0 accumulates
    dx0_dev.push_back(to_device(dx0_host[i]));
    if (host.segs[i].tail) {
      dout[i] = random_floats(n, 200 + i);
      dout_dev.push_back(to_device(dout[i]));
      host_g[i].dout = dout[i].data();
      dev_g[i].dout = dout_dev.back().as<float>();
    } else {
      dout_dev.emplace_back();
    }
    host_g[i].dx0 = dx0_host[i].data();
    dev_g[i].dx0 = dx0_dev[i].as<float>();
  }
  Arena scratch_plan = Arena::planning();
  BackwardScratch<float> unused;
  allocate_backward_scratch(scratch_plan, c, B, keys.total(), host_active, &unused);
  Arena host_scratch(scratch_plan.used());
  gpu::DeviceBuffer scratch_mem(static_cast<size_t>(scratch_plan.used()) + 256);
  Arena dev_scratch = Arena::over(scratch_mem.data(), scratch_plan.used() + 256);
  GradientRouting routing;
  mot_backward(c, hp, hg, B, keys, host.kv, host_active, host_g, routing, host_scratch);
  gpu::mot_backward(c, dp, dg, B, keys, dev.kv, dev_active, dev_g, routing, dev_scratch);

  auto g_dev = to_host<float>(dev_grads, params.size());
  for (const ParamInfo& info : layout.params()) {
    std::vector<float> a(g_dev.begin() + info.offset, g_dev.begin() + info.offset + info.shape.numel());
    std::vector<float> b(host_grads.begin() + info.offset, host_grads.begin() + info.offset + info.shape.numel());
    double e = max_rel_error(a, b);
    VLA_EXPECT(e < 1e-4) << "gradient of " << info.name << ": relative error " << e;
  }
  for (size_t i = 0; i < segs.size(); ++i)
    check("dx0 of segment " + std::to_string(i), to_host<float>(dx0_dev[i], dx0_host[i].size()), dx0_host[i]);
}

}  // namespace
}  // namespace vla::test
