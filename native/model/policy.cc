#include "model/policy.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "core/error.h"
#include "core/random.h"
#include "core/thread_pool.h"
#include "ops/activations.h"
#include "ops/embedding.h"
#include "ops/flow_matching.h"
#include "ops/gemm.h"
#include "ops/rmsnorm.h"

namespace vla {

namespace {

template <typename T>
T* alloc(Arena& a, int64_t n, const char* what) {
  return a.alloc<T>(Shape{n}, what).data;
}

template <typename T>
void zero(T* p, int64_t n) {
  if (n > 0) std::memset(p, 0, static_cast<size_t>(n) * sizeof(T));
}

bool has_group(const std::vector<ParamGroup>& v, ParamGroup g) { return std::find(v.begin(), v.end(), g) != v.end(); }

// Sinusoidal time features (pi0): for i < w/2, period_i = min * (max/min)^(i / (w/2 - 1)),
// feat = [sin(2 pi t / period) | cos(2 pi t / period)].
template <typename T>
void time_features(const ModelConfig& c, T t, int64_t w, T* out) {
  const int64_t half = w / 2;
  for (int64_t i = 0; i < half; ++i) {
    double frac = half > 1 ? static_cast<double>(i) / static_cast<double>(half - 1) : 0.0;
    double period = c.time_min_period * std::pow(c.time_max_period / c.time_min_period, frac);
    double arg = 2.0 * 3.14159265358979323846 * static_cast<double>(t) / period;
    out[i] = static_cast<T>(std::sin(arg));
    out[half + i] = static_cast<T>(std::cos(arg));
  }
}

// Activations of a flow head (the action or the state expert's input and output layers).
template <typename T>
struct FlowHeadActs {
  int64_t rows = 0, w = 0, x_dim = 0;  // rows = B * tokens_per_sample (H for actions, 1 for state)
  T* x_t = nullptr;     // [rows, x_dim] noisy input
  T* proj = nullptr;    // [rows, w] in_proj(x_t)
  T* cat = nullptr;     // [rows, 2w] [proj | time features]
  T* u = nullptr;       // [rows, w] time_mlp_in(cat)
  T* su = nullptr;      // [rows, w] swish(u)
  T* emb = nullptr;     // [rows, w] time_mlp_out(su): the token embeddings
  T* fin = nullptr;     // [rows, w] the expert's output rows
  T* fin_norm = nullptr;  // [rows, w]
  T* fin_rstd = nullptr;  // [rows]
  T* v = nullptr;         // [rows, x_dim] predicted field
};

template <typename T>
void allocate_head(Arena& a, int64_t rows, int64_t w, int64_t x_dim, FlowHeadActs<T>* h) {
  h->rows = rows;
  h->w = w;
  h->x_dim = x_dim;
  h->x_t = alloc<T>(a, rows * x_dim, "x_t");
  h->proj = alloc<T>(a, rows * w, "proj");
  h->cat = alloc<T>(a, rows * 2 * w, "cat");
  h->u = alloc<T>(a, rows * w, "u");
  h->su = alloc<T>(a, rows * w, "su");
  h->emb = alloc<T>(a, rows * w, "emb");
  h->fin = alloc<T>(a, rows * w, "fin");
  h->fin_norm = alloc<T>(a, rows * w, "fin_norm");
  h->fin_rstd = alloc<T>(a, rows, "fin_rstd");
  h->v = alloc<T>(a, rows * x_dim, "v");
}

// emb = time_mlp_out(swish(time_mlp_in([in_proj(x_t) | features(t)]))); t per sample, shared by
// the `per_sample` rows of each sample.
template <typename T>
void head_input_forward(const ModelConfig& c, const FlowHeadView<T>& p, FlowHeadActs<T>& h, const T* t, int64_t per_sample) {
  const int64_t w = h.w;
  linear_rows<T>(h.x_t, p.in_w, p.in_b, h.proj, h.rows, h.x_dim, w);
  for (int64_t r = 0; r < h.rows; ++r) {
    std::memcpy(h.cat + r * 2 * w, h.proj + r * w, static_cast<size_t>(w) * sizeof(T));
    time_features<T>(c, t[r / per_sample], w, h.cat + r * 2 * w + w);
  }
  linear_rows<T>(h.cat, p.time_in_w, p.time_in_b, h.u, h.rows, 2 * w, w);
  silu_forward<T>(h.u, h.su, h.rows * w);
  linear_rows<T>(h.su, p.time_out_w, p.time_out_b, h.emb, h.rows, w, w);
}

template <typename T>
void head_input_backward(const FlowHeadView<T>& p, const FlowHeadView<T>* g, FlowHeadActs<T>& h, const T* demb, Arena& scratch) {
  if (!g) return;  // only weights are upstream of the embeddings here
  const int64_t w = h.w, rows = h.rows;
  const int64_t mark = scratch.mark();
  T* dsu = alloc<T>(scratch, rows * w, "dsu");
  T* du = alloc<T>(scratch, rows * w, "du");
  T* dcat = alloc<T>(scratch, rows * 2 * w, "dcat");
  T* dproj = alloc<T>(scratch, rows * w, "dproj");
  zero(dsu, rows * w);
  linear_rows_backward<T>(demb, h.su, p.time_out_w, dsu, g->time_out_w, g->time_out_b, rows, w, w);
  zero(du, rows * w);
  silu_backward<T>(dsu, h.u, du, rows * w);
  zero(dcat, rows * 2 * w);
  linear_rows_backward<T>(du, h.cat, p.time_in_w, dcat, g->time_in_w, g->time_in_b, rows, 2 * w, w);
  for (int64_t r = 0; r < rows; ++r) std::memcpy(dproj + r * w, dcat + r * 2 * w, static_cast<size_t>(w) * sizeof(T));
  linear_rows_backward<T>(dproj, h.x_t, p.in_w, nullptr, g->in_w, g->in_b, rows, h.x_dim, w);
  scratch.reset(mark);
}

// v = out_proj(final_norm(fin)).
template <typename T>
void head_output_forward(const ModelConfig& c, const FlowHeadView<T>& p, FlowHeadActs<T>& h) {
  rmsnorm_forward<T>(h.fin, p.final_norm, static_cast<T>(c.rms_eps), h.fin_norm, h.fin_rstd, h.rows, h.w);
  linear_rows<T>(h.fin_norm, p.out_w, p.out_b, h.v, h.rows, h.w, h.x_dim);
}

// dv -> d(fin) (written, not accumulated), weight grads into g (when non-null).
template <typename T>
void head_output_backward(const FlowHeadView<T>& p, const FlowHeadView<T>* g, FlowHeadActs<T>& h, const T* dv, T* dfin,
                          Arena& scratch) {
  const int64_t w = h.w, rows = h.rows;
  const int64_t mark = scratch.mark();
  T* dnorm = alloc<T>(scratch, rows * w, "dnorm");
  T* dw_unused = alloc<T>(scratch, w, "dw");
  zero(dnorm, rows * w);
  linear_rows_backward<T>(dv, h.fin_norm, p.out_w, dnorm, g ? g->out_w : nullptr, g ? g->out_b : nullptr, rows, w, h.x_dim);
  zero(dfin, rows * w);
  zero(dw_unused, w);
  rmsnorm_backward<T>(dnorm, h.fin, p.final_norm, h.fin_rstd, dfin, g ? g->final_norm : dw_unused, rows, w);
  scratch.reset(mark);
}

}  // namespace

template <typename T>
struct Policy<T>::Workspace {
  int64_t B = 0;
  KeyLayout keys;
  Arena arena;
  Arena scratch;
  KvCache<T> kv;
  SegmentActs<T> seg[kNumSegs];
  bool present[kNumSegs] = {false, false, false, false};
  bool saved[kNumSegs] = {false, false, false, false};
  std::vector<Seg> pass1, pass2;  // segments of the no-gradient pass and of the gradient pass
  T* patches = nullptr;      // [B*P, patch_dim] in [-1, 1]
  T* patch_rows = nullptr;   // [B*P, wb]
  T* text_rows = nullptr;    // [B*L, wb]
  FlowHeadActs<T> action, state;
  T* action_cond = nullptr;  // [B, wa] state_proj(state)

