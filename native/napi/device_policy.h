// A NativePolicy placed on device 'cuda': its float32 host policy plus a DevicePolicy twin
// (cuda/policy_device.h) that runs act, the latent-prompt step and the training step on the
// device, with the weights kept coherent between the two sides.
//
// Which side holds the newest weights: the host policy stays the owner (checkpoints, layout,
// every op the device lacks), so the twin uploads the host's weights before a device call
// whenever they changed since the last sync (the host's weights_version), and a device step
// marks the device ahead until pull() copies its weights back for a host read (getParams, save,
// moving back to the CPU). Whichever side was written last wins: setParams while the device is
// ahead replaces the device's weights at the next call.
//
// The backend is chosen when the addon is compiled: the CUDA backend (VLA_HAVE_CUDA), its CPU
// emulator (the test addon of VLA_TTT_CUDA_EMULATED_ADDON, so CI runs `device: 'cuda'` end to end
// without a GPU), or none, where constructing one fails with the build's CUDA status reason. This
// header needs no CUDA headers: only device_policy.cc sees the backend.
#pragma once

#include <cstdint>
#include <memory>

#include "core/build_info.h"
#include "model/policy.h"

namespace vla::napi {

// What runs a policy placed on 'cuda' in this addon.
enum class DeviceBackend { kNone, kCuda, kEmulator };
DeviceBackend device_backend();
const char* device_backend_name(DeviceBackend b);  // "none", "cuda", "emulator"

// cudaStatus() of this addon: the core's cuda_status(), or in the emulated test addon the
// emulator presented as the device (available, named as the CPU emulator).
CudaStatus device_status();

class DeviceTwin;  // the backend's DevicePolicy (device_policy.cc)

class PolicyOnDevice {
 public:
  // Uploads the host's weights. Fails with kUnsupported naming why when this addon has no
  // device backend or no usable device, and for models the device path does not run
  // (progress critics, obs_attends_prompt).
  explicit PolicyOnDevice(Policy<float>& host);
  ~PolicyOnDevice();
  PolicyOnDevice(const PolicyOnDevice&) = delete;
  PolicyOnDevice& operator=(const PolicyOnDevice&) = delete;

  // DevicePolicy::act / prompt_step / train_step, after uploading the host's weights if they
  // changed. The steps leave the device ahead of the host.
  void act(const ObsBatch<float>& obs, const float* noise, uint64_t seed, float* out, const uint8_t* drop_prompt);
  StepResult prompt_step(const ObsBatch<float>& obs, const FlowTargets<float>& f, const StepOptions& s);
  StepResult train_step(const ObsBatch<float>& obs, const FlowTargets<float>& f, double state_weight,
                        const StepOptions& s);

  // Forgets both device optimizers' moments and step counts.
  void reset_optimizers();
  // The step count of the device optimizer that stepped last (the prompt step and the training
  // step keep separate AdamW states on the device; 0 before any step).
  int64_t optimizer_step() const { return last_step_; }

  // Copies the device's weights into the host policy when a device step changed them since the
  // last sync (and the host's were not replaced meanwhile).
  void pull();

 private:
  void push();

  Policy<float>& host_;
  std::unique_ptr<DeviceTwin> twin_;
  int64_t synced_version_ = 0;  // host weights_version() when both sides last held the same weights
  bool device_ahead_ = false;
  int64_t last_step_ = 0;
};

}  // namespace vla::napi
