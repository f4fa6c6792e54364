// The policy's sampling on the device: Policy<float>::act (model/policy.h) with the weights, the
// K/V cache and every activation in device memory. The host policy stays the owner of the
// weights and the training state; a DevicePolicy holds a device copy of its weights
// (sync_weights() copies them again after they change) and checks every batch with the host
// policy's validate() before uploading it.
//
// act() follows policy.cc step for step: observation and prompt rows encoded once (one pass, K/V
// cached), then `sample_steps` Euler steps from t = 1 to 0 that re-run only the action rows. The
// starting noise is the host's (given, or Philox(seed) drawn as Policy::act draws it), so both
// produce the same chunks up to float rounding.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "cuda/device_buffer.h"
#include "cuda/namespace.h"
#include "model/policy.h"

namespace vla::VLA_CUDA_NS {

namespace policy_detail {
struct DeviceObservations;
}

class DevicePolicy {
 public:
  explicit DevicePolicy(const Policy<float>& host);
  ~DevicePolicy();
  DevicePolicy(const DevicePolicy&) = delete;
  DevicePolicy& operator=(const DevicePolicy&) = delete;

  // Copies the host policy's current weights to the device.
  void sync_weights();

  // Samples action chunks into `out` [B, H, A] (host memory); arguments as Policy::act (host
  // pointers; observation encodings are not supported here: pass images).
  void act(const ObsBatch<float>& obs, const float* noise, uint64_t seed, float* out,
           const uint8_t* drop_prompt = nullptr);

  // Whether act replays its denoising loop as a CUDA graph (default on; captured on the first
  // call for a batch size, again after set_cuda_graphs(true)). A capture the runtime refuses
  // turns graphs off for this policy and the loop runs launch by launch. No effect in the
  // emulator, which has no graphs.
  void set_cuda_graphs(bool on);
  bool cuda_graphs() const { return use_graphs_; }

  // One latent-prompt step (TTT-VLA), on the device: Policy::step with only the state-grounding
  // loss, gradients to the prompt only, AdamW on the prompt blocks of the embodiments in the
  // batch (Policy::step(obs, f, {state loss, groups {prompt}}, s, prompt_only_embodiments = true)).
  // f needs state_noise and state_time [B] (host memory). The device weights change; the host
  // policy's do not (download_params copies them back). AdamW's moments and step count are the
  // device's own, starting at zero (reset_prompt_optimizer starts them again).
  StepResult prompt_step(const ObsBatch<float>& obs, const FlowTargets<float>& f, const StepOptions& s);
  void reset_prompt_optimizer();
  int64_t prompt_optimizer_step() const { return prompt_adam_step_; }

  // One training step of every parameter group on both losses, on the device: Policy::step(obs,
  // f, {action and state losses, all groups, state_weight}, s) (f: actions, action_noise,
  // action_time, optional action_weights and drop_prompt, state_noise, state_time; host memory).
  // AdamW's moments and step count are the device's own (reset_optimizer starts them again);
  // a non-finite gradient fails with kValue before any weight changes.
  StepResult train_step(const ObsBatch<float>& obs, const FlowTargets<float>& f, double state_weight,
                        const StepOptions& s);
  void reset_optimizer();
  int64_t optimizer_step() const { return adam_step_; }

  // The device weights, into a host buffer of num_params() floats.
  void download_params(float* host_params) const;

  // Device bytes held: weights and the cached workspaces.
  int64_t device_bytes() const;

 private:
  struct Workspace;
  struct PromptWorkspace;
  struct TrainWorkspace;
  TrainWorkspace& train_workspace(int64_t B);
  Workspace& workspace(int64_t B);
  PromptWorkspace& prompt_workspace(int64_t B);
  void upload_layout(const KeyLayout& keys, Seg s, SegmentActs<float>& sa, const SampleTokens& tokens, int64_t B);
  // Observation rows' embeddings into x0 (patches, text and position embeddings) from a batch
  // uploaded to the device (policy_device.cu's DeviceObservations).
  void embed_observations(int64_t B, const policy_detail::DeviceObservations& in, float* x0);

  const Policy<float>& host_;
  ModelConfig cfg_;
  ParamLayout layout_;
  DeviceBuffer params_;
  std::unique_ptr<Workspace> ws_;  // act's, for the last batch size
  std::unique_ptr<PromptWorkspace> pws_;  // prompt_step's, likewise
  std::unique_ptr<TrainWorkspace> tws_;   // train_step's, likewise
  // train_step's gradients and AdamW state (all parameters), made on the first step.
  DeviceBuffer grads_, adam_m_, adam_v_;
  int64_t adam_step_ = 0;
  // The prompt's AdamW state on the device, and the host staging of masks and positions.
  DeviceBuffer prompt_m_, prompt_v_;
  int64_t prompt_adam_step_ = 0;
  bool use_graphs_ = true;
  std::vector<uint8_t> mask_host_;
  std::vector<int32_t> pos_host_;
};

}  // namespace vla::VLA_CUDA_NS
