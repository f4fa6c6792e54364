// The policy's parameters: every tensor's name, shape and group, laid out in ONE flat buffer
// (so AdamW updates all of them in one call, and a trainable mask is one byte per element).
// Gradients and optimizer moments use the same layout. Names are the checkpoint's tensor names
// (docs/weights.md documents them for PyTorch users).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "model/config.h"

namespace vla {

// Which part of the model a parameter belongs to; training chooses groups to update.
enum class ParamGroup : int {
  kEmbed = 0,     // patch/position/text embeddings (observation encoding, backbone side)
  kPrompt = 1,    // the latent prompt blocks [num_embodiments, K, width]
  kBackbone = 2,  // backbone expert layers
  kAction = 3,    // action expert layers and action head
  kState = 4,     // state-grounding expert layers and state head
  kProgress = 5,  // the progress critic's head (final norm and output projection)
};
const char* param_group_name(ParamGroup g);

struct ParamInfo {
  std::string name;
  Shape shape;
  ParamGroup group;
  int64_t offset = 0;  // in floats, into the flat buffer
  // Initialization: normal with this std (0 with std 0; `fill` when is_constant).
  double init_std = 0;
  bool is_constant = false;
  double fill = 0;
};

// Pointers into a flat buffer (parameters, or gradients in the same layout) for one expert's layer.
template <typename T>
struct ExpertLayerView {
  T* attn_norm = nullptr;  // [w]
  T* q = nullptr;          // [q_dim, w]
  T* k = nullptr;          // [kv_dim, w]
  T* v = nullptr;          // [kv_dim, w]
  T* o = nullptr;          // [w, q_dim]
  T* mlp_norm = nullptr;   // [w]
  T* up = nullptr;         // [2 * mlp_dim, w]  (rows [0, F) gate, [F, 2F) up)
  T* down = nullptr;       // [w, mlp_dim]
};

// Flow head of an expert (action or state): input projection, time MLP, output projection.
template <typename T>
struct FlowHeadView {
  T* cond_w = nullptr;      // action expert only: state_proj [w, state_dim]
  T* cond_b = nullptr;      // [w]
  T* in_w = nullptr;        // [w, x_dim] projects the noisy x_t
  T* in_b = nullptr;        // [w]
  T* time_in_w = nullptr;   // [w, 2w]  on [projected x_t | time features]
  T* time_in_b = nullptr;   // [w]
  T* time_out_w = nullptr;  // [w, w]
  T* time_out_b = nullptr;  // [w]
  T* final_norm = nullptr;  // [w]
  T* out_w = nullptr;       // [x_dim, w]
  T* out_b = nullptr;       // [x_dim]
};

template <typename T>
struct ParamsView {
  T* patch_w = nullptr;  // [wb, patch_dim]
  T* patch_b = nullptr;  // [wb]
  T* pos = nullptr;      // [num_patches, wb]
  T* text = nullptr;     // [vocab, wb]
  T* prompt = nullptr;   // [num_embodiments, K, wb]  (null without prompt)
  // One per layer, indexed by Expert (backbone, action, state); state is empty without it.
  std::vector<ExpertLayerView<T>> layers[3];
  FlowHeadView<T> action_head, state_head;
  // Progress critic (head 'progress'; null otherwise): z = out . rmsnorm(pooled) * norm + bias.
  T* progress_norm = nullptr;   // [wb]
  T* progress_out_w = nullptr;  // [1, wb]
  T* progress_out_b = nullptr;  // [1]
};

class ParamLayout {
 public:
  explicit ParamLayout(const ModelConfig& cfg);

  const std::vector<ParamInfo>& params() const { return params_; }
  int64_t total() const { return total_; }
  const ParamInfo* find(const std::string& name) const;
  // Pointers to every parameter inside `base` (a buffer of total() elements).
  template <typename T>
  ParamsView<T> view(T* base) const;
  // Seeded initialization of a buffer of total() elements.
  template <typename T>
  void initialize(T* base, uint64_t seed) const;
  // A 0/1 mask over the flat buffer: 1 for elements of the given groups.
  std::vector<uint8_t> mask_for(const std::vector<ParamGroup>& groups) const;
  // The [begin, end) ranges of the flat buffer holding the given groups, merged where adjacent.
  std::vector<std::pair<int64_t, int64_t>> ranges_for(const std::vector<ParamGroup>& groups) const;
  // [begin, end) float range of one group's parameters, when they are contiguous (they are, by
  // construction, for kPrompt); fails otherwise.
  std::pair<int64_t, int64_t> range_of(ParamGroup g) const;

 private:
  void add(const std::string& name, Shape shape, ParamGroup group, double std, bool constant = false, double fill = 0);

  ModelConfig cfg_;
  std::vector<ParamInfo> params_;
  int64_t total_ = 0;
};

}  // namespace vla
