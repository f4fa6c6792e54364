#include "cuda/policy_device.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "core/random.h"
#include "cuda/activations_cuda.h"
#include "cuda/cuda_check.h"
#include "cuda/dialect.h"
#include "cuda/embedding_cuda.h"
#include "cuda/adamw_cuda.h"
#include "cuda/linear_cuda.h"
#include "cuda/losses_cuda.h"
#include "cuda/mot_cuda.h"
#include "cuda/policy_kernels_cuda.h"
#include "cuda/reduce_cuda.h"
#include "cuda/rmsnorm_cuda.h"
#include "cuda/rows_cuda.h"
#include "model/layout.h"

namespace vla::VLA_CUDA_NS {

namespace policy_detail {

template <typename T>
T* carve(Arena& a, int64_t n, const char* what) {
  return static_cast<T*>(a.alloc_bytes(n * static_cast<int64_t>(sizeof(T)), what));
}

// A flow head's activations (policy.cc's FlowHeadActs), forward only.
struct DeviceHead {
  int64_t rows = 0, w = 0, x_dim = 0;
  float *x_t = nullptr, *proj = nullptr, *cat = nullptr, *u = nullptr, *su = nullptr, *emb = nullptr;
  float *fin = nullptr, *fin_norm = nullptr, *fin_rstd = nullptr, *v = nullptr;

  void carve_from(Arena& a, int64_t r, int64_t width, int64_t xd) {
    rows = r;
    w = width;
    x_dim = xd;
    x_t = carve<float>(a, rows * x_dim, "x_t");
    proj = carve<float>(a, rows * w, "proj");
    cat = carve<float>(a, rows * 2 * w, "cat");
    u = carve<float>(a, rows * w, "u");
    su = carve<float>(a, rows * w, "su");
    emb = carve<float>(a, rows * w, "emb");
    fin = carve<float>(a, rows * w, "fin");
    fin_norm = carve<float>(a, rows * w, "fin_norm");
    fin_rstd = carve<float>(a, rows, "fin_rstd");
    v = carve<float>(a, rows * x_dim, "v");
  }
};

// A batch's observation inputs on the device and the embedding's intermediate rows.
struct DeviceObservations {
  uint8_t* images = nullptr;      // [B, frames, S, S, 3]
  int32_t* text = nullptr;        // [B, L]
  int32_t* embodiment = nullptr;  // [B]
  float* state = nullptr;         // [B, state_dim]
  float *patches = nullptr, *patch_rows = nullptr, *text_rows = nullptr;

  void carve_from(Arena& a, const ModelConfig& c, int64_t B) {
    const int64_t P = c.num_patches(), wb = c.backbone.width;
    images = carve<uint8_t>(a, B * c.frames * c.image_size * c.image_size * 3, "images");
    text = carve<int32_t>(a, B * c.max_text_len, "text");
    embodiment = carve<int32_t>(a, B, "embodiment");
    state = carve<float>(a, B * c.state_dim, "state");
    patches = carve<float>(a, B * P * c.patch_dim(), "patches");
    patch_rows = carve<float>(a, B * P * wb, "patch_rows");
    text_rows = carve<float>(a, B * c.max_text_len * wb, "text_rows");
  }

