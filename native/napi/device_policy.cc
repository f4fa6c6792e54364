#include "napi/device_policy.h"

// The backend, chosen at compile time (device_policy.h). The emulated test addon compiles this
// file with VLA_TTT_DEVICE_EMULATED and links the kernels compiled for the emulator, whose
// declarations live in vla::cuda_emu: cuda/namespace.h picks that namespace from
// VLA_CUDA_EMULATION, so it is defined before the backend's headers.
#if defined(VLA_TTT_DEVICE_EMULATED)
#ifndef VLA_CUDA_EMULATION
#define VLA_CUDA_EMULATION 1
#endif
#define VLA_TTT_DEVICE_BACKEND 1
#elif defined(VLA_HAVE_CUDA)
#define VLA_TTT_DEVICE_BACKEND 1
#endif

#if defined(VLA_TTT_DEVICE_BACKEND)
#include <mutex>

#include "cuda/policy_device.h"
#endif

#include "core/error.h"

namespace vla::napi {

DeviceBackend device_backend() {
#if defined(VLA_TTT_DEVICE_EMULATED)
  return DeviceBackend::kEmulator;
#elif defined(VLA_HAVE_CUDA)
  return DeviceBackend::kCuda;
#else
  return DeviceBackend::kNone;
#endif
}

const char* device_backend_name(DeviceBackend b) {
  switch (b) {
    case DeviceBackend::kCuda: return "cuda";
    case DeviceBackend::kEmulator: return "emulator";
    case DeviceBackend::kNone: return "none";
  }
  return "none";
}

CudaStatus device_status() {
  if (device_backend() != DeviceBackend::kEmulator) return cuda_status();
  CudaStatus s;
  s.available = true;
  s.device_count = 1;
  s.device_name = "CUDA emulator";
  s.reason = "the CPU emulator of the CUDA kernels (the test addon built with VLA_TTT_CUDA_EMULATED_ADDON; slow, for tests only)";
  return s;
}

#if defined(VLA_TTT_DEVICE_BACKEND)

class DeviceTwin {
 public:
  explicit DeviceTwin(const Policy<float>& host) : policy(host) {}
  VLA_CUDA_NS::DevicePolicy policy;
};

namespace {
// The emulator turns `__shared__` arrays into function statics (one block at a time on one OS
// thread), so two emulated launches on different threads (two policies' async calls) would share
// them: every emulated device call runs under one process-wide lock. The device needs none (an
// empty lock).
std::unique_lock<std::mutex> backend_lock() {
#if defined(VLA_TTT_DEVICE_EMULATED)
  static std::mutex mu;
  return std::unique_lock<std::mutex>(mu);
#else
  return std::unique_lock<std::mutex>();
#endif
}
}  // namespace

#else

class DeviceTwin {};

#endif

PolicyOnDevice::PolicyOnDevice(Policy<float>& host) : host_(host) {
  const CudaStatus status = device_status();
  if (!status.available) fail(ErrorCode::kUnsupported, "device 'cuda' is not available: ", status.reason);
  const ModelConfig& c = host.config();
  if (c.is_progress())
    fail(ErrorCode::kUnsupported,
         "device 'cuda': a progress critic runs on the CPU only (the device backend has a policy's act, prompt step and training step)");
  if (c.obs_attends_prompt)
    fail(ErrorCode::kUnsupported,
         "device 'cuda': a policy whose observation rows attend the prompt (obs_attends_prompt) runs on the CPU only");
#if defined(VLA_TTT_DEVICE_BACKEND)
  auto lock = backend_lock();
  twin_ = std::make_unique<DeviceTwin>(host_);
  synced_version_ = host_.weights_version();
#else
  fail(ErrorCode::kInternal, "device 'cuda': no device backend, yet device_status() reports one");
#endif
}

PolicyOnDevice::~PolicyOnDevice() {
#if defined(VLA_TTT_DEVICE_BACKEND)
  auto lock = backend_lock();
  twin_.reset();
#endif
}

#if defined(VLA_TTT_DEVICE_BACKEND)

void PolicyOnDevice::push() {
  if (host_.weights_version() == synced_version_) return;
  twin_->policy.sync_weights();
  synced_version_ = host_.weights_version();
  device_ahead_ = false;  // the host's weights were written after the device's: they win
}

void PolicyOnDevice::pull() {
  if (!device_ahead_) return;
  device_ahead_ = false;
  if (host_.weights_version() != synced_version_) return;  // replaced on the host since: keep those
  auto lock = backend_lock();
  twin_->policy.download_params(host_.params());  // mutable params(): act's packed weights are redone
  synced_version_ = host_.weights_version();
}

void PolicyOnDevice::act(const ObsBatch<float>& obs, const float* noise, uint64_t seed, float* out,
                         const uint8_t* drop_prompt) {
  auto lock = backend_lock();
  push();
  twin_->policy.act(obs, noise, seed, out, drop_prompt);
}

StepResult PolicyOnDevice::prompt_step(const ObsBatch<float>& obs, const FlowTargets<float>& f, const StepOptions& s) {
  auto lock = backend_lock();
  push();
  StepResult r = twin_->policy.prompt_step(obs, f, s);
  device_ahead_ = true;
  last_step_ = twin_->policy.prompt_optimizer_step();
  return r;
}

StepResult PolicyOnDevice::train_step(const ObsBatch<float>& obs, const FlowTargets<float>& f, double state_weight,
                                      const StepOptions& s) {
  auto lock = backend_lock();
  push();
  StepResult r = twin_->policy.train_step(obs, f, state_weight, s);
  device_ahead_ = true;
  last_step_ = twin_->policy.optimizer_step();
  return r;
}

void PolicyOnDevice::reset_optimizers() {
  auto lock = backend_lock();
  twin_->policy.reset_optimizer();
  twin_->policy.reset_prompt_optimizer();
  last_step_ = 0;
}

#else

// Never reached: the constructor fails without a backend.
void PolicyOnDevice::push() {}
void PolicyOnDevice::pull() {}
void PolicyOnDevice::act(const ObsBatch<float>&, const float*, uint64_t, float*, const uint8_t*) {}
StepResult PolicyOnDevice::prompt_step(const ObsBatch<float>&, const FlowTargets<float>&, const StepOptions&) { return {}; }
StepResult PolicyOnDevice::train_step(const ObsBatch<float>&, const FlowTargets<float>&, double, const StepOptions&) { return {}; }
void PolicyOnDevice::reset_optimizers() {}

#endif

}  // namespace vla::napi