  Workspace(const ModelConfig& c, int64_t batch, std::vector<Seg> layout) : B(batch), keys(c, std::move(layout)), arena(0), scratch(0) {}

  void carve(Arena& a, const ModelConfig& c) {
    const int64_t Tk = keys.total();
    allocate_kv(a, c, B, Tk, &kv);
    for (int s = 0; s < kNumSegs; ++s)
      if (present[s]) {
        Seg sg = static_cast<Seg>(s);
        // A head reads the last layer of the action and state rows, and of a critic's observation rows.
        const bool tail = sg == Seg::kAction || sg == Seg::kState || c.is_progress();
        allocate_segment(a, c, B, Tk, sg, saved[s], tail, &seg[s]);
      }
    patches = alloc<T>(a, B * c.num_patches() * c.patch_dim(), "patches");
    patch_rows = alloc<T>(a, B * c.num_patches() * c.backbone.width, "patch_rows");
    text_rows = alloc<T>(a, B * c.max_text_len * c.backbone.width, "text_rows");
    if (present[static_cast<int>(Seg::kAction)]) {
      allocate_head(a, B * c.horizon, c.action.width, c.action_dim, &action);
      action_cond = alloc<T>(a, B * c.action.width, "action_cond");
    }
    if (present[static_cast<int>(Seg::kState)]) allocate_head(a, B, c.state.width, c.state_dim, &state);
  }

