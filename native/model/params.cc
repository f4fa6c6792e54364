#include "model/params.h"

#include <cmath>

#include "core/error.h"
#include "core/random.h"

namespace vla {

const char* param_group_name(ParamGroup g) {
  switch (g) {
    case ParamGroup::kEmbed: return "embed";
    case ParamGroup::kPrompt: return "prompt";
    case ParamGroup::kBackbone: return "backbone";
    case ParamGroup::kAction: return "action";
    case ParamGroup::kState: return "state";
    case ParamGroup::kProgress: return "progress";
  }
  return "?";
}

void ParamLayout::add(const std::string& name, Shape shape, ParamGroup group, double std, bool constant, double fill) {
  ParamInfo p;
  p.name = name;
  p.shape = shape;
  p.group = group;
  p.offset = total_;
  p.init_std = std;
  p.is_constant = constant;
  p.fill = fill;
  // Keep every tensor 16-float aligned (64 bytes) inside the flat buffer for vector loads.
  total_ += (shape.numel() + 15) / 16 * 16;
  params_.push_back(std::move(p));
}

ParamLayout::ParamLayout(const ModelConfig& cfg) : cfg_(cfg) {
  cfg.validate();
  const int64_t wb = cfg.backbone.width;
  auto lin_std = [](int64_t fan_in) { return 1.0 / std::sqrt(static_cast<double>(fan_in)); };
  // Residual-branch outputs are scaled down with depth so the stream's variance stays bounded.
  const double resid_scale = 1.0 / std::sqrt(2.0 * static_cast<double>(cfg.depth));

  add("embed.patch.weight", Shape{wb, cfg.patch_dim()}, ParamGroup::kEmbed, lin_std(cfg.patch_dim()));
  add("embed.patch.bias", Shape{wb}, ParamGroup::kEmbed, 0, true, 0);
  // One row per patch of every frame: the frames are told apart by their position rows.
  add("embed.pos", Shape{cfg.num_patches(), wb}, ParamGroup::kEmbed, 0.02);
  add("embed.text", Shape{cfg.vocab_size, wb}, ParamGroup::kEmbed, 1.0);
  if (cfg.use_prompt) add("prompt", Shape{cfg.num_embodiments, cfg.num_prompt_tokens, wb}, ParamGroup::kPrompt, 1.0);

  struct E {
    const char* name;
    ExpertDims dims;
    ParamGroup group;
    bool present;
  };
  const bool policy = !cfg.is_progress();
  const E experts[] = {{"backbone", cfg.backbone, ParamGroup::kBackbone, true},
                       {"action", cfg.action, ParamGroup::kAction, policy},
                       {"state", cfg.state, ParamGroup::kState, cfg.use_state_expert}};
  for (int64_t l = 0; l < cfg.depth; ++l) {
    for (const E& e : experts) {
      if (!e.present) continue;
      const std::string p = "layers." + std::to_string(l) + "." + e.name + ".";
      const int64_t w = e.dims.width, F = e.dims.mlp_dim;
      add(p + "attn_norm.weight", Shape{w}, e.group, 0, true, 1.0);
      add(p + "q.weight", Shape{cfg.q_dim(), w}, e.group, lin_std(w));
      add(p + "k.weight", Shape{cfg.kv_dim(), w}, e.group, lin_std(w));
      add(p + "v.weight", Shape{cfg.kv_dim(), w}, e.group, lin_std(w));
      add(p + "o.weight", Shape{w, cfg.q_dim()}, e.group, lin_std(cfg.q_dim()) * resid_scale);
      add(p + "mlp_norm.weight", Shape{w}, e.group, 0, true, 1.0);
      add(p + "mlp.up.weight", Shape{2 * F, w}, e.group, lin_std(w));
      add(p + "mlp.down.weight", Shape{w, F}, e.group, lin_std(F) * resid_scale);
    }
  }
  auto head = [&](const std::string& p, int64_t w, int64_t x_dim, bool with_cond, ParamGroup g) {
    if (with_cond) {
      add(p + "state_proj.weight", Shape{w, cfg.state_dim}, g, lin_std(cfg.state_dim));
      add(p + "state_proj.bias", Shape{w}, g, 0, true, 0);
    }
    add(p + "in_proj.weight", Shape{w, x_dim}, g, lin_std(x_dim));
    add(p + "in_proj.bias", Shape{w}, g, 0, true, 0);
    add(p + "time_mlp_in.weight", Shape{w, 2 * w}, g, lin_std(2 * w));
    add(p + "time_mlp_in.bias", Shape{w}, g, 0, true, 0);
    add(p + "time_mlp_out.weight", Shape{w, w}, g, lin_std(w));
    add(p + "time_mlp_out.bias", Shape{w}, g, 0, true, 0);
    add(p + "final_norm.weight", Shape{w}, g, 0, true, 1.0);
    add(p + "out_proj.weight", Shape{x_dim, w}, g, lin_std(w));
    add(p + "out_proj.bias", Shape{x_dim}, g, 0, true, 0);
  };
  if (policy) {
    head("action.", cfg.action.width, cfg.action_dim, true, ParamGroup::kAction);
    if (cfg.use_state_expert) head("state.", cfg.state.width, cfg.state_dim, false, ParamGroup::kState);
  } else {
    add("progress.final_norm.weight", Shape{wb}, ParamGroup::kProgress, 0, true, 1.0);
    add("progress.out.weight", Shape{1, wb}, ParamGroup::kProgress, lin_std(wb));
    add("progress.out.bias", Shape{1}, ParamGroup::kProgress, 0, true, 0);
  }
}

const ParamInfo* ParamLayout::find(const std::string& name) const {
  for (const auto& p : params_)
    if (p.name == name) return &p;
  return nullptr;
}

template <typename T>
ParamsView<T> ParamLayout::view(T* base) const {
  ParamsView<T> v;
  auto at = [&](const std::string& name) -> T* {
    const ParamInfo* p = find(name);
    if (!p) fail(ErrorCode::kInternal, "parameter '", name, "' is not in the layout");
    return base + p->offset;
  };
  auto maybe = [&](const std::string& name) -> T* {
    const ParamInfo* p = find(name);
    return p ? base + p->offset : nullptr;
  };
  v.patch_w = at("embed.patch.weight");
  v.patch_b = at("embed.patch.bias");
  v.pos = at("embed.pos");
  v.text = at("embed.text");
  v.prompt = maybe("prompt");
  for (int64_t l = 0; l < cfg_.depth; ++l) {
    const char* names[3] = {"backbone", "action", "state"};
    for (int e = 0; e < 3; ++e) {
      const std::string p = "layers." + std::to_string(l) + "." + names[e] + ".";
      if (!find(p + "q.weight")) continue;
      ExpertLayerView<T> x{at(p + "attn_norm.weight"), at(p + "q.weight"),     at(p + "k.weight"),
                           at(p + "v.weight"),         at(p + "o.weight"),     at(p + "mlp_norm.weight"),
                           at(p + "mlp.up.weight"),    at(p + "mlp.down.weight")};
      v.layers[e].push_back(x);
    }
  }
  auto head = [&](const std::string& p, FlowHeadView<T>* h) {
    h->cond_w = maybe(p + "state_proj.weight");
    h->cond_b = maybe(p + "state_proj.bias");
    h->in_w = at(p + "in_proj.weight");
    h->in_b = at(p + "in_proj.bias");
    h->time_in_w = at(p + "time_mlp_in.weight");
    h->time_in_b = at(p + "time_mlp_in.bias");
    h->time_out_w = at(p + "time_mlp_out.weight");
    h->time_out_b = at(p + "time_mlp_out.bias");
    h->final_norm = at(p + "final_norm.weight");
    h->out_w = at(p + "out_proj.weight");
    h->out_b = at(p + "out_proj.bias");
  };
  if (cfg_.is_progress()) {
    v.progress_norm = at("progress.final_norm.weight");
    v.progress_out_w = at("progress.out.weight");
    v.progress_out_b = at("progress.out.bias");
  } else {
    head("action.", &v.action_head);
    if (cfg_.use_state_expert) head("state.", &v.state_head);
  }
  return v;
}

template <typename T>
void ParamLayout::initialize(T* base, uint64_t seed) const {
  for (size_t i = 0; i < params_.size(); ++i) {
    const ParamInfo& p = params_[i];
    T* dst = base + p.offset;
    int64_t n = p.shape.numel();
    if (p.is_constant) {
      for (int64_t j = 0; j < n; ++j) dst[j] = static_cast<T>(p.fill);
    } else {
      // One Philox stream per parameter (by index): adding a parameter later does not change
      // the others' initial values for the same seed.
      Rng rng(seed, 0x5EED0000u + i);
      for (int64_t j = 0; j < n; ++j) dst[j] = static_cast<T>(p.init_std * rng.normal_at(static_cast<uint64_t>(j)));
    }
  }
}

template ParamsView<float> ParamLayout::view<float>(float*) const;
template ParamsView<double> ParamLayout::view<double>(double*) const;
template void ParamLayout::initialize<float>(float*, uint64_t) const;
template void ParamLayout::initialize<double>(double*, uint64_t) const;

std::vector<uint8_t> ParamLayout::mask_for(const std::vector<ParamGroup>& groups) const {
  std::vector<uint8_t> mask(static_cast<size_t>(total_), 0);
  for (const auto& p : params_) {
    bool on = false;
    for (ParamGroup g : groups) on = on || g == p.group;
    if (!on) continue;
    for (int64_t j = 0; j < p.shape.numel(); ++j) mask[static_cast<size_t>(p.offset + j)] = 1;
  }
  return mask;
}

std::vector<std::pair<int64_t, int64_t>> ParamLayout::ranges_for(const std::vector<ParamGroup>& groups) const {
  std::vector<std::pair<int64_t, int64_t>> out;
  for (const auto& p : params_) {
    bool on = false;
    for (ParamGroup g : groups) on = on || g == p.group;
    if (!on) continue;
    const int64_t begin = p.offset, end = p.offset + (p.shape.numel() + 15) / 16 * 16;
    if (!out.empty() && out.back().second == begin) out.back().second = end;
    else out.emplace_back(begin, end);
  }
  return out;
}

std::pair<int64_t, int64_t> ParamLayout::range_of(ParamGroup g) const {
  int64_t begin = -1, end = -1;
  for (const auto& p : params_) {
    if (p.group != g) continue;
    if (begin < 0) begin = p.offset;
    else if (p.offset != end) fail(ErrorCode::kInternal, "parameters of group ", param_group_name(g), " are not contiguous");
    end = p.offset + (p.shape.numel() + 15) / 16 * 16;
  }
  if (begin < 0) fail(ErrorCode::kArgument, "this model has no parameters in group '", param_group_name(g), "'");
  return {begin, end};
}

}  // namespace vla