  void upload(const ObsBatch<float>& o, const ModelConfig& c) {
    const int64_t B = o.B;
    copy_to_device(images, o.images, static_cast<size_t>(B * c.frames * c.image_size * c.image_size * 3));
    copy_to_device(text, o.text, static_cast<size_t>(B * c.max_text_len) * sizeof(int32_t));
    copy_to_device(embodiment, o.embodiment, static_cast<size_t>(B) * sizeof(int32_t));
    copy_to_device(state, o.state, static_cast<size_t>(B * c.state_dim) * sizeof(float));
  }
};

// Carves a workspace's buffers from one device allocation, sized by a planning pass.
template <typename W>
void place(W& ws, const ModelConfig& c) {
  Arena plan = Arena::planning();
  ws.carve_all(plan, c);
  ws.memory = DeviceBuffer(static_cast<size_t>(plan.used()));
  ws.arena = Arena::over(ws.memory.data(), plan.used());
  ws.carve_all(ws.arena, c);
}

// The backward's scratch arena of a workspace, sized for its active segments.
template <typename W>
void place_scratch(W& ws, const ModelConfig& c, const std::vector<SegmentActs<float>*>& active) {
  Arena plan = Arena::planning();
  BackwardScratch<float> sizes;
  allocate_backward_scratch(plan, c, ws.B, ws.keys.total(), active, &sizes);
  ws.scratch_memory = DeviceBuffer(static_cast<size_t>(plan.used()));
  ws.scratch = Arena::over(ws.scratch_memory.data(), plan.used());
}

// emb = time_mlp_out(swish(time_mlp_in([in_proj(x_t) | features(t)]))); t [B] on the device.
void head_input_forward(const ModelConfig& c, const FlowHeadView<float>& p, DeviceHead& h, const float* t,
                        int64_t per_sample) {
  linear_forward(h.x_t, p.in_w, p.in_b, h.proj, h.rows, h.x_dim, h.w);
  time_feature_rows(h.proj, t, per_sample, h.cat, h.rows, h.w, c.time_min_period, c.time_max_period);
  linear_forward(h.cat, p.time_in_w, p.time_in_b, h.u, h.rows, 2 * h.w, h.w);
  silu_forward(h.u, h.su, h.rows * h.w);
  linear_forward(h.su, p.time_out_w, p.time_out_b, h.emb, h.rows, h.w, h.w);
}

// v = out_proj(final_norm(fin)).
void head_output_forward(const ModelConfig& c, const FlowHeadView<float>& p, DeviceHead& h) {
  rmsnorm_forward(h.fin, p.final_norm, static_cast<float>(c.rms_eps), h.fin_norm, h.fin_rstd, h.rows, h.w);
  linear_forward(h.fin_norm, p.out_w, p.out_b, h.v, h.rows, h.w, h.x_dim);
}

// Zeroes n floats of device memory (asynchronously, on this thread's stream).
void zero(float* p, int64_t n) {
  if (n > 0) VLA_CUDA_CHECK(cudaMemsetAsync(p, 0, static_cast<size_t>(n) * sizeof(float)));
}

// The gradient buffers of a head's backward.
struct HeadGrads {
  float *dv = nullptr, *dnorm = nullptr, *dfin = nullptr, *dw_unused = nullptr;
  float *dsu = nullptr, *du = nullptr, *dcat = nullptr, *dproj = nullptr;
  void carve_from(Arena& a, int64_t rows, int64_t w, int64_t x_dim) {
    dv = carve<float>(a, rows * x_dim, "dv");
    dnorm = carve<float>(a, rows * w, "dnorm");
    dfin = carve<float>(a, rows * w, "dfin");
    dw_unused = carve<float>(a, w, "dw_unused");
    dsu = carve<float>(a, rows * w, "dsu");
    du = carve<float>(a, rows * w, "du");
    dcat = carve<float>(a, rows * 2 * w, "dcat");
    dproj = carve<float>(a, rows * w, "dproj");
  }
};

// dv -> d(fin) (written into d.dfin), weight gradients into g (null: none): policy.cc's
// head_output_backward.
void head_output_backward(const FlowHeadView<float>& p, const FlowHeadView<float>* g, DeviceHead& h, const float* dv,
                          HeadGrads& d) {
  const int64_t w = h.w, rows = h.rows;
  zero(d.dnorm, rows * w);
  linear_backward(dv, h.fin_norm, p.out_w, d.dnorm, g ? g->out_w : nullptr, g ? g->out_b : nullptr, rows, w, h.x_dim);
  zero(d.dfin, rows * w);
  zero(d.dw_unused, w);
  rmsnorm_backward(d.dnorm, h.fin, p.final_norm, h.fin_rstd, d.dfin, g ? g->final_norm : d.dw_unused, rows, w);
}

// demb -> the head's input weights' gradients (policy.cc's head_input_backward).
void head_input_backward(const FlowHeadView<float>& p, const FlowHeadView<float>& g, DeviceHead& h, const float* demb,
                         HeadGrads& d) {
  const int64_t w = h.w, rows = h.rows;
  zero(d.dsu, rows * w);
  linear_backward(demb, h.su, p.time_out_w, d.dsu, g.time_out_w, g.time_out_b, rows, w, w);
  zero(d.du, rows * w);
  silu_backward(d.dsu, h.u, d.du, rows * w);
  zero(d.dcat, rows * 2 * w);
  linear_backward(d.du, h.cat, p.time_in_w, d.dcat, g.time_in_w, g.time_in_b, rows, 2 * w, w);
  split_time_feature_rows(d.dcat, d.dproj, rows, w);
  linear_backward(d.dproj, h.x_t, p.in_w, nullptr, g.in_w, g.in_b, rows, h.x_dim, w);
}

}  // namespace policy_detail

using policy_detail::carve;
using policy_detail::DeviceHead;
using policy_detail::HeadGrads;
using policy_detail::zero;
using policy_detail::DeviceObservations;
using policy_detail::place;
using policy_detail::place_scratch;

struct DevicePolicy::Workspace {
  int64_t B = 0;
  KeyLayout keys;
  DeviceBuffer memory;
  Arena arena;
  KvCache<float> kv;
  SegmentActs<float> obs, prompt, action;
  DeviceHead head;
  DeviceObservations in;
  float* cond = nullptr;
  float* times = nullptr;  // [steps, B]: t of each Euler step for every sample
#if !defined(VLA_CUDA_EMULATION)
  cudaGraphExec_t steps_graph = nullptr;  // the denoising loop, captured for this workspace's buffers
#endif

  Workspace(const ModelConfig& c, int64_t batch, std::vector<Seg> layout)
      : B(batch), keys(c, std::move(layout)), arena(Arena::planning()) {}
  ~Workspace() { drop_graph(); }
  void drop_graph() {
#if !defined(VLA_CUDA_EMULATION)
    if (steps_graph) cudaGraphExecDestroy(steps_graph);
    steps_graph = nullptr;
#endif
  }

  void carve_all(Arena& a, const ModelConfig& c) {
    const int64_t Tk = keys.total();
    allocate_kv(a, c, B, Tk, &kv);
    allocate_segment(a, c, B, Tk, Seg::kObs, false, false, &obs);
    if (c.use_prompt) allocate_segment(a, c, B, Tk, Seg::kPrompt, false, false, &prompt);
    allocate_segment(a, c, B, Tk, Seg::kAction, false, true, &action);
    head.carve_from(a, B * c.horizon, c.action.width, c.action_dim);
    in.carve_from(a, c, B);
    cond = carve<float>(a, B * c.action.width, "cond");
    times = carve<float>(a, c.sample_steps * B, "times");
  }
};

// prompt_step's buffers: observation rows without a backward, prompt and state rows saved.
struct DevicePolicy::PromptWorkspace {
  int64_t B = 0;
  KeyLayout keys;
  DeviceBuffer memory, scratch_memory;
  Arena arena, scratch;
  KvCache<float> kv;
  SegmentActs<float> obs, prompt, state;
  DeviceHead head;
  DeviceObservations in;
  float *state_noise = nullptr, *state_time = nullptr, *loss = nullptr, *per_sample = nullptr;
  float *dv = nullptr, *dnorm = nullptr, *dfin = nullptr, *dw_unused = nullptr;
  float *dx0_prompt = nullptr, *dx0_state = nullptr, *dprompt = nullptr;
  uint8_t* used_mask = nullptr;  // [E * K * wb]: 1 in the prompt blocks of the batch's embodiments