  // Backward scratch: the MoT stack's plus the heads' and embeddings' (which reuse it in turn).
  int64_t scratch_bytes(const ModelConfig& c) {
    Arena plan = Arena::planning();
    std::vector<SegmentActs<T>*> active;
    for (Seg s : pass2) active.push_back(&seg[static_cast<int>(s)]);
    BackwardScratch<T> sc;
    allocate_backward_scratch(plan, c, B, keys.total(), active, &sc);
    int64_t w = std::max({c.backbone.width, c.action.width, c.state.width});
    int64_t rows = B * std::max({c.obs_len(), c.action_len(), c.prompt_len(), int64_t(1)});
    // Head buffers and each segment's dx0; with obs_attends_prompt the losses take a pass each.
    int64_t heads = (c.obs_attends_prompt ? 16 : 8) * rows * w * static_cast<int64_t>(sizeof(T)) + 4096;
    return plan.used() + heads;
  }
};

template <typename T>
Policy<T>::Policy(const ModelConfig& cfg, uint64_t seed) : cfg_(cfg), layout_(cfg) {
  params_.assign(static_cast<size_t>(layout_.total()), T(0));
  grads_.assign(params_.size(), T(0));
  adam_m_.assign(params_.size(), T(0));
  adam_v_.assign(params_.size(), T(0));
  layout_.initialize(params_.data(), seed);
}

template <typename T>
Policy<T>::Policy(const ModelConfig& cfg, const T* weights) : cfg_(cfg), layout_(cfg) {
  params_.assign(weights, weights + layout_.total());
  grads_.assign(params_.size(), T(0));
  adam_m_.assign(params_.size(), T(0));
  adam_v_.assign(params_.size(), T(0));
}

template <typename T>
Policy<T>::~Policy() = default;

template <typename T>
void Policy<T>::zero_grads() {
  std::fill(grads_.begin(), grads_.end(), T(0));
}

template <typename T>
void Policy<T>::reset_optimizer() {
  std::fill(adam_m_.begin(), adam_m_.end(), T(0));
  std::fill(adam_v_.begin(), adam_v_.end(), T(0));
  adam_step_ = 0;
}

template <typename T>
void Policy<T>::set_optimizer_state(const T* m, const T* v, int64_t step) {
  if (step < 0) fail(ErrorCode::kValue, "set_optimizer_state: step ", step, " is negative");
  for (int64_t i = 0; i < layout_.total(); ++i)
    if (!std::isfinite(static_cast<double>(m[i])) || !std::isfinite(static_cast<double>(v[i])) || v[i] < T(0))
      fail(ErrorCode::kValue, "set_optimizer_state: element ", i, " of the moments is not finite (or v < 0)");
  std::copy(m, m + layout_.total(), adam_m_.begin());
  std::copy(v, v + layout_.total(), adam_v_.begin());
  adam_step_ = step;
}

template <typename T>
int64_t Policy<T>::native_bytes() const {
  int64_t bytes = static_cast<int64_t>((params_.size() + grads_.size() + adam_m_.size() + adam_v_.size()) * sizeof(T));
  for (const auto& [key, ws] : workspaces_) bytes += ws->arena.capacity() + ws->scratch.capacity();
  for (const auto& expert : packed_)
    for (const PackedExpertLayer& l : expert)
      for (const PackedWeights* w : {&l.q, &l.k, &l.v, &l.o, &l.up, &l.down}) bytes += w->bytes;
  return bytes;
}

template <typename T>
void Policy<T>::require_head(bool progress, const char* what) const {
  if (progress && !cfg_.is_progress())
    fail(ErrorCode::kArgument, what, ": this model is a policy (head 'policy'); progress calls need a progress critic (head 'progress')");
  if (!progress && cfg_.is_progress())
    fail(ErrorCode::kArgument, what,
         ": this model is a progress critic (head 'progress'); use progress(), progress_loss_and_grads() or progress_step()");
}

template <typename T>
void Policy<T>::validate(const ObsBatch<T>& o) const {
  const int64_t L = cfg_.max_text_len;
  if (cfg_.is_progress()) {
    if (o.B < 1) fail(ErrorCode::kArgument, "progress critic: the batch is empty (B = ", o.B, ")");
    if (!o.images || !o.text)
      fail(ErrorCode::kArgument, "progress critic: images [B, frames, S, S, 3] and text are required");
    if (o.encodings) fail(ErrorCode::kArgument, "progress critic: observation encodings are not supported; pass images");
    for (int64_t b = 0; b < o.B; ++b)
      for (int64_t j = 0; j < L; ++j) {
        int32_t id = o.text[b * L + j];
        if (id < 0 || id >= cfg_.vocab_size)
          fail(ErrorCode::kValue, "progress critic: text[", b, ", ", j, "] = ", id, " is outside the vocabulary [0, ", cfg_.vocab_size, ")");
      }
    return;
  }
  if (o.B < 1) fail(ErrorCode::kArgument, "policy: the batch is empty (B = ", o.B, ")");
  if ((!o.images && !o.encodings) || !o.text || !o.state || !o.embodiment)
    fail(ErrorCode::kArgument, "policy: images (or observation encodings), text, state and embodiment are all required");
  for (int64_t b = 0; b < o.B; ++b) {
    int32_t e = o.embodiment[b];
    if (e < 0 || e >= cfg_.num_embodiments)
      fail(ErrorCode::kValue, "policy: embodiment[", b, "] = ", e, " is not a known embodiment id (0..", cfg_.num_embodiments - 1, ")");
    for (int64_t j = 0; j < L; ++j) {
      int32_t id = o.text[b * L + j];
      if (id < 0 || id >= cfg_.vocab_size)
        fail(ErrorCode::kValue, "policy: text[", b, ", ", j, "] = ", id, " is outside the vocabulary [0, ", cfg_.vocab_size, ")");
    }
    for (int64_t i = 0; i < cfg_.state_dim; ++i)
      if (!std::isfinite(static_cast<double>(o.state[b * cfg_.state_dim + i])))
        fail(ErrorCode::kValue, "policy: state[", b, ", ", i, "] is not finite");
  }
}

template <typename T>
typename Policy<T>::Workspace& Policy<T>::workspace(const std::string& key, int64_t B, const std::vector<Seg>& layout,
                                                    const std::vector<std::pair<Seg, bool>>& pass1,
                                                    const std::vector<std::pair<Seg, bool>>& pass2) {
  std::string full = key + "/" + std::to_string(B);
  for (auto& [k, ws] : workspaces_)
    if (k == full) return *ws;
  auto ws = std::make_unique<Workspace>(cfg_, B, layout);
  for (auto [s, save] : pass1) {
    ws->present[static_cast<int>(s)] = true;
    ws->saved[static_cast<int>(s)] = save;
    ws->pass1.push_back(s);
  }
  for (auto [s, save] : pass2) {
    ws->present[static_cast<int>(s)] = true;
    ws->saved[static_cast<int>(s)] = save;
    ws->pass2.push_back(s);
  }
  Arena plan = Arena::planning();
  ws->carve(plan, cfg_);
  ws->arena = Arena(plan.used());
  ws->carve(ws->arena, cfg_);
  bool backward = false;
  for (auto [s, save] : pass2) backward = backward || save;
  ws->scratch = Arena(backward ? ws->scratch_bytes(cfg_) : 0);
  // Keep at most a few workspaces (batch sizes change rarely); drop the oldest.
  if (workspaces_.size() >= 4) workspaces_.erase(workspaces_.begin());
  workspaces_.emplace_back(full, std::move(ws));
  return *workspaces_.back().second;
}

namespace {

// Fills the observation rows' embeddings x0 [B*Tobs, wb] (patches: linear + position; text:
// table lookup) and keeps the patches for the backward.
template <typename T>
void embed_observations(const ModelConfig& c, const ParamsView<T>& p, const ObsBatch<T>& o, T* patches, T* patch_rows,
                        T* text_rows, T* x0) {
  const int64_t B = o.B, S = c.image_size, ps = c.patch_size, G = S / ps, P = c.num_patches(), pd = c.patch_dim();
  const int64_t wb = c.backbone.width, L = c.max_text_len, Tobs = c.obs_len(), F = c.frames, PF = c.patches_per_frame();
  // Images [B, frames, S, S, 3]: sample b's patch rows are [frame 0's | frame 1's | ...].
  for (int64_t b = 0; b < B; ++b)
    for (int64_t f = 0; f < F; ++f)
      for (int64_t gy = 0; gy < G; ++gy)
        for (int64_t gx = 0; gx < G; ++gx) {
          T* dst = patches + ((b * P) + f * PF + gy * G + gx) * pd;
          for (int64_t dy = 0; dy < ps; ++dy) {
            const uint8_t* src = o.images + (((b * F + f) * S + gy * ps + dy) * S + gx * ps) * 3;
            for (int64_t k = 0; k < ps * 3; ++k) dst[dy * ps * 3 + k] = static_cast<T>(src[k]) * T(1.0 / 127.5) - T(1);
          }
        }
  linear_rows<T>(patches, p.patch_w, p.patch_b, patch_rows, B * P, pd, wb);
  embedding_forward<T>(o.text, p.text, text_rows, B * L, c.vocab_size, wb);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t i = 0; i < P; ++i) {
      const T* src = patch_rows + (b * P + i) * wb;
      const T* pos = p.pos + i * wb;
      T* dst = x0 + (b * Tobs + i) * wb;
      for (int64_t j = 0; j < wb; ++j) dst[j] = src[j] + pos[j];
    }
    std::memcpy(x0 + (b * Tobs + P) * wb, text_rows + b * L * wb, static_cast<size_t>(L * wb) * sizeof(T));
  }
}

template <typename T>
void embed_observations_backward(const ModelConfig& c, const ParamsView<T>& g, const ObsBatch<T>& o, const T* patches,
                                 const T* dx0, Arena& scratch) {
  const int64_t B = o.B, P = c.num_patches(), pd = c.patch_dim(), wb = c.backbone.width, L = c.max_text_len;
  const int64_t Tobs = c.obs_len();
  const int64_t mark = scratch.mark();
  T* dpatch = alloc<T>(scratch, B * P * wb, "dpatch");
  T* dtext = alloc<T>(scratch, B * L * wb, "dtext");
  for (int64_t b = 0; b < B; ++b) {
    std::memcpy(dpatch + b * P * wb, dx0 + b * Tobs * wb, static_cast<size_t>(P * wb) * sizeof(T));
    std::memcpy(dtext + b * L * wb, dx0 + (b * Tobs + P) * wb, static_cast<size_t>(L * wb) * sizeof(T));
    for (int64_t i = 0; i < P; ++i)
      for (int64_t j = 0; j < wb; ++j) g.pos[i * wb + j] += dx0[(b * Tobs + i) * wb + j];
  }
  linear_rows_backward<T>(dpatch, patches, nullptr, nullptr, g.patch_w, g.patch_b, B * P, pd, wb);
  embedding_backward<T>(o.text, dtext, g.text, B * L, c.vocab_size, wb);
  scratch.reset(mark);
}

template <typename T>
void embed_prompt(const ModelConfig& c, const ParamsView<T>& p, const ObsBatch<T>& o, T* x0) {
  const int64_t K = c.num_prompt_tokens, wb = c.backbone.width;
  for (int64_t b = 0; b < o.B; ++b)
    std::memcpy(x0 + b * K * wb, p.prompt + static_cast<int64_t>(o.embodiment[b]) * K * wb, static_cast<size_t>(K * wb) * sizeof(T));
}

