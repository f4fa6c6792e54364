// The flow-matching policy with latent prompts (TTT-VLA), on the Mixture-of-Transformers stack.
// T is float (production) or double (the float64 reference that gradient checks use).
//
// Flow matching (openpi): time t = 1 is noise, t = 0 data; x_t = t eps + (1 - t) a; the experts
// predict the field v(x_t, t) with target u = eps - a. Acting integrates dx/dt = v from t = 1 to
// 0 with Euler steps dt = -1/steps, encoding the prefix once (KV cache) and re-running only the
// action expert's tokens at each step.
//
// A model with head 'progress' (config.h) is a pairwise progress critic (EVOLVE-VLA) on the same
// core: progress() / progress_loss_and_grads() / progress_step() are its calls, and the policy's
// calls (act, predict, encode_observations, loss_and_grads, step) fail on it, and vice versa.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/arena.h"
#include "model/config.h"
#include "model/layout.h"
#include "model/mot.h"
#include "model/params.h"
#include "ops/adamw.h"

namespace vla {

// A batch of observations.
//
// `encodings` (optional) are the observation rows' keys and values at every layer,
// [B, depth, 2 (k, v), obs_len, kv_dim], as encode_observations() or act() produce them. Those rows
// never see the prompt, so the encodings stay valid while the prompt trains: with them a prompt
// step skips the observation forward pass entirely (and `images` may be null).
template <typename T>
struct ObsBatch {
  int64_t B = 0;
  const uint8_t* images = nullptr;      // [B, frames, S, S, 3] RGB, row 0 at the top
  // state and embodiment are the policy's; a progress critic reads neither (they may be null).
  const int32_t* text = nullptr;        // [B, L] instruction token ids, 0 = <pad>
  const T* state = nullptr;             // [B, state_dim] end-effector xyz, gripper opening
  const int32_t* embodiment = nullptr;  // [B] prompt block for each sample, in [0, num_embodiments)
  const T* encodings = nullptr;         // [B, encoding_size()] or null
};

// Flow-matching targets and draws for the losses. Arrays may be null for a loss that is off.
template <typename T>
struct FlowTargets {
  const T* actions = nullptr;         // [B, H, A] ground-truth action chunks
  const T* action_noise = nullptr;    // [B, H, A] eps
  const T* action_time = nullptr;     // [B] t in (0, 1]
  const T* action_weights = nullptr;  // [B] per-sample weights of the action loss (null: all 1)
  const T* state_noise = nullptr;     // [B, state_dim]
  const T* state_time = nullptr;      // [B]
  const uint8_t* drop_prompt = nullptr;  // [B] 1: the action rows do not see the prompt
};

struct LossOptions {
  bool action_loss = true;
  bool state_loss = true;
  double state_weight = 1.0;  // lambda in L = L_action + lambda L_state
  GradientRouting routing;
  // Parameter groups that receive gradients (others are not computed where avoidable).
  std::vector<ParamGroup> grad_groups;
};

struct LossResult {
  double total = 0, action = 0, state = 0;
  std::vector<double> action_per_sample, state_per_sample;  // unweighted per-sample losses
  // Progress critic: the weighted loss (also `total`) and the unweighted per-sample losses
  // ((c_b - y_b) / 100)^2.
  double progress = 0;
  std::vector<double> progress_per_sample;
};

struct StepOptions {
  AdamWHyper adam;
  double max_grad_norm = 0;  // > 0: clip the gradient's global norm (over the trained groups)
};

struct StepResult {
  LossResult loss;
  double grad_norm = 0;  // before clipping
  bool clipped = false;
};

template <typename T>
class Policy {
 public:
  // A policy with seeded random weights.
  Policy(const ModelConfig& cfg, uint64_t seed);
  // A policy with the given weights (a buffer of layout().total() elements).
  Policy(const ModelConfig& cfg, const T* weights);
  ~Policy();
  Policy(const Policy&) = delete;
  Policy& operator=(const Policy&) = delete;

  const ModelConfig& config() const { return cfg_; }
  const ParamLayout& layout() const { return layout_; }
  // Mutable access counts as a change: act's packed weights are redone before their next use.
  T* params() {
    ++weights_version_;
    return params_.data();
  }
  const T* params() const { return params_.data(); }
  // Bumped by every parameter change (mutable params(), AdamW steps): a device copy of the
  // weights is stale when the version it was made from differs.
  int64_t weights_version() const { return weights_version_; }
  T* grads() { return grads_.data(); }
  int64_t num_params() const { return layout_.total(); }
  ParamsView<T> param_view() { return layout_.view(params_.data()); }

  // Checks a batch (sizes, ids, embodiment ids, finite state); fails with kValue/kArgument naming
  // the field and the sample. A progress critic needs images and text only.
  void validate(const ObsBatch<T>& obs) const;

  // Samples action chunks: out [B, H, A]. `noise` [B, H, A] is the starting x_1 (null: drawn from
  // Philox(seed)). `drop_prompt` (null: none) hides the prompt from the action rows.
  // `encodings_out` [B, encoding_size()] (optional) receives the observation encodings the
  // prefix pass computed anyway (for a test-time training buffer).
  void act(const ObsBatch<T>& obs, const T* noise, uint64_t seed, T* out, const uint8_t* drop_prompt = nullptr,
           T* encodings_out = nullptr);