  PromptWorkspace(const ModelConfig& c, int64_t batch)
      : B(batch), keys(c, {Seg::kObs, Seg::kPrompt, Seg::kState}), arena(Arena::planning()), scratch(Arena::planning()) {}

  void carve_all(Arena& a, const ModelConfig& c) {
    const int64_t Tk = keys.total(), ws = c.state.width, wb = c.backbone.width;
    const int64_t K = c.num_prompt_tokens;
    allocate_kv(a, c, B, Tk, &kv);
    allocate_segment(a, c, B, Tk, Seg::kObs, false, false, &obs);
    allocate_segment(a, c, B, Tk, Seg::kPrompt, true, false, &prompt);
    allocate_segment(a, c, B, Tk, Seg::kState, true, true, &state);
    head.carve_from(a, B, ws, c.state_dim);
    in.carve_from(a, c, B);
    state_noise = carve<float>(a, B * c.state_dim, "state_noise");
    state_time = carve<float>(a, B, "state_time");
    loss = carve<float>(a, 1, "loss");
    per_sample = carve<float>(a, B, "per_sample");
    dv = carve<float>(a, B * c.state_dim, "dv");
    dnorm = carve<float>(a, B * ws, "dnorm");
    dfin = carve<float>(a, B * ws, "dfin");
    dw_unused = carve<float>(a, ws, "dw_unused");
    dx0_prompt = carve<float>(a, B * K * wb, "dx0_prompt");
    dx0_state = carve<float>(a, B * ws, "dx0_state");
    dprompt = carve<float>(a, c.num_embodiments * K * wb, "dprompt");
    used_mask = carve<uint8_t>(a, c.num_embodiments * K * wb, "used_mask");
  }
};

// train_step's buffers: every segment saved, both heads, and the backward's gradients.
struct DevicePolicy::TrainWorkspace {
  int64_t B = 0;
  KeyLayout keys;
  DeviceBuffer memory, scratch_memory;
  Arena arena, scratch;
  KvCache<float> kv;
  SegmentActs<float> obs, prompt, action, state;
  DeviceHead ahead, shead;
  HeadGrads agrad, sgrad;
  DeviceObservations in;
  float* cond = nullptr;
  float *actions = nullptr, *action_noise = nullptr, *action_time = nullptr, *action_weights = nullptr;
  float *state_noise = nullptr, *state_time = nullptr, *loss = nullptr, *per_action = nullptr, *per_state = nullptr;
  float *action_dout = nullptr, *dx0_obs = nullptr, *dx0_prompt = nullptr, *dx0_action = nullptr, *dx0_state = nullptr;
  float *dcond = nullptr, *demb = nullptr, *dpatch = nullptr, *dtext = nullptr;
  int32_t* embedding_scratch = nullptr;

  TrainWorkspace(const ModelConfig& c, int64_t batch, std::vector<Seg> layout)
      : B(batch), keys(c, std::move(layout)), arena(Arena::planning()), scratch(Arena::planning()) {}

  void carve_all(Arena& a, const ModelConfig& c) {
    const int64_t Tk = keys.total(), P = c.num_patches(), L = c.max_text_len, wb = c.backbone.width;
    const int64_t wa = c.action.width, wst = c.state.width, H = c.horizon, A = c.action_dim, SD = c.state_dim;
    allocate_kv(a, c, B, Tk, &kv);
    allocate_segment(a, c, B, Tk, Seg::kObs, true, false, &obs);
    if (c.use_prompt) allocate_segment(a, c, B, Tk, Seg::kPrompt, true, false, &prompt);
    allocate_segment(a, c, B, Tk, Seg::kAction, true, true, &action);
    if (c.use_state_expert) allocate_segment(a, c, B, Tk, Seg::kState, true, true, &state);
    ahead.carve_from(a, B * H, wa, A);
    agrad.carve_from(a, B * H, wa, A);
    shead.carve_from(a, B, wst, SD);
    sgrad.carve_from(a, B, wst, SD);
    in.carve_from(a, c, B);
    cond = carve<float>(a, B * wa, "cond");
    actions = carve<float>(a, B * H * A, "actions");
    action_noise = carve<float>(a, B * H * A, "action_noise");
    action_time = carve<float>(a, B, "action_time");
    action_weights = carve<float>(a, B, "action_weights");
    state_noise = carve<float>(a, B * SD, "state_noise");
    state_time = carve<float>(a, B, "state_time");
    loss = carve<float>(a, 1, "loss");
    per_action = carve<float>(a, B, "per_action");
    per_state = carve<float>(a, B, "per_state");
    action_dout = carve<float>(a, B * (H + 1) * wa, "action_dout");
    dx0_obs = carve<float>(a, B * c.obs_len() * wb, "dx0_obs");
    dx0_prompt = carve<float>(a, B * c.prompt_len() * wb, "dx0_prompt");
    dx0_action = carve<float>(a, B * (H + 1) * wa, "dx0_action");
    dx0_state = carve<float>(a, B * wst, "dx0_state");
    dcond = carve<float>(a, B * wa, "dcond");
    demb = carve<float>(a, B * H * wa, "demb");
    dpatch = carve<float>(a, B * P * wb, "dpatch");
    dtext = carve<float>(a, B * L * wb, "dtext");
    embedding_scratch = carve<int32_t>(a, embedding_backward_scratch_ints(B * L), "embedding_scratch");
  }