template <typename T>
void embed_prompt_backward(const ModelConfig& c, const ParamsView<T>& g, const ObsBatch<T>& o, const T* dx0) {
  const int64_t K = c.num_prompt_tokens, wb = c.backbone.width;
  for (int64_t b = 0; b < o.B; ++b) {
    T* dst = g.prompt + static_cast<int64_t>(o.embodiment[b]) * K * wb;
    for (int64_t i = 0; i < K * wb; ++i) dst[i] += dx0[b * K * wb + i];
  }
}

// The action segment's input rows: [state token | H action tokens] per sample.
template <typename T>
void embed_action_segment(const ModelConfig& c, const ParamsView<T>& p, const ObsBatch<T>& o, FlowHeadActs<T>& h,
                          T* cond, const T* t, T* x0) {
  const int64_t B = o.B, H = c.horizon, w = c.action.width;
  if (c.action_sees_state) {
    linear_rows<T>(o.state, p.action_head.cond_w, p.action_head.cond_b, cond, B, c.state_dim, w);
  } else {
    for (int64_t b = 0; b < B; ++b) std::memcpy(cond + b * w, p.action_head.cond_b, static_cast<size_t>(w) * sizeof(T));
  }
  head_input_forward(c, p.action_head, h, t, H);
  for (int64_t b = 0; b < B; ++b) {
    std::memcpy(x0 + b * (H + 1) * w, cond + b * w, static_cast<size_t>(w) * sizeof(T));
    std::memcpy(x0 + (b * (H + 1) + 1) * w, h.emb + b * H * w, static_cast<size_t>(H * w) * sizeof(T));
  }
}

}  // namespace

namespace {

// Copies the observation rows' K/V of every layer between the cache [B, Tk, kv] (at `off`) and
// per-sample encodings [B, depth, 2, obs_len, kv]. to_cache: encodings -> cache.
template <typename T>
void move_encodings(const ModelConfig& c, KvCache<T>& kv, int64_t off, int64_t B, T* enc, bool to_cache) {
  const int64_t L = c.depth, To = c.obs_len(), kvd = c.kv_dim(), Tk = kv.Tk;
  const int64_t per_sample = L * 2 * To * kvd;
  parallel_for(B, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b)
      for (int64_t l = 0; l < L; ++l)
        for (int w = 0; w < 2; ++w) {
          T* cache = (w == 0 ? kv.k[l] : kv.v[l]) + (b * Tk + off) * kvd;
          T* e = enc + b * per_sample + (l * 2 + w) * To * kvd;
          if (to_cache) std::memcpy(cache, e, static_cast<size_t>(To * kvd) * sizeof(T));
          else std::memcpy(e, cache, static_cast<size_t>(To * kvd) * sizeof(T));
        }
  });
}

}  // namespace

template <typename T>
void Policy<T>::encode_observations(const ObsBatch<T>& o, T* out) {
  require_head(false, "encode_observations");
  validate(o);
  if (!o.images) fail(ErrorCode::kArgument, "encode_observations: images are required");
  if (cfg_.obs_attends_prompt)
    fail(ErrorCode::kArgument, "encode_observations: observation rows attend the prompt in this model (obs_attends_prompt), so their keys and values change with it and cannot be cached");
  const ModelConfig& c = cfg_;
  Workspace& ws = workspace("encode", o.B, {Seg::kObs}, {{Seg::kObs, false}}, {});
  ParamsView<T> p = param_view();
  SampleTokens tokens{o.text, nullptr};
  SegmentActs<T>& obs = ws.seg[static_cast<int>(Seg::kObs)];
  embed_observations(c, p, o, ws.patches, ws.patch_rows, ws.text_rows, obs.x[0]);
  build_query_mask(c, ws.keys, Seg::kObs, {Seg::kObs}, tokens, o.B, obs.mask);
  build_positions(c, Seg::kObs, tokens, o.B, obs.positions);
  mot_forward(c, p, o.B, ws.keys, ws.kv, {&obs});
  move_encodings(c, ws.kv, ws.keys.offset(Seg::kObs), o.B, out, false);
}

template <typename T>
void Policy<T>::act(const ObsBatch<T>& o, const T* noise, uint64_t seed, T* out, const uint8_t* drop_prompt,
                    T* encodings_out) {
  require_head(false, "act");
  validate(o);
  const ModelConfig& c = cfg_;
  const int64_t B = o.B, H = c.horizon, A = c.action_dim, w = c.action.width;
  if (c.obs_attends_prompt && (o.encodings || encodings_out))
    fail(ErrorCode::kArgument, "act: observation encodings are not available when observation rows attend the prompt (obs_attends_prompt): they change with it; pass images");
  std::vector<Seg> layout = {Seg::kObs};
  std::vector<std::pair<Seg, bool>> prefix = {{Seg::kObs, false}};
  if (c.use_prompt) {
    layout.push_back(Seg::kPrompt);
    prefix.push_back({Seg::kPrompt, false});
  }
  layout.push_back(Seg::kAction);
  // The prefix is encoded once; the action segment re-runs at every denoising step.
  Workspace& ws = workspace("act", B, layout, prefix, {{Seg::kAction, false}});
  ParamsView<T> p = param_view();
  SampleTokens tokens{o.text, drop_prompt};

  SegmentActs<T>& obs = ws.seg[static_cast<int>(Seg::kObs)];
  SegmentActs<T>& act_seg = ws.seg[static_cast<int>(Seg::kAction)];
  if constexpr (std::is_same_v<T, float>) {
    // The weights do not change within a call, nor usually between calls (a control loop): pack
    // the projections once per version of the parameters instead of inside every product.
    if (packed_version_ != weights_version_) {
      pack_expert_layers(c, Expert::kBackbone, p.layers[static_cast<int>(Expert::kBackbone)], &packed_[0]);
      pack_expert_layers(c, Expert::kAction, p.layers[static_cast<int>(Expert::kAction)], &packed_[1]);
      packed_version_ = weights_version_;
    }
    obs.packed = &packed_[0];
    if (c.use_prompt) ws.seg[static_cast<int>(Seg::kPrompt)].packed = &packed_[0];
    act_seg.packed = &packed_[1];
  }
  std::vector<SegmentActs<T>*> pass;
  std::vector<Seg> valid = layout;
  if (o.encodings) {
    // The observation K/V are given: only the prompt rows run in the prefix pass.
    move_encodings(c, ws.kv, ws.keys.offset(Seg::kObs), B, const_cast<T*>(o.encodings), true);
  } else {
    embed_observations(c, p, o, ws.patches, ws.patch_rows, ws.text_rows, obs.x[0]);
    build_query_mask(c, ws.keys, Seg::kObs, valid, tokens, B, obs.mask);
    build_positions(c, Seg::kObs, tokens, B, obs.positions);
    pass.push_back(&obs);
  }
  if (c.use_prompt) {
    SegmentActs<T>& pr = ws.seg[static_cast<int>(Seg::kPrompt)];
    embed_prompt(c, p, o, pr.x[0]);
    build_query_mask(c, ws.keys, Seg::kPrompt, valid, tokens, B, pr.mask);
    build_positions(c, Seg::kPrompt, tokens, B, pr.positions);
    pass.push_back(&pr);
  }
  mot_forward(c, p, B, ws.keys, ws.kv, pass);
  if (encodings_out) move_encodings(c, ws.kv, ws.keys.offset(Seg::kObs), B, encodings_out, false);

  build_query_mask(c, ws.keys, Seg::kAction, valid, tokens, B, act_seg.mask);
  build_positions(c, Seg::kAction, tokens, B, act_seg.positions);
  FlowHeadActs<T>& h = ws.action;
  T* x = h.x_t;
  if (noise) {
    std::memcpy(x, noise, static_cast<size_t>(B * H * A) * sizeof(T));
  } else {
    Rng rng(seed, 0xAC7);
    for (int64_t i = 0; i < B * H * A; ++i) x[i] = static_cast<T>(rng.normal_at(static_cast<uint64_t>(i)));
  }
  std::vector<T> tvec(static_cast<size_t>(B));
  const int64_t steps = c.sample_steps;
  const T dt = T(-1) / static_cast<T>(steps);
  for (int64_t k = 0; k < steps; ++k) {
    const T t = T(1) - static_cast<T>(k) / static_cast<T>(steps);
    std::fill(tvec.begin(), tvec.end(), t);
    embed_action_segment(c, p, o, h, ws.action_cond, tvec.data(), act_seg.x[0]);
    mot_forward(c, p, B, ws.keys, ws.kv, {&act_seg});
    for (int64_t b = 0; b < B; ++b)
      std::memcpy(h.fin + b * H * w, act_seg.x[c.depth] + (b * (H + 1) + 1) * w, static_cast<size_t>(H * w) * sizeof(T));
    head_output_forward(c, p.action_head, h);
    for (int64_t i = 0; i < B * H * A; ++i) x[i] += dt * h.v[i];
  }
  std::memcpy(out, x, static_cast<size_t>(B * H * A) * sizeof(T));
}

