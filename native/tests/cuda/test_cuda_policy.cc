// The policy on the device (cuda/policy_device.h) against Policy<float> on the host: act on the
// tiny preset with padding, two embodiments, a dropped prompt, given and seeded noise.
#include <vector>

#include "cuda/policy_device.h"
#include "model/policy.h"
#include "tests/cuda/cuda_test_support.h"

namespace vla::test {
namespace {

struct Batch {
  std::vector<uint8_t> images;
  std::vector<int32_t> text, embodiment;
  std::vector<float> state;
  ObsBatch<float> obs;
};

Batch make_batch(const ModelConfig& c, int64_t B, uint64_t seed) {
  Batch b;
  Rng rng(seed);
  b.images.resize(static_cast<size_t>(B * c.frames * c.image_size * c.image_size * 3));
  for (auto& v : b.images) v = static_cast<uint8_t>(rng.uniform() * 256.0);
  b.text.assign(static_cast<size_t>(B * c.max_text_len), 0);
  for (int64_t s = 0; s < B; ++s)
    for (int64_t j = 0; j < c.max_text_len - (s % 3); ++j)
      b.text[s * c.max_text_len + j] = static_cast<int32_t>(1 + static_cast<int64_t>(rng.uniform() * (c.vocab_size - 1)));
  for (int64_t s = 0; s < B; ++s) b.embodiment.push_back(static_cast<int32_t>(s % 2));
  b.state = random_floats(B * c.state_dim, seed + 1, 0.3);
  b.obs.B = B;
  b.obs.images = b.images.data();
  b.obs.text = b.text.data();
  b.obs.state = b.state.data();
  b.obs.embodiment = b.embodiment.data();
  return b;
}

VLA_CUDA_TEST(policy_act) {
  VLA_REQUIRE_CUDA_DEVICE();
  const ModelConfig c = ModelConfig::preset_named("tiny", 30);
  Policy<float> host(c, 5);
  gpu::DevicePolicy device(host);
  const int64_t B = 3, n = B * c.horizon * c.action_dim;
  Batch batch = make_batch(c, B, 9);
  std::vector<uint8_t> drop = {0, 0, 1};
  auto noise = random_floats(n, 21);

  std::vector<float> want(static_cast<size_t>(n)), got(static_cast<size_t>(n));
  host.act(batch.obs, noise.data(), 0, want.data(), drop.data());
  device.act(batch.obs, noise.data(), 0, got.data(), drop.data());
  double e = max_rel_error(got, want);
  VLA_EXPECT(e < 1e-4) << "act with given noise: relative error " << e;

  // Without the CUDA graph (launch by launch) the same chunks come out.
  std::vector<float> plain(static_cast<size_t>(n));
  device.set_cuda_graphs(false);
  device.act(batch.obs, noise.data(), 0, plain.data(), drop.data());
  device.set_cuda_graphs(true);
  VLA_EXPECT(plain == got) << "act without graphs differs: " << max_rel_error(plain, got);

  // Seeded noise, another batch size (a new workspace), no drop.
  Batch one = make_batch(c, 1, 10);
  std::vector<float> want1(static_cast<size_t>(c.horizon * c.action_dim)), got1(want1.size());
  host.act(one.obs, nullptr, 77, want1.data());
  device.act(one.obs, nullptr, 77, got1.data());
  e = max_rel_error(got1, want1);
  VLA_EXPECT(e < 1e-4) << "act with seeded noise: relative error " << e;

  // New weights reach the device only through sync_weights.
  host.params()[0] += 0.5f;
  device.sync_weights();
  host.act(batch.obs, noise.data(), 0, want.data(), drop.data());
  device.act(batch.obs, noise.data(), 0, got.data(), drop.data());
  e = max_rel_error(got, want);
  VLA_EXPECT(e < 1e-4) << "act after sync_weights: relative error " << e;

  // Bad input is refused before anything is uploaded.
  batch.embodiment[1] = 99;
  VLA_EXPECT_THROWS(device.act(batch.obs, noise.data(), 0, got.data()), ErrorCode::kValue, "embodiment[1]");
}

}  // namespace
}  // namespace vla::test