  std::vector<SegmentActs<float>*> active(const ModelConfig& c) {
    std::vector<SegmentActs<float>*> v = {&obs};
    if (c.use_prompt) v.push_back(&prompt);
    v.push_back(&action);
    if (c.use_state_expert) v.push_back(&state);
    return v;
  }
};

DevicePolicy::DevicePolicy(const Policy<float>& host)
    : host_(host), cfg_(host.config()), layout_(host.config()),
      params_(static_cast<size_t>(host.num_params()) * sizeof(float)) {
  if (cfg_.is_progress()) fail(ErrorCode::kArgument, "DevicePolicy: this model is a progress critic, not a policy");
  if (cfg_.obs_attends_prompt)
    fail(ErrorCode::kUnsupported, "DevicePolicy: observation rows attending the prompt (obs_attends_prompt) is not supported on the device yet");
  sync_weights();
}

DevicePolicy::~DevicePolicy() = default;

void DevicePolicy::set_cuda_graphs(bool on) {
  use_graphs_ = on;
  if (ws_) ws_->drop_graph();
}

void DevicePolicy::sync_weights() {
  params_.upload(host_.params(), static_cast<size_t>(host_.num_params()) * sizeof(float));
}

int64_t DevicePolicy::device_bytes() const {
  return static_cast<int64_t>(params_.bytes()) + (ws_ ? static_cast<int64_t>(ws_->memory.bytes()) : 0);
}

void DevicePolicy::upload_layout(const KeyLayout& keys, Seg s, SegmentActs<float>& sa, const SampleTokens& tokens,
                                 int64_t B) {
  const int64_t rows = B * sa.len;
  mask_host_.resize(static_cast<size_t>(rows * keys.total()));
  pos_host_.resize(static_cast<size_t>(rows));
  build_query_mask(cfg_, keys, s, keys.segments(), tokens, B, mask_host_.data());
  build_positions(cfg_, s, tokens, B, pos_host_.data());
  copy_to_device(sa.mask, mask_host_.data(), mask_host_.size());
  copy_to_device(sa.positions, pos_host_.data(), pos_host_.size() * sizeof(int32_t));
}

void DevicePolicy::embed_observations(int64_t B, const DeviceObservations& in, float* x0) {
  const ModelConfig& c = cfg_;
  const int64_t P = c.num_patches(), L = c.max_text_len, wb = c.backbone.width;
  ParamsView<float> p = layout_.view(params_.as<float>());
  patchify(in.images, in.patches, B, c.frames, c.image_size, c.patch_size);
  linear_forward(in.patches, p.patch_w, p.patch_b, in.patch_rows, B * P, c.patch_dim(), wb);
  embedding_forward(in.text, p.text, in.text_rows, B * L, c.vocab_size, wb);
  assemble_observation_rows(in.patch_rows, p.pos, in.text_rows, x0, B, P, L, wb);
}

DevicePolicy::PromptWorkspace& DevicePolicy::prompt_workspace(int64_t B) {
  if (pws_ && pws_->B == B) return *pws_;
  auto ws = std::make_unique<PromptWorkspace>(cfg_, B);
  place(*ws, cfg_);
  place_scratch(*ws, cfg_, {&ws->prompt, &ws->state});
  pws_ = std::move(ws);
  return *pws_;
}

void DevicePolicy::reset_prompt_optimizer() {
  prompt_adam_step_ = 0;
  prompt_m_ = DeviceBuffer();
  prompt_v_ = DeviceBuffer();
}

void DevicePolicy::download_params(float* host_params) const {
  params_.download(host_params, static_cast<size_t>(layout_.total()) * sizeof(float));
}

StepResult DevicePolicy::prompt_step(const ObsBatch<float>& o, const FlowTargets<float>& f, const StepOptions& s) {
  const ModelConfig& c = cfg_;
  if (!c.use_prompt || !c.use_state_expert)
    fail(ErrorCode::kArgument, "DevicePolicy::prompt_step: the model needs prompt tokens and the state expert");
  validate_adamw_hyper(s.adam, "prompt step");
  host_.validate(o);
  if (o.encodings || !o.images)
    fail(ErrorCode::kArgument, "DevicePolicy::prompt_step: pass images (observation encodings are not supported on the device)");
  if (!f.state_noise || !f.state_time)
    fail(ErrorCode::kArgument, "DevicePolicy::prompt_step: the state loss needs state_noise and state_time");
  const int64_t B = o.B, SD = c.state_dim, ws_w = c.state.width, wb = c.backbone.width, K = c.num_prompt_tokens;
  const int64_t E = c.num_embodiments, block = K * wb;
  PromptWorkspace& ws = prompt_workspace(B);
  ParamsView<float> p = layout_.view(params_.as<float>());
  SampleTokens tokens{o.text, nullptr};

  ws.in.upload(o, c);
  copy_to_device(ws.state_noise, f.state_noise, static_cast<size_t>(B * SD) * sizeof(float));
  copy_to_device(ws.state_time, f.state_time, static_cast<size_t>(B) * sizeof(float));

  // Forward: observation rows (no backward), then prompt and state rows (saved).
  embed_observations(B, ws.in, ws.obs.x[0]);
  upload_layout(ws.keys, Seg::kObs, ws.obs, tokens, B);
  gather_prompt_rows(p.prompt, ws.in.embodiment, ws.prompt.x[0], B, K, wb);
  upload_layout(ws.keys, Seg::kPrompt, ws.prompt, tokens, B);
  DeviceHead& h = ws.head;
  flow_interpolate_forward(ws.state_noise, ws.in.state, ws.state_time, h.x_t, B, SD);
  head_input_forward(c, p.state_head, h, ws.state_time, 1);
  copy_strided(ws.state.x[0], 0, h.emb, 0, 1, B * ws_w, false);
  upload_layout(ws.keys, Seg::kState, ws.state, tokens, B);
  mot_forward(c, p, B, ws.keys, ws.kv, {&ws.obs});
  mot_forward(c, p, B, ws.keys, ws.kv, {&ws.prompt, &ws.state});
  copy_strided(h.fin, 0, ws.state.x[c.depth], 0, 1, B * ws_w, false);
  head_output_forward(c, p.state_head, h);
  flow_matching_loss_forward(h.v, ws.state_noise, ws.in.state, nullptr, ws.loss, ws.per_sample, B, SD);

  // Backward to the prompt: the state head's output layers, the stack (no weight gradients:
  // the routing lets the state loss reach the prompt only), the prompt rows' embeddings.
  VLA_CUDA_CHECK(cudaMemsetAsync(ws.dv, 0, static_cast<size_t>(B * SD) * sizeof(float)));
  flow_matching_loss_backward(h.v, ws.state_noise, ws.in.state, nullptr, 1.0f, nullptr, ws.dv, nullptr, nullptr, B, SD);
  VLA_CUDA_CHECK(cudaMemsetAsync(ws.dnorm, 0, static_cast<size_t>(B * ws_w) * sizeof(float)));
  linear_backward(ws.dv, h.fin_norm, p.state_head.out_w, ws.dnorm, nullptr, nullptr, B, ws_w, SD);
  VLA_CUDA_CHECK(cudaMemsetAsync(ws.dfin, 0, static_cast<size_t>(B * ws_w) * sizeof(float)));
  VLA_CUDA_CHECK(cudaMemsetAsync(ws.dw_unused, 0, static_cast<size_t>(ws_w) * sizeof(float)));
  rmsnorm_backward(ws.dnorm, h.fin, p.state_head.final_norm, h.fin_rstd, ws.dfin, ws.dw_unused, B, ws_w);
  VLA_CUDA_CHECK(cudaMemsetAsync(ws.dx0_prompt, 0, static_cast<size_t>(B * block) * sizeof(float)));
  VLA_CUDA_CHECK(cudaMemsetAsync(ws.dx0_state, 0, static_cast<size_t>(B * ws_w) * sizeof(float)));
  std::vector<SegmentGrad<float>> grads(2);
  grads[0].dx0 = ws.dx0_prompt;
  grads[0].weight_grads = false;
  grads[1].dout = ws.dfin;
  grads[1].dx0 = ws.dx0_state;
  grads[1].weight_grads = false;
  // With no weight gradients mot_backward writes nothing through `g`; the view only gives it the
  // layout, so the weights' own view serves (nothing is written there).
  mot_backward(c, p, p, B, ws.keys, ws.kv, {&ws.prompt, &ws.state}, grads, GradientRouting{}, ws.scratch);
  VLA_CUDA_CHECK(cudaMemsetAsync(ws.dprompt, 0, static_cast<size_t>(E * block) * sizeof(float)));
  scatter_prompt_rows(ws.dx0_prompt, ws.in.embodiment, ws.dprompt, B, E, K, wb);

  // The gradient's norm over the blocks in use, the clip and the finite check on the host (as
  // Policy::clip_and_update), then AdamW on the device over those blocks only.
  StepResult r;
  std::vector<float> loss(1), per(static_cast<size_t>(B)), g(static_cast<size_t>(E * block));
  copy_to_host(loss.data(), ws.loss, sizeof(float));
  copy_to_host(per.data(), ws.per_sample, per.size() * sizeof(float));
  copy_to_host(g.data(), ws.dprompt, g.size() * sizeof(float));
  r.loss.state = loss[0];
  r.loss.total = loss[0];
  for (float v : per) r.loss.state_per_sample.push_back(v);
  std::vector<uint8_t> used(static_cast<size_t>(E * block), 0);
  for (int64_t b = 0; b < B; ++b) std::fill(used.begin() + o.embodiment[b] * block, used.begin() + (o.embodiment[b] + 1) * block, uint8_t(1));
  double sq = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    if (!used[i]) continue;
    const double gv = g[i];
    if (!std::isfinite(gv))
      fail(ErrorCode::kValue, "prompt step: a non-finite gradient (", gv, ") at prompt element ", i,
           "; the parameters were not changed");
    sq += gv * gv;
  }
  r.grad_norm = std::sqrt(sq);
  if (s.max_grad_norm > 0 && r.grad_norm > s.max_grad_norm) {
    const float k = static_cast<float>(s.max_grad_norm / r.grad_norm);
    for (float& v : g) v *= k;
    copy_to_device(ws.dprompt, g.data(), g.size() * sizeof(float));
    r.clipped = true;
  }
  if (prompt_m_.bytes() == 0) {
    prompt_m_ = DeviceBuffer(static_cast<size_t>(E * block) * sizeof(float));
    prompt_v_ = DeviceBuffer(static_cast<size_t>(E * block) * sizeof(float));
    zero(prompt_m_.as<float>(), E * block);
    zero(prompt_v_.as<float>(), E * block);
  }
  copy_to_device(ws.used_mask, used.data(), used.size());
  AdamWHyper hyper = s.adam;
  hyper.step = ++prompt_adam_step_;
  adamw_step(p.prompt, ws.dprompt, prompt_m_.as<float>(), prompt_v_.as<float>(), ws.used_mask, E * block, hyper);
  synchronize();
  return r;
}