template <typename T>
LossResult Policy<T>::loss_and_grads(const ObsBatch<T>& o, const FlowTargets<T>& f, const LossOptions& opt, bool want_grads,
                                     T* action_field_out) {
  require_head(false, "loss_and_grads");
  validate(o);
  const ModelConfig& c = cfg_;
  const int64_t B = o.B, H = c.horizon, A = c.action_dim, SD = c.state_dim;
  const bool action_on = opt.action_loss;
  const bool state_on = opt.state_loss && c.use_state_expert;
  if (!action_on && !state_on) fail(ErrorCode::kArgument, "policy: no loss is enabled");
  if (action_on && (!f.actions || !f.action_noise || !f.action_time))
    fail(ErrorCode::kArgument, "policy: the action loss needs actions, action_noise and action_time");
  if (state_on && (!f.state_noise || !f.state_time))
    fail(ErrorCode::kArgument, "policy: the state loss needs state_noise and state_time");
  const auto& G = opt.grad_groups;
  const bool g_embed = want_grads && has_group(G, ParamGroup::kEmbed);
  const bool g_backbone = want_grads && has_group(G, ParamGroup::kBackbone);
  const bool g_prompt = want_grads && c.use_prompt && has_group(G, ParamGroup::kPrompt);
  const bool g_action = want_grads && has_group(G, ParamGroup::kAction);
  const bool g_state = want_grads && has_group(G, ParamGroup::kState);

  // Which segments need a backward: observation rows only when the action loss trains the
  // embeddings or the backbone; prompt rows when the prompt is trained.
  const bool obs_grad = action_on && (g_embed || g_backbone);
  if (o.encodings && obs_grad)
    fail(ErrorCode::kArgument, "policy: observation encodings cannot train the embeddings or the backbone (their rows are not recomputed); pass images instead");
  if (o.encodings && c.obs_attends_prompt)
    fail(ErrorCode::kArgument, "policy: observation encodings cannot be used when observation rows attend the prompt (obs_attends_prompt): they change with it; pass images instead");
  const bool prompt_grad = g_prompt;
  // With obs_attends_prompt a loss that trains the prompt reaches it through the observation rows
  // too (the state loss always; the action loss when routed to the prompt), so those rows keep
  // their activations for the backward; and they run in one pass with the prompt rows.
  const bool obs_for_prompt =
      c.obs_attends_prompt && prompt_grad && (state_on || (action_on && opt.routing.action_to_prompt));
  const bool obs_saved = obs_grad || obs_for_prompt;
  std::vector<Seg> layout = {Seg::kObs};
  if (c.use_prompt) layout.push_back(Seg::kPrompt);
  if (action_on) layout.push_back(Seg::kAction);
  if (state_on) layout.push_back(Seg::kState);
  std::vector<std::pair<Seg, bool>> pass1, pass2;
  if (c.obs_attends_prompt) {
    // One prefix pass: observation rows read the prompt's keys of the same layer.
    auto& prefix = obs_saved || prompt_grad ? pass2 : pass1;
    if (!o.encodings) prefix.push_back({Seg::kObs, obs_saved});
    prefix.push_back({Seg::kPrompt, prompt_grad});
  } else {
    if (!o.encodings) (obs_grad ? pass2 : pass1).push_back({Seg::kObs, obs_grad});
    if (c.use_prompt) (prompt_grad ? pass2 : pass1).push_back({Seg::kPrompt, prompt_grad});
  }
  if (action_on) pass2.push_back({Seg::kAction, want_grads});
  if (state_on) pass2.push_back({Seg::kState, want_grads});
  std::string key = o.encodings ? "loss-encoded" : "loss";
  for (auto& [s, save] : pass1) key += "-" + std::to_string(static_cast<int>(s)) + (save ? "s" : "");
  key += "|";
  for (auto& [s, save] : pass2) key += "-" + std::to_string(static_cast<int>(s)) + (save ? "s" : "");
  Workspace& ws = workspace(key, B, layout, pass1, pass2);
  ParamsView<T> p = param_view();
  SampleTokens tokens{o.text, f.drop_prompt};

  auto prepare = [&](Seg s) -> SegmentActs<T>* {
    SegmentActs<T>* sa = &ws.seg[static_cast<int>(s)];
    build_query_mask(c, ws.keys, s, layout, tokens, B, sa->mask);
    build_positions(c, s, tokens, B, sa->positions);
    switch (s) {
      case Seg::kObs: embed_observations(c, p, o, ws.patches, ws.patch_rows, ws.text_rows, sa->x[0]); break;
      case Seg::kPrompt: embed_prompt(c, p, o, sa->x[0]); break;
      case Seg::kAction:
        flow_interpolate_forward<T>(f.action_noise, f.actions, f.action_time, ws.action.x_t, B, H * A);
        embed_action_segment(c, p, o, ws.action, ws.action_cond, f.action_time, sa->x[0]);
        break;
      case Seg::kState:
        flow_interpolate_forward<T>(f.state_noise, o.state, f.state_time, ws.state.x_t, B, SD);
        head_input_forward(c, p.state_head, ws.state, f.state_time, 1);
        std::memcpy(sa->x[0], ws.state.emb, static_cast<size_t>(B * c.state.width) * sizeof(T));
        break;
    }
    return sa;
  };
  std::vector<SegmentActs<T>*> first, second;
  if (o.encodings) move_encodings(c, ws.kv, ws.keys.offset(Seg::kObs), B, const_cast<T*>(o.encodings), true);
  for (Seg s : ws.pass1) first.push_back(prepare(s));
  for (Seg s : ws.pass2) second.push_back(prepare(s));
  if (!first.empty()) mot_forward(c, p, B, ws.keys, ws.kv, first);
  mot_forward(c, p, B, ws.keys, ws.kv, second);

  LossResult res;
  const int64_t wa = c.action.width;
  std::vector<T> loss_buf(1), per_a, per_s;
  if (action_on) {
    SegmentActs<T>& sa = ws.seg[static_cast<int>(Seg::kAction)];
    for (int64_t b = 0; b < B; ++b)
      std::memcpy(ws.action.fin + b * H * wa, sa.x[c.depth] + (b * (H + 1) + 1) * wa, static_cast<size_t>(H * wa) * sizeof(T));
    head_output_forward(c, p.action_head, ws.action);
    per_a.assign(static_cast<size_t>(B), T(0));
    flow_matching_loss_forward<T>(ws.action.v, f.action_noise, f.actions, f.action_weights, loss_buf.data(), per_a.data(), B, H * A);
    res.action = static_cast<double>(loss_buf[0]);
    for (T v : per_a) res.action_per_sample.push_back(static_cast<double>(v));
    if (action_field_out) std::memcpy(action_field_out, ws.action.v, static_cast<size_t>(B * H * A) * sizeof(T));
  }
  if (state_on) {
    SegmentActs<T>& ss = ws.seg[static_cast<int>(Seg::kState)];
    std::memcpy(ws.state.fin, ss.x[c.depth], static_cast<size_t>(B * c.state.width) * sizeof(T));
    head_output_forward(c, p.state_head, ws.state);
    per_s.assign(static_cast<size_t>(B), T(0));
    flow_matching_loss_forward<T>(ws.state.v, f.state_noise, o.state, nullptr, loss_buf.data(), per_s.data(), B, SD);
    res.state = static_cast<double>(loss_buf[0]);
    for (T v : per_s) res.state_per_sample.push_back(static_cast<double>(v));
  }
  res.total = res.action + opt.state_weight * res.state;
  if (!want_grads) return res;

  // Backward: heads, the MoT stack (routed), then the embeddings.
  ParamsView<T> g = layout_.view(grads_.data());
  Arena& scratch = ws.scratch;
  const int64_t mark = scratch.mark();
  // The heads first (once): the gradients at the action and state rows' outputs.
  T* action_dout = nullptr;
  T* state_dout = nullptr;
  if (action_on) {
    SegmentActs<T>& sa = ws.seg[static_cast<int>(Seg::kAction)];
    T* dv = alloc<T>(scratch, B * H * A, "dv");
    zero(dv, B * H * A);
    flow_matching_loss_backward<T>(ws.action.v, f.action_noise, f.actions, f.action_weights, T(1), nullptr, dv, nullptr,
                                   nullptr, B, H * A);
    T* dfin = alloc<T>(scratch, B * H * wa, "dfin");
    head_output_backward(p.action_head, g_action ? &g.action_head : nullptr, ws.action, dv, dfin, scratch);
    action_dout = alloc<T>(scratch, B * sa.len * wa, "dout");
    zero(action_dout, B * sa.len * wa);
    for (int64_t b = 0; b < B; ++b)
      std::memcpy(action_dout + (b * (H + 1) + 1) * wa, dfin + b * H * wa, static_cast<size_t>(H * wa) * sizeof(T));
  }
  if (state_on) {
    T* dv = alloc<T>(scratch, B * SD, "dv_s");
    zero(dv, B * SD);
    flow_matching_loss_backward<T>(ws.state.v, f.state_noise, o.state, nullptr, static_cast<T>(opt.state_weight), nullptr,
                                   dv, nullptr, nullptr, B, SD);
    state_dout = alloc<T>(scratch, B * c.state.width, "dfin_s");
    head_output_backward(p.state_head, g_state ? &g.state_head : nullptr, ws.state, dv, state_dout, scratch);
  }
  // One backward through the stack for the losses named; `through_obs` lets the gradient run
  // between observation and prompt rows (obs_attends_prompt), with no weight gradients there.
  auto backward = [&](bool with_action, bool with_state, bool through_obs) {
    std::vector<SegmentActs<T>*> active;
    std::vector<SegmentGrad<T>> sg;
    std::vector<T*> dx0;
    for (Seg s : ws.pass2) {
      SegmentActs<T>& sa = ws.seg[static_cast<int>(s)];
      if (!ws.saved[static_cast<int>(s)]) continue;
      if ((s == Seg::kAction && !with_action) || (s == Seg::kState && !with_state)) continue;
      if (s == Seg::kObs && !(with_action && obs_grad) && !through_obs) continue;
      SegmentGrad<T> gr;
      T* d0 = alloc<T>(scratch, B * sa.len * sa.w, "dx0");
      zero(d0, B * sa.len * sa.w);
      gr.dx0 = d0;
      if (s == Seg::kObs) gr.weight_grads = with_action && g_backbone;
      if (s == Seg::kPrompt) gr.weight_grads = false;  // routing: the backbone never learns from prompt rows
      if (s == Seg::kAction) {
        gr.dout = action_dout;
        gr.weight_grads = g_action;
      }
      if (s == Seg::kState) {
        gr.dout = state_dout;
        gr.weight_grads = g_state;
      }
      active.push_back(&sa);
      sg.push_back(gr);
      dx0.push_back(d0);
    }
    GradientRouting routing = opt.routing;
    routing.obs_attends_prompt = c.obs_attends_prompt;
    routing.through_obs = through_obs;
    mot_backward(c, p, g, B, ws.keys, ws.kv, active, sg, routing, scratch);
    for (size_t i = 0; i < active.size(); ++i) {
      Seg s = active[i]->seg;
      if (s == Seg::kObs && g_embed && with_action) embed_observations_backward(c, g, o, ws.patches, dx0[i], scratch);
      if (s == Seg::kPrompt) embed_prompt_backward(c, g, o, dx0[i]);
      if (s == Seg::kAction && g_action) {
        // dx0 rows: [state token | action tokens]
        T* demb = alloc<T>(scratch, B * H * wa, "demb");
        T* dcond = alloc<T>(scratch, B * wa, "dcond");
        for (int64_t b = 0; b < B; ++b) {
          std::memcpy(dcond + b * wa, dx0[i] + b * (H + 1) * wa, static_cast<size_t>(wa) * sizeof(T));
          std::memcpy(demb + b * H * wa, dx0[i] + (b * (H + 1) + 1) * wa, static_cast<size_t>(H * wa) * sizeof(T));
        }
        // Without the state, the state token is the bias alone: the weight gets no gradient.
        linear_rows_backward<T>(dcond, o.state, nullptr, nullptr, c.action_sees_state ? g.action_head.cond_w : nullptr,
                                g.action_head.cond_b, B, SD, wa);
        head_input_backward(p.action_head, &g.action_head, ws.action, demb, scratch);
      }
      if (s == Seg::kState && g_state) head_input_backward(p.state_head, &g.state_head, ws.state, dx0[i], scratch);
    }
  };
  if (!c.obs_attends_prompt) {
    // Observation rows never see the prompt: one pass routes both losses.
    backward(action_on, state_on, false);
  } else {
    // The losses share the observation rows' gradient but not their targets (the action loss
    // trains the backbone, the state loss the prompt): a pass per loss.
    if (action_on) backward(true, false, opt.routing.action_to_prompt && prompt_grad);
    if (state_on) backward(false, true, prompt_grad);
  }
  scratch.reset(mark);
  return res;
}

