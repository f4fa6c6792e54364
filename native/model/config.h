// The policy's configuration: a Mixture-of-Transformers flow-matching policy with latent prompts
// (TTT-VLA), pi0 conventions (methods digest sections 1-2).
//
// Token layout per sample (the order of rows everywhere in the model):
//   prefix (backbone expert):  [ image patches (P) | instruction tokens (L) | prompt tokens (K) ]
//   suffix, action expert:     [ state token | H action tokens ]
//   suffix, state expert:      [ one noisy-state token ]
// Attention (rows attend columns):
//   observation rows (patches, instruction): observation columns only (padding columns masked);
//   prompt rows:       observations and prompts;
//   action-expert rows: observations, prompts (unless the prompt edge is dropped for the sample)
//                       and the whole action-expert block;
//   state-expert row:  observations, prompts and itself.
// Observation rows never see the prompt, so their activations do not depend on it.
//
// A progress critic (head = "progress", EVOLVE-VLA) is the same stack with only the observation
// segment: `frames` images per sample, then the instruction; no prompt, no action or state
// expert. Its head reads the mean of the image-patch rows of the last layer (policy.h).
#pragma once

#include <cstdint>
#include <string>

#include "io/json.h"

namespace vla {

struct ExpertDims {
  int64_t width = 0;    // residual stream width
  int64_t mlp_dim = 0;  // GeGLU hidden size F (the up projection has 2F outputs: [gate | up])
};

struct ModelConfig {
  std::string preset = "custom";
  // Observation encoding.
  int64_t image_size = 64;     // square RGB images, pixels
  int64_t patch_size = 8;      // non-overlapping patches -> (image_size / patch_size)^2 tokens
  int64_t max_text_len = 16;   // instruction tokens, padded/truncated
  int64_t vocab_size = 64;     // word-level vocabulary, ids 0 = <pad>, 1 = <unk>
  // Shared attention geometry (all experts).
  int64_t depth = 4;
  int64_t num_heads = 4;
  int64_t num_kv_heads = 2;
  int64_t head_dim = 32;
  // Experts.
  ExpertDims backbone{128, 512};
  ExpertDims action{128, 512};
  ExpertDims state{128, 512};
  // Latent prompts: K tokens of backbone width per embodiment (hard router by embodiment id).
  int64_t num_prompt_tokens = 8;
  int64_t num_embodiments = 4;
  bool use_prompt = true;        // false: the baseline policy without prompt tokens
  bool use_state_expert = true;  // false: no state-grounding expert (baseline)
  // false: the action expert's state token gets no robot state (only its bias), so the policy must
  // localize the gripper from the image and the prompt, which the state expert grounds.
  bool action_sees_state = true;
  // true: observation rows also attend the prompt (a prefix-tuning lever on perception). Their
  // activations then depend on the prompt: no cached observation encodings, and the prompt's
  // gradient runs back through the observation rows. Default false (the rows never see it).
  bool obs_attends_prompt = false;
  // Flow matching.
  int64_t horizon = 8;      // H action steps per chunk
  int64_t action_dim = 7;   // delta xyz, delta roll/pitch/yaw, gripper
  int64_t state_dim = 4;    // end-effector xyz, gripper opening
  double time_min_period = 4e-3;
  double time_max_period = 4.0;
  int64_t sample_steps = 10;  // Euler steps from t=1 to t=0
  // Numerics.
  double rope_theta = 10000.0;
  double rms_eps = 1e-6;
  // Images per observation, [B, frames, S, S, 3] (a critic compares two frames). The position
  // embedding covers every frame's patches, so it also tells the frames apart (the frame embedding).
  int64_t frames = 1;
  // "policy" (flow-matching action head) or "progress" (the pairwise progress critic's head).
  std::string head = "policy";

  bool is_progress() const { return head == "progress"; }
  int64_t patches_per_frame() const { return (image_size / patch_size) * (image_size / patch_size); }
  int64_t num_patches() const { return frames * patches_per_frame(); }
  int64_t patch_dim() const { return patch_size * patch_size * 3; }
  int64_t prompt_len() const { return use_prompt ? num_prompt_tokens : 0; }
  int64_t obs_len() const { return num_patches() + max_text_len; }
  int64_t prefix_len() const { return obs_len() + prompt_len(); }
  int64_t action_len() const { return 1 + horizon; }
  int64_t state_len() const { return use_state_expert ? 1 : 0; }
  int64_t q_dim() const { return num_heads * head_dim; }
  int64_t kv_dim() const { return num_kv_heads * head_dim; }

  // Checks every field; fails with ErrorCode::kValue naming the field and the constraint.
  void validate() const;

  JsonValue to_json() const;
  // Reads a config written by to_json(); unknown keys are rejected (a typo must not pass silently).
  static ModelConfig from_json(const JsonValue& v, const std::string& what);
  // tiny (tests), small (CPU default), base, pi0 (pi0-scale shapes for GPU benchmarks); the
  // progress critics critic-tiny (tests) and critic-small.
  static ModelConfig preset_named(const std::string& name, int64_t vocab_size);
};

}  // namespace vla