  // Elements per sample of an observation encoding: depth * 2 * obs_len * kv_dim.
  int64_t encoding_size() const { return cfg_.depth * 2 * cfg_.obs_len() * cfg_.kv_dim(); }
  // The observation rows' keys and values at every layer: out [B, encoding_size()].
  void encode_observations(const ObsBatch<T>& obs, T* out);

  // Losses and, when `grads` is true, their gradients (routed, see layout.h) ACCUMULATED into
  // grads() for the requested groups. Deterministic given the inputs. `action_field_out`
  // [B, H, A] (optional) receives the predicted field v(x_t, t) of the action expert.
  LossResult loss_and_grads(const ObsBatch<T>& obs, const FlowTargets<T>& f, const LossOptions& o, bool grads,
                            T* action_field_out = nullptr);

  // The action expert's field v(x_t, t) [B, H, A] by one full pass (no KV cache): the reference
  // that act()'s cached sampling is checked against.
  void predict(const ObsBatch<T>& obs, const T* x_t, const T* t, const uint8_t* drop_prompt, T* out);

  // Zeroes grads(), computes loss_and_grads, then one AdamW step on the requested groups (and,
  // when `prompt_only_embodiments`, only the prompt blocks of embodiments present in the batch).
  // Non-finite gradients fail with kValue before any parameter changes.
  StepResult step(const ObsBatch<T>& obs, const FlowTargets<T>& f, const LossOptions& o, const StepOptions& s,
                  bool prompt_only_embodiments = false);

  // ---- the progress critic (head 'progress') ----
  //
  // c_b = 100 tanh(z_b), z_b = out_w . rmsnorm(mean of the frames * P image-patch rows of
  // x[depth]) * final_norm + out_b: how far frame B (the later) advanced the task over frame A,
  // in [-100, 100]. The observation rows attend each other only (text padding masked).

  // out [B] = c.
  void progress(const ObsBatch<T>& obs, T* out);
  // loss = sum_b w_b ((c_b - y_b) / 100)^2 / sum_b w_b with targets y [B] in [-100, 100] and
  // weights w [B] (finite, >= 0, not all 0; null: all 1). With `grads`, the gradients of every
  // critic group (embed, backbone, progress) ACCUMULATE into grads(). `values_out` [B]
  // (optional) receives c.
  LossResult progress_loss_and_grads(const ObsBatch<T>& obs, const T* targets, const T* weights, bool grads,
                                     T* values_out = nullptr);
  // Zeroes grads(), progress_loss_and_grads, clips by global norm (s.max_grad_norm > 0), then one
  // AdamW step on every parameter. A non-finite gradient fails with kValue before any change.
  StepResult progress_step(const ObsBatch<T>& obs, const T* targets, const T* weights, const StepOptions& s);

  void zero_grads();
  // Forgets AdamW's moments and step count (a new adaptation run starts fresh).
  void reset_optimizer();
  int64_t optimizer_step() const { return adam_step_; }
  // AdamW's moments (same layout as the parameters) and step count, for resumable training.
  const T* adam_m() const { return adam_m_.data(); }
  const T* adam_v() const { return adam_v_.data(); }
  void set_optimizer_state(const T* m, const T* v, int64_t step);

  // Bytes this policy holds natively: parameters, gradients, AdamW moments and the cached
  // workspaces (activation arenas, at most a few batch sizes). Reported to the JS engine.
  int64_t native_bytes() const;

 private:
  struct Workspace;
  Workspace& workspace(const std::string& key, int64_t B, const std::vector<Seg>& layout,
                       const std::vector<std::pair<Seg, bool>>& pass1, const std::vector<std::pair<Seg, bool>>& pass2);

  // Fails with kArgument when the method belongs to the other head ('policy' or 'progress').
  void require_head(bool progress, const char* what) const;
  // The observation segment's forward for the critic (save: keep activations for a backward).
  struct ProgressActs;
  void progress_forward(const ObsBatch<T>& obs, bool save, ProgressActs& acts);
  // The shared end of step() and progress_step(): finite check, global norm and clipping, AdamW
  // over `ranges` (prompt_mask: 1 per element of the prompt tensor at prompt_begin to update).
  void clip_and_update(const std::vector<std::pair<int64_t, int64_t>>& ranges, const StepOptions& s,
                       int64_t prompt_begin, const std::vector<uint8_t>& prompt_mask, const char* what, StepResult& r);

  ModelConfig cfg_;
  ParamLayout layout_;
  std::vector<T> params_, grads_, adam_m_, adam_v_;
  int64_t adam_step_ = 0;
  // act()'s packed projection weights (float), by expert, valid while packed_version_ equals
  // weights_version_ (bumped by every parameter change: AdamW steps and mutable params()).
  std::vector<PackedExpertLayer> packed_[3];
  int64_t weights_version_ = 0, packed_version_ = -1;
  std::vector<std::pair<std::string, std::unique_ptr<Workspace>>> workspaces_;
};

}  // namespace vla