template <typename T>
void Policy<T>::predict(const ObsBatch<T>& o, const T* x_t, const T* t, const uint8_t* drop_prompt, T* out) {
  require_head(false, "predict");
  // With eps = actions = x_t the interpolation reproduces x_t for any t (up to one rounding).
  FlowTargets<T> f;
  f.actions = x_t;
  f.action_noise = x_t;
  f.action_time = t;
  f.drop_prompt = drop_prompt;
  LossOptions opt;
  opt.state_loss = false;
  loss_and_grads(o, f, opt, false, out);
}

template <typename T>
StepResult Policy<T>::step(const ObsBatch<T>& o, const FlowTargets<T>& f, const LossOptions& opt, const StepOptions& s,
                           bool prompt_only_embodiments) {
  require_head(false, "step");
  validate_adamw_hyper(s.adam, "policy step");
  // Only the trained groups' ranges of the flat buffer are touched: the others' gradients are
  // never written by loss_and_grads, and their AdamW state stays as it is (a masked update).
  const auto ranges = layout_.ranges_for(opt.grad_groups);
  for (auto [b, e] : ranges) std::fill(grads_.begin() + b, grads_.begin() + e, T(0));
  StepResult r;
  r.loss = loss_and_grads(o, f, opt, true);

  // Prompt blocks of embodiments absent from the batch keep their values (mask 0 there).
  std::vector<uint8_t> prompt_mask;
  int64_t prompt_begin = -1;
  if (prompt_only_embodiments && cfg_.use_prompt) {
    const ParamInfo* pi = layout_.find("prompt");
    const int64_t block = cfg_.num_prompt_tokens * cfg_.backbone.width;
    prompt_begin = pi->offset;
    prompt_mask.assign(static_cast<size_t>((pi->shape.numel() + 15) / 16 * 16), 0);
    for (int64_t b = 0; b < o.B; ++b) {
      const int64_t e = o.embodiment[b];
      std::fill(prompt_mask.begin() + e * block, prompt_mask.begin() + (e + 1) * block, uint8_t(1));
    }
  }
  clip_and_update(ranges, s, prompt_begin, prompt_mask, "policy step", r);
  return r;
}