namespace vla::test {
namespace {

VLA_CUDA_TEST(policy_prompt_step) {
  VLA_REQUIRE_CUDA_DEVICE();
  ModelConfig c = ModelConfig::preset_named("tiny", 30);
  c.num_embodiments = 4;
  Policy<float> host(c, 6);
  gpu::DevicePolicy device(host);
  const int64_t B = 4;
  Batch batch = make_batch(c, B, 13);
  batch.embodiment = {0, 2, 0, 2};  // blocks 1 and 3 are absent: they must not move
  LossOptions opt;
  opt.action_loss = false;
  opt.grad_groups = {ParamGroup::kPrompt};
  StepOptions so;
  so.adam.lr = 1e-2;
  const ParamInfo* prompt = host.layout().find("prompt");
  std::vector<float> device_params(static_cast<size_t>(host.num_params()));
  for (int step = 0; step < 3; ++step) {
    auto noise = random_floats(B * c.state_dim, 40 + step);
    std::vector<float> t = {0.9f, 0.5f, 0.2f, 0.7f};
    FlowTargets<float> f;
    f.state_noise = noise.data();
    f.state_time = t.data();
    so.max_grad_norm = step == 1 ? 1e-3 : 0;  // the second step clips
    StepResult want = host.step(batch.obs, f, opt, so, true);
    StepResult got = device.prompt_step(batch.obs, f, so);
    VLA_EXPECT_NEAR(got.loss.state, want.loss.state, 1e-4 * std::max(1.0, std::fabs(want.loss.state)));
    VLA_EXPECT_NEAR(got.grad_norm, want.grad_norm, 1e-4 * std::max(1e-3, want.grad_norm));
    VLA_EXPECT(got.clipped == want.clipped) << "step " << step;
    device.download_params(device_params.data());
    std::vector<float> a(device_params.begin() + prompt->offset, device_params.begin() + prompt->offset + prompt->shape.numel());
    std::vector<float> b(host.params() + prompt->offset, host.params() + prompt->offset + prompt->shape.numel());
    double e = max_rel_error(a, b);
    VLA_EXPECT(e < 1e-4) << "prompt after step " << step << ": relative error " << e;
  }
  // Everything but the prompt is untouched on the device.
  const std::vector<float> original = [&] {
    Policy<float> fresh(c, 6);
    return std::vector<float>(fresh.params(), fresh.params() + fresh.num_params());
  }();
  for (int64_t i = 0; i < host.num_params(); ++i)
    if (i < prompt->offset || i >= prompt->offset + prompt->shape.numel())
      if (device_params[i] != original[i]) {
        VLA_EXPECT(false) << "parameter " << i << " outside the prompt changed";
        break;
      }
}

}  // namespace
}  // namespace vla::test

namespace vla::test {
namespace {

VLA_CUDA_TEST(policy_train_step) {
  VLA_REQUIRE_CUDA_DEVICE();
  const ModelConfig c = ModelConfig::preset_named("tiny", 30);
  Policy<float> host(c, 8);
  gpu::DevicePolicy device(host);
  const int64_t B = 3, HA = c.horizon * c.action_dim;
  Batch batch = make_batch(c, B, 17);
  LossOptions opt;
  opt.state_weight = 0.5;
  opt.grad_groups = {ParamGroup::kEmbed, ParamGroup::kPrompt, ParamGroup::kBackbone, ParamGroup::kAction,
                     ParamGroup::kState};
  StepOptions so;
  so.adam.lr = 1e-3;
  std::vector<float> device_params(static_cast<size_t>(host.num_params()));
  for (int step = 0; step < 2; ++step) {
    auto actions = random_floats(B * HA, 60 + step, 0.5);
    auto action_noise = random_floats(B * HA, 70 + step);
    auto state_noise = random_floats(B * c.state_dim, 80 + step);
    std::vector<float> at = {0.3f, 0.8f, 0.55f}, st = {0.6f, 0.1f, 0.95f}, w = {1.0f, 0.5f, 2.0f};
    std::vector<uint8_t> drop = {0, 1, 0};
    FlowTargets<float> f;
    f.actions = actions.data();
    f.action_noise = action_noise.data();
    f.action_time = at.data();
    f.action_weights = step == 1 ? w.data() : nullptr;
    f.state_noise = state_noise.data();
    f.state_time = st.data();
    f.drop_prompt = drop.data();
    so.max_grad_norm = step == 1 ? 1e-2 : 0;  // the second step clips
    StepResult want = host.step(batch.obs, f, opt, so);
    StepResult got = device.train_step(batch.obs, f, opt.state_weight, so);
    VLA_EXPECT_NEAR(got.loss.action, want.loss.action, 1e-4 * std::max(1.0, std::fabs(want.loss.action)));
    VLA_EXPECT_NEAR(got.loss.state, want.loss.state, 1e-4 * std::max(1.0, std::fabs(want.loss.state)));
    VLA_EXPECT_NEAR(got.grad_norm, want.grad_norm, 1e-4 * std::max(1e-3, want.grad_norm));
    VLA_EXPECT(got.clipped == want.clipped) << "step " << step;
    device.download_params(device_params.data());
    for (const ParamInfo& info : host.layout().params()) {
      std::vector<float> a(device_params.begin() + info.offset, device_params.begin() + info.offset + info.shape.numel());
      std::vector<float> b(host.params() + info.offset, host.params() + info.offset + info.shape.numel());
      double e = max_rel_error(a, b);
      VLA_EXPECT(e < 1e-4) << info.name << " after step " << step << ": relative error " << e;
    }
  }
}

}  // namespace
}  // namespace vla::test