DevicePolicy::TrainWorkspace& DevicePolicy::train_workspace(int64_t B) {
  if (tws_ && tws_->B == B) return *tws_;
  std::vector<Seg> layout = {Seg::kObs};
  if (cfg_.use_prompt) layout.push_back(Seg::kPrompt);
  layout.push_back(Seg::kAction);
  if (cfg_.use_state_expert) layout.push_back(Seg::kState);
  auto ws = std::make_unique<TrainWorkspace>(cfg_, B, layout);
  place(*ws, cfg_);
  place_scratch(*ws, cfg_, ws->active(cfg_));
  tws_ = std::move(ws);
  return *tws_;
}

void DevicePolicy::reset_optimizer() {
  adam_step_ = 0;
  adam_m_ = DeviceBuffer();
  adam_v_ = DeviceBuffer();
}

StepResult DevicePolicy::train_step(const ObsBatch<float>& o, const FlowTargets<float>& f, double state_weight,
                                    const StepOptions& s) {
  const ModelConfig& c = cfg_;
  validate_adamw_hyper(s.adam, "train step");
  host_.validate(o);
  if (o.encodings || !o.images)
    fail(ErrorCode::kArgument, "DevicePolicy::train_step: pass images (observation encodings cannot train the embeddings)");
  if (!f.actions || !f.action_noise || !f.action_time)
    fail(ErrorCode::kArgument, "DevicePolicy::train_step: the action loss needs actions, action_noise and action_time");
  const bool state_on = c.use_state_expert;
  if (state_on && (!f.state_noise || !f.state_time))
    fail(ErrorCode::kArgument, "DevicePolicy::train_step: the state loss needs state_noise and state_time");
  const int64_t B = o.B, H = c.horizon, A = c.action_dim, SD = c.state_dim, L = c.max_text_len, P = c.num_patches();
  const int64_t wb = c.backbone.width, wa = c.action.width, wst = c.state.width, n = layout_.total();
  TrainWorkspace& ws = train_workspace(B);
  if (grads_.bytes() == 0) grads_ = DeviceBuffer(static_cast<size_t>(n) * sizeof(float));
  if (adam_m_.bytes() == 0) {
    adam_m_ = DeviceBuffer(static_cast<size_t>(n) * sizeof(float));
    adam_v_ = DeviceBuffer(static_cast<size_t>(n) * sizeof(float));
    zero(adam_m_.as<float>(), n);
    zero(adam_v_.as<float>(), n);
  }
  ParamsView<float> p = layout_.view(params_.as<float>());
  ParamsView<float> g = layout_.view(grads_.as<float>());
  zero(grads_.as<float>(), n);
  SampleTokens tokens{o.text, f.drop_prompt};

  ws.in.upload(o, c);
  copy_to_device(ws.actions, f.actions, static_cast<size_t>(B * H * A) * sizeof(float));
  copy_to_device(ws.action_noise, f.action_noise, static_cast<size_t>(B * H * A) * sizeof(float));
  copy_to_device(ws.action_time, f.action_time, static_cast<size_t>(B) * sizeof(float));
  if (f.action_weights) copy_to_device(ws.action_weights, f.action_weights, static_cast<size_t>(B) * sizeof(float));
  if (state_on) {
    copy_to_device(ws.state_noise, f.state_noise, static_cast<size_t>(B * SD) * sizeof(float));
    copy_to_device(ws.state_time, f.state_time, static_cast<size_t>(B) * sizeof(float));
  }

  // Forward, one pass over every segment (policy.cc's loss_and_grads with every group trained).
  embed_observations(B, ws.in, ws.obs.x[0]);
  upload_layout(ws.keys, Seg::kObs, ws.obs, tokens, B);
  if (c.use_prompt) {
    gather_prompt_rows(p.prompt, ws.in.embodiment, ws.prompt.x[0], B, c.num_prompt_tokens, wb);
    upload_layout(ws.keys, Seg::kPrompt, ws.prompt, tokens, B);
  }
  flow_interpolate_forward(ws.action_noise, ws.actions, ws.action_time, ws.ahead.x_t, B, H * A);
  if (c.action_sees_state) {
    linear_forward(ws.in.state, p.action_head.cond_w, p.action_head.cond_b, ws.cond, B, SD, wa);
  } else {
    copy_strided(ws.cond, wa, p.action_head.cond_b, 0, B, wa, false);
  }
  head_input_forward(c, p.action_head, ws.ahead, ws.action_time, H);
  copy_strided(ws.action.x[0], (H + 1) * wa, ws.cond, wa, B, wa, false);
  copy_strided(ws.action.x[0] + wa, (H + 1) * wa, ws.ahead.emb, H * wa, B, H * wa, false);
  upload_layout(ws.keys, Seg::kAction, ws.action, tokens, B);
  if (state_on) {
    flow_interpolate_forward(ws.state_noise, ws.in.state, ws.state_time, ws.shead.x_t, B, SD);
    head_input_forward(c, p.state_head, ws.shead, ws.state_time, 1);
    copy_strided(ws.state.x[0], 0, ws.shead.emb, 0, 1, B * wst, false);
    upload_layout(ws.keys, Seg::kState, ws.state, tokens, B);
  }
  const std::vector<SegmentActs<float>*> active = ws.active(c);
  mot_forward(c, p, B, ws.keys, ws.kv, active);

  StepResult r;
  const float* weights = f.action_weights ? ws.action_weights : nullptr;
  copy_strided(ws.ahead.fin, H * wa, ws.action.x[c.depth] + wa, (H + 1) * wa, B, H * wa, false);
  head_output_forward(c, p.action_head, ws.ahead);
  flow_matching_loss_forward(ws.ahead.v, ws.action_noise, ws.actions, weights, ws.loss, ws.per_action, B, H * A);
  std::vector<float> scalar(1), per(static_cast<size_t>(B));
  copy_to_host(scalar.data(), ws.loss, sizeof(float));
  copy_to_host(per.data(), ws.per_action, per.size() * sizeof(float));
  r.loss.action = scalar[0];
  for (float v : per) r.loss.action_per_sample.push_back(v);
  if (state_on) {
    copy_strided(ws.shead.fin, 0, ws.state.x[c.depth], 0, 1, B * wst, false);
    head_output_forward(c, p.state_head, ws.shead);
    flow_matching_loss_forward(ws.shead.v, ws.state_noise, ws.in.state, nullptr, ws.loss, ws.per_state, B, SD);
    copy_to_host(scalar.data(), ws.loss, sizeof(float));
    copy_to_host(per.data(), ws.per_state, per.size() * sizeof(float));
    r.loss.state = scalar[0];
    for (float v : per) r.loss.state_per_sample.push_back(v);
  }
  r.loss.total = r.loss.action + state_weight * r.loss.state;

  // Backward: the heads, the stack (routed), then the embeddings.
  zero(ws.agrad.dv, B * H * A);
  flow_matching_loss_backward(ws.ahead.v, ws.action_noise, ws.actions, weights, 1.0f, nullptr, ws.agrad.dv, nullptr,
                              nullptr, B, H * A);
  head_output_backward(p.action_head, &g.action_head, ws.ahead, ws.agrad.dv, ws.agrad);
  zero(ws.action_dout, B * (H + 1) * wa);
  copy_strided(ws.action_dout + wa, (H + 1) * wa, ws.agrad.dfin, H * wa, B, H * wa, false);
  if (state_on) {
    zero(ws.sgrad.dv, B * SD);
    flow_matching_loss_backward(ws.shead.v, ws.state_noise, ws.in.state, nullptr, static_cast<float>(state_weight),
                                nullptr, ws.sgrad.dv, nullptr, nullptr, B, SD);
    head_output_backward(p.state_head, &g.state_head, ws.shead, ws.sgrad.dv, ws.sgrad);
  }
  std::vector<SegmentGrad<float>> grads;
  for (SegmentActs<float>* sa : active) {
    SegmentGrad<float> gr;
    switch (sa->seg) {
      case Seg::kObs: gr.dx0 = ws.dx0_obs; break;
      case Seg::kPrompt: gr.dx0 = ws.dx0_prompt; gr.weight_grads = false; break;  // the backbone never learns from prompt rows
      case Seg::kAction: gr.dx0 = ws.dx0_action; gr.dout = ws.action_dout; break;
      case Seg::kState: gr.dx0 = ws.dx0_state; gr.dout = ws.sgrad.dfin; break;
    }
    zero(gr.dx0, B * sa->len * sa->w);
    grads.push_back(gr);
  }
  mot_backward(c, p, g, B, ws.keys, ws.kv, active, grads, GradientRouting{}, ws.scratch);
  // Observation rows: position embeddings, the patch projection, the text table.
  const int64_t Tobs = c.obs_len();
  sum_batch_rows(ws.dx0_obs, Tobs * wb, g.pos, B, P * wb);
  copy_strided(ws.dpatch, P * wb, ws.dx0_obs, Tobs * wb, B, P * wb, false);
  copy_strided(ws.dtext, L * wb, ws.dx0_obs + P * wb, Tobs * wb, B, L * wb, false);
  linear_backward(ws.dpatch, ws.in.patches, nullptr, nullptr, g.patch_w, g.patch_b, B * P, c.patch_dim(), wb);
  embedding_backward(ws.in.text, ws.dtext, g.text, B * L, c.vocab_size, wb, ws.embedding_scratch);
  if (c.use_prompt)
    scatter_prompt_rows(ws.dx0_prompt, ws.in.embodiment, g.prompt, B, c.num_embodiments, c.num_prompt_tokens, wb);
  // Action rows [state token | action tokens].
  copy_strided(ws.dcond, wa, ws.dx0_action, (H + 1) * wa, B, wa, false);
  copy_strided(ws.demb, H * wa, ws.dx0_action + wa, (H + 1) * wa, B, H * wa, false);
  linear_backward(ws.dcond, ws.in.state, nullptr, nullptr, c.action_sees_state ? g.action_head.cond_w : nullptr,
                  g.action_head.cond_b, B, SD, wa);
  head_input_backward(p.action_head, g.action_head, ws.ahead, ws.demb, ws.agrad);
  if (state_on) head_input_backward(p.state_head, g.state_head, ws.shead, ws.dx0_state, ws.sgrad);

  // Global norm (finite check), clip, AdamW over every parameter.
  const double sq = sum_squares(grads_.as<float>(), n);
  if (!std::isfinite(sq))
    fail(ErrorCode::kValue, "train step: a non-finite gradient; the parameters were not changed");
  r.grad_norm = std::sqrt(sq);
  if (s.max_grad_norm > 0 && r.grad_norm > s.max_grad_norm) {
    scale_values(grads_.as<float>(), static_cast<float>(s.max_grad_norm / r.grad_norm), n);
    r.clipped = true;
  }
  AdamWHyper hyper = s.adam;
  hyper.step = ++adam_step_;
  adamw_step(params_.as<float>(), grads_.as<float>(), adam_m_.as<float>(), adam_v_.as<float>(), nullptr, n, hyper);
  synchronize();
  return r;
}