template <typename T>
void Policy<T>::clip_and_update(const std::vector<std::pair<int64_t, int64_t>>& ranges, const StepOptions& s,
                                int64_t prompt_begin, const std::vector<uint8_t>& prompt_mask, const char* what,
                                StepResult& r) {
  auto masked_out = [&](int64_t i) {
    return prompt_begin >= 0 && i >= prompt_begin && i < prompt_begin + static_cast<int64_t>(prompt_mask.size()) &&
           !prompt_mask[static_cast<size_t>(i - prompt_begin)];
  };
  double sq = 0;
  for (auto [b, e] : ranges)
    for (int64_t i = b; i < e; ++i) {
      if (masked_out(i)) continue;
      double gv = static_cast<double>(grads_[i]);
      if (!std::isfinite(gv))
        fail(ErrorCode::kValue, what, ": a non-finite gradient (", gv, ") at parameter element ", i,
             "; the parameters were not changed");
      sq += gv * gv;
    }
  r.grad_norm = std::sqrt(sq);
  if (s.max_grad_norm > 0 && r.grad_norm > s.max_grad_norm) {
    const T k = static_cast<T>(s.max_grad_norm / r.grad_norm);
    for (auto [b, e] : ranges)
      for (int64_t i = b; i < e; ++i) grads_[i] *= k;
    r.clipped = true;
  }
  AdamWHyper h = s.adam;
  h.step = ++adam_step_;
  for (auto [b, e] : ranges) {
    const uint8_t* mask = nullptr;
    if (prompt_begin >= b && prompt_begin < e) {
      // The prompt tensor sits inside this range: a mask over the whole range, 0 outside blocks in use.
      static thread_local std::vector<uint8_t> range_mask;
      range_mask.assign(static_cast<size_t>(e - b), 1);
      std::copy(prompt_mask.begin(), prompt_mask.end(), range_mask.begin() + (prompt_begin - b));
      mask = range_mask.data();
    }
    adamw_step<T>(params_.data() + b, grads_.data() + b, adam_m_.data() + b, adam_v_.data() + b, mask, e - b, h);
  }
  ++weights_version_;
}

// ---- the progress critic ----

template <typename T>
struct Policy<T>::ProgressActs {
  Workspace* ws = nullptr;
  std::vector<T> pooled;  // [B, wb] mean of the image-patch rows of x[depth]
  std::vector<T> normed;  // [B, wb] rmsnorm(pooled) * final_norm
  std::vector<T> rstd;    // [B]
  std::vector<T> z;       // [B] pre-tanh score
  std::vector<T> c;       // [B] 100 tanh(z)
};

namespace {

// Targets in [-100, 100]; weights finite, >= 0 and not all 0 (a zero total weight has no mean).
template <typename T>
void check_progress_targets(const char* what, int64_t B, const T* targets, const T* weights) {
  if (!targets) fail(ErrorCode::kArgument, what, ": targets [B] are required");
  for (int64_t b = 0; b < B; ++b) {
    const double y = static_cast<double>(targets[b]);
    if (!std::isfinite(y)) fail(ErrorCode::kValue, what, ": targets[", b, "] is not finite (", y, ")");
    if (y < -100 || y > 100) fail(ErrorCode::kValue, what, ": targets[", b, "] = ", y, " is not in [-100, 100]");
  }
  if (!weights) return;
  double sum = 0;
  for (int64_t b = 0; b < B; ++b) {
    const double w = static_cast<double>(weights[b]);
    if (!std::isfinite(w)) fail(ErrorCode::kValue, what, ": weights[", b, "] is not finite (", w, ")");
    if (w < 0) fail(ErrorCode::kValue, what, ": weights[", b, "] = ", w, " is negative");
    sum += w;
  }
  if (!(sum > 0)) fail(ErrorCode::kValue, what, ": weights are all 0 (the weighted mean is undefined)");
}

}  // namespace

template <typename T>
void Policy<T>::progress_forward(const ObsBatch<T>& o, bool save, ProgressActs& a) {
  validate(o);
  const ModelConfig& c = cfg_;
  const int64_t B = o.B, P = c.num_patches(), Tobs = c.obs_len(), wb = c.backbone.width;
  // The observation segment alone; its last layer's MLP runs (tail) since the head reads x[depth].
  Workspace& ws = save ? workspace("progress-grad", B, {Seg::kObs}, {}, {{Seg::kObs, true}})
                       : workspace("progress", B, {Seg::kObs}, {{Seg::kObs, false}}, {});
  a.ws = &ws;
  ParamsView<T> p = param_view();
  SampleTokens tokens{o.text, nullptr};
  SegmentActs<T>& obs = ws.seg[static_cast<int>(Seg::kObs)];
  embed_observations(c, p, o, ws.patches, ws.patch_rows, ws.text_rows, obs.x[0]);
  build_query_mask(c, ws.keys, Seg::kObs, {Seg::kObs}, tokens, B, obs.mask);
  build_positions(c, Seg::kObs, tokens, B, obs.positions);
  mot_forward(c, p, B, ws.keys, ws.kv, {&obs});

  const T* x = obs.x[c.depth];
  a.pooled.assign(static_cast<size_t>(B * wb), T(0));
  a.normed.assign(static_cast<size_t>(B * wb), T(0));
  a.rstd.assign(static_cast<size_t>(B), T(0));
  a.z.assign(static_cast<size_t>(B), T(0));
  a.c.assign(static_cast<size_t>(B), T(0));
  const T inv_p = T(1) / static_cast<T>(P);
  for (int64_t b = 0; b < B; ++b) {
    T* dst = a.pooled.data() + b * wb;
    for (int64_t i = 0; i < P; ++i) {
      const T* row = x + (b * Tobs + i) * wb;
      for (int64_t j = 0; j < wb; ++j) dst[j] += row[j];
    }
    for (int64_t j = 0; j < wb; ++j) dst[j] *= inv_p;
  }
  rmsnorm_forward<T>(a.pooled.data(), p.progress_norm, static_cast<T>(c.rms_eps), a.normed.data(), a.rstd.data(), B, wb);
  linear_rows<T>(a.normed.data(), p.progress_out_w, p.progress_out_b, a.z.data(), B, wb, 1);
  for (int64_t b = 0; b < B; ++b) a.c[b] = T(100) * std::tanh(a.z[b]);
}

template <typename T>
void Policy<T>::progress(const ObsBatch<T>& o, T* out) {
  require_head(true, "progress");
  ProgressActs a;
  progress_forward(o, false, a);
  std::memcpy(out, a.c.data(), static_cast<size_t>(o.B) * sizeof(T));
}

template <typename T>
LossResult Policy<T>::progress_loss_and_grads(const ObsBatch<T>& o, const T* targets, const T* weights, bool want_grads,
                                              T* values_out) {
  require_head(true, "progress_loss_and_grads");
  check_progress_targets("progress_loss_and_grads", o.B, targets, weights);
  ProgressActs a;
  progress_forward(o, want_grads, a);
  const ModelConfig& c = cfg_;
  const int64_t B = o.B, P = c.num_patches(), Tobs = c.obs_len(), wb = c.backbone.width;
  LossResult res;
  double wsum = 0, total = 0;
  for (int64_t b = 0; b < B; ++b) {
    const double w = weights ? static_cast<double>(weights[b]) : 1.0;
    const double d = (static_cast<double>(a.c[b]) - static_cast<double>(targets[b])) / 100.0;
    res.progress_per_sample.push_back(d * d);
    total += w * d * d;
    wsum += w;
  }
  res.progress = res.total = total / wsum;
  if (values_out) std::memcpy(values_out, a.c.data(), static_cast<size_t>(B) * sizeof(T));
  if (!want_grads) return res;

  // Backward: loss -> c -> z -> the head's weights and the pooled rows -> the stack -> embeddings.
  Workspace& ws = *a.ws;
  ParamsView<T> p = param_view();
  ParamsView<T> g = layout_.view(grads_.data());
  std::vector<T> dz(static_cast<size_t>(B)), dnormed(static_cast<size_t>(B * wb), T(0)), dpooled(static_cast<size_t>(B * wb), T(0));
  for (int64_t b = 0; b < B; ++b) {
    const double w = weights ? static_cast<double>(weights[b]) : 1.0;
    const double dc = 2.0 * w * (static_cast<double>(a.c[b]) - static_cast<double>(targets[b])) / (100.0 * 100.0 * wsum);
    const double th = std::tanh(static_cast<double>(a.z[b]));
    dz[b] = static_cast<T>(dc * 100.0 * (1.0 - th * th));
  }
  linear_rows_backward<T>(dz.data(), a.normed.data(), p.progress_out_w, dnormed.data(), g.progress_out_w, g.progress_out_b, B, wb, 1);
  rmsnorm_backward<T>(dnormed.data(), a.pooled.data(), p.progress_norm, a.rstd.data(), dpooled.data(), g.progress_norm, B, wb);
  Arena& scratch = ws.scratch;
  const int64_t mark = scratch.mark();
  T* dout = alloc<T>(scratch, B * Tobs * wb, "dout");
  T* dx0 = alloc<T>(scratch, B * Tobs * wb, "dx0");
  zero(dout, B * Tobs * wb);
  zero(dx0, B * Tobs * wb);
  const T inv_p = T(1) / static_cast<T>(P);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < P; ++i)
      for (int64_t j = 0; j < wb; ++j) dout[(b * Tobs + i) * wb + j] = dpooled[b * wb + j] * inv_p;
  SegmentActs<T>& obs = ws.seg[static_cast<int>(Seg::kObs)];
  SegmentGrad<T> sg;
  sg.dout = dout;
  sg.dx0 = dx0;
  sg.weight_grads = true;
  mot_backward(c, p, g, B, ws.keys, ws.kv, {&obs}, {sg}, GradientRouting{}, scratch);
  embed_observations_backward(c, g, o, ws.patches, dx0, scratch);
  scratch.reset(mark);
  return res;
}

template <typename T>
StepResult Policy<T>::progress_step(const ObsBatch<T>& o, const T* targets, const T* weights, const StepOptions& s) {
  require_head(true, "progress_step");
  validate_adamw_hyper(s.adam, "progress_step");
  // Every parameter of a critic trains (embed, backbone, progress).
  const auto ranges = layout_.ranges_for({ParamGroup::kEmbed, ParamGroup::kBackbone, ParamGroup::kProgress});
  for (auto [b, e] : ranges) std::fill(grads_.begin() + b, grads_.begin() + e, T(0));
  StepResult r;
  r.loss = progress_loss_and_grads(o, targets, weights, true);
  clip_and_update(ranges, s, -1, {}, "progress_step", r);
  return r;
}

template class Policy<float>;
template class Policy<double>;

}  // namespace vla