DevicePolicy::Workspace& DevicePolicy::workspace(int64_t B) {
  if (ws_ && ws_->B == B) return *ws_;
  std::vector<Seg> layout = {Seg::kObs};
  if (cfg_.use_prompt) layout.push_back(Seg::kPrompt);
  layout.push_back(Seg::kAction);
  auto ws = std::make_unique<Workspace>(cfg_, B, layout);
  place(*ws, cfg_);
  ws_ = std::move(ws);
  return *ws_;
}

void DevicePolicy::act(const ObsBatch<float>& o, const float* noise, uint64_t seed, float* out,
                       const uint8_t* drop_prompt) {
  host_.validate(o);
  if (o.encodings || !o.images)
    fail(ErrorCode::kArgument, "DevicePolicy::act: pass images (observation encodings are not supported on the device)");
  const ModelConfig& c = cfg_;
  const int64_t B = o.B, H = c.horizon, A = c.action_dim, w = c.action.width;
  Workspace& ws = workspace(B);
  ParamsView<float> p = layout_.view(params_.as<float>());
  SampleTokens tokens{o.text, drop_prompt};

  // Inputs and the host-built masks and positions.
  ws.in.upload(o, c);
  // Prefix: observation (and prompt) rows, keys and values cached.
  const int64_t wb = c.backbone.width;
  embed_observations(B, ws.in, ws.obs.x[0]);
  upload_layout(ws.keys, Seg::kObs, ws.obs, tokens, B);
  std::vector<SegmentActs<float>*> prefix = {&ws.obs};
  if (c.use_prompt) {
    gather_prompt_rows(p.prompt, ws.in.embodiment, ws.prompt.x[0], B, c.num_prompt_tokens, wb);
    upload_layout(ws.keys, Seg::kPrompt, ws.prompt, tokens, B);
    prefix.push_back(&ws.prompt);
  }
  mot_forward(c, p, B, ws.keys, ws.kv, prefix);

  // Euler steps from t = 1 to 0 on the action rows [state token | H action tokens].
  upload_layout(ws.keys, Seg::kAction, ws.action, tokens, B);
  DeviceHead& h = ws.head;
  std::vector<float> x0(static_cast<size_t>(B * H * A));
  if (noise) {
    std::memcpy(x0.data(), noise, x0.size() * sizeof(float));
  } else {
    Rng rng(seed, 0xAC7);
    for (size_t i = 0; i < x0.size(); ++i) x0[i] = static_cast<float>(rng.normal_at(static_cast<uint64_t>(i)));
  }
  copy_to_device(h.x_t, x0.data(), x0.size() * sizeof(float));
  const int64_t steps = c.sample_steps;
  std::vector<float> times(static_cast<size_t>(steps * B));
  for (int64_t k = 0; k < steps; ++k)
    for (int64_t b = 0; b < B; ++b) times[k * B + b] = 1.0f - static_cast<float>(k) / static_cast<float>(steps);
  copy_to_device(ws.times, times.data(), times.size() * sizeof(float));
  if (c.action_sees_state) {
    linear_forward(ws.in.state, p.action_head.cond_w, p.action_head.cond_b, ws.cond, B, c.state_dim, w);
  } else {
    copy_strided(ws.cond, w, p.action_head.cond_b, 0, B, w, false);
  }
  const float dt = -1.0f / static_cast<float>(steps);
  // Every buffer and weight the loop touches sits at a fixed address of this workspace (inputs
  // change by value only), so one captured graph serves every later call of this batch size.
  auto run_steps = [&] {
    for (int64_t k = 0; k < steps; ++k) {
      head_input_forward(c, p.action_head, h, ws.times + k * B, H);
      copy_strided(ws.action.x[0], (H + 1) * w, ws.cond, w, B, w, false);
      copy_strided(ws.action.x[0] + w, (H + 1) * w, h.emb, H * w, B, H * w, false);
      mot_forward(c, p, B, ws.keys, ws.kv, {&ws.action});
      copy_strided(h.fin, H * w, ws.action.x[c.depth] + w, (H + 1) * w, B, H * w, false);
      head_output_forward(c, p.action_head, h);
      axpy(h.x_t, dt, h.v, B * H * A);
    }
  };
#if !defined(VLA_CUDA_EMULATION)
  if (use_graphs_ && !ws.steps_graph) {
    cudaGraph_t graph = nullptr;
    cudaError_t err = cudaStreamBeginCapture(cudaStreamPerThread, cudaStreamCaptureModeThreadLocal);
    if (err == cudaSuccess) {
      try {
        run_steps();
      } catch (const Error&) {
        // A launch refused during capture: end it, fall back to plain launches below.
      }
      err = cudaStreamEndCapture(cudaStreamPerThread, &graph);
    }
    if (err == cudaSuccess && graph) err = cudaGraphInstantiate(&ws.steps_graph, graph, 0);
    if (graph) cudaGraphDestroy(graph);
    if (err != cudaSuccess || !ws.steps_graph) {
      cudaGetLastError();  // clear the capture's error
      ws.steps_graph = nullptr;
      use_graphs_ = false;
    }
  }
  if (use_graphs_ && ws.steps_graph) {
    VLA_CUDA_CHECK(cudaGraphLaunch(ws.steps_graph, cudaStreamPerThread));
  } else {
    run_steps();
  }
#else
  run_steps();
#endif
  copy_to_host(out, h.x_t, static_cast<size_t>(B * H * A) * sizeof(float));
}

}  // namespace vla::VLA_CUDA_NS
