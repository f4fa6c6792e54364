// The Mixture-of-Transformers layer stack: each layer runs one attention over the tokens of all
// experts (per-query-segment calls against the shared keys), and per-expert RMSNorm, Q/K/V/out
// projections and GeGLU MLPs. T is float (production) or double (float64 reference).
//
// Per layer l and active segment s (rows [B * len_s, w_s]):
//   xn = rmsnorm(x_l)                    q = rope(xn Wq^T)    k = rope(xn Wk^T)    v = xn Wv^T
//   att = attention(q, K_all, V_all, mask_s)     (K_all/V_all: [B, Tk, Hkv, D], all segments' keys)
//   xmid = x_l + att Wo^T                xm = rmsnorm(xmid)   x_{l+1} = xmid + geglu(xm Wup^T) Wdown^T
// A segment whose output no head reads (observation and prompt rows) skips the last layer's
// queries, attention, out-projection and MLP: only its keys and values matter there.
#pragma once

#include <cstdint>
#include <vector>

#include "core/arena.h"
#include "model/config.h"
#include "ops/gemm.h"
#include "model/layout.h"
#include "model/params.h"

namespace vla {

// One layer's projection weights of an expert, packed once (ops/gemm.h): act re-runs the action
// expert on a few rows ten times per call with unchanged weights.
struct PackedExpertLayer {
  PackedWeights q, k, v, o, up, down;
};
// Packs every layer of expert `e`'s weights `layers` into `out` (one entry per layer).
void pack_expert_layers(const ModelConfig& cfg, Expert e, const std::vector<ExpertLayerView<float>>& layers,
                        std::vector<PackedExpertLayer>* out);

// Activations of one active segment in one pass.
template <typename T>
struct SegmentActs {
  Seg seg = Seg::kObs;
  int64_t len = 0;
  int64_t w = 0, F = 0;
  bool save = false;  // keep every layer's activations for the backward
  bool tail = true;   // the last layer's out-projection and MLP run (a head reads x[depth])
  // x[l]: input of layer l, [B*len, w]; x[0] is the embedding, x[depth] the output (when tail).
  std::vector<T*> x;
  // One entry per layer (all entries alias one buffer when !save).
  std::vector<T*> xn, rstd1, q, att, probs, xmid, xm, rstd2, h, g;
  T* k_pre = nullptr;          // [B*len, kv_dim] scratch: k before RoPE
  T* v_pre = nullptr;          // [B*len, kv_dim] scratch
  T* k_rot = nullptr;          // [B*len, kv_dim] scratch: k after RoPE
  uint8_t* mask = nullptr;     // [B, len, Tk]
  int32_t* positions = nullptr;  // [B, len]
  // float only: this expert's weights packed per layer (null: multiply by the weights as they are).
  const std::vector<PackedExpertLayer>* packed = nullptr;
};

// Keys and values of every layer: [B, Tk, Hkv, D] each.
template <typename T>
struct KvCache {
  int64_t Tk = 0;
  std::vector<T*> k, v;
};

// Carves the buffers of a segment / of the K/V cache out of `arena` (a planning arena only counts).
template <typename T>
void allocate_segment(Arena& arena, const ModelConfig& cfg, int64_t B, int64_t Tk, Seg seg, bool save, bool tail,
                      SegmentActs<T>* out);
template <typename T>
void allocate_kv(Arena& arena, const ModelConfig& cfg, int64_t B, int64_t Tk, KvCache<T>* out);

// Runs every layer for the active segments. Each segment's x[0] (embeddings), mask and positions
// must be filled. Keys of the active segments are written into `kv` at their layout offsets;
// keys of other segments already there (an earlier pass) are attended where the mask allows.
template <typename T>
void mot_forward(const ModelConfig& cfg, const ParamsView<T>& p, int64_t B, const KeyLayout& keys, KvCache<T>& kv,
                 const std::vector<SegmentActs<T>*>& active);

// Gradient plumbing of one active segment in the backward.
template <typename T>
struct SegmentGrad {
  const T* dout = nullptr;  // gradient at x[depth] [B*len, w] (null: none; requires tail otherwise)
  T* dx0 = nullptr;         // receives (accumulates) the gradient at x[0] [B*len, w]; may be null
  bool weight_grads = true; // accumulate this expert's weight gradients from these rows
};

// Scratch buffers of mot_backward, carved from an arena (a planning arena sizes them).
template <typename T>
struct BackwardScratch {
  std::vector<T*> dx, dxmid, dtmp, dq, dh, dg;  // per active segment
  T *dK = nullptr, *dV = nullptr, *dK_part = nullptr, *dV_part = nullptr;  // [B, Tk, kv_dim]
  T *dk_rows = nullptr, *dk_pre = nullptr, *dv_rows = nullptr, *dq_pre = nullptr, *dxn = nullptr;
};
template <typename T>
void allocate_backward_scratch(Arena& arena, const ModelConfig& cfg, int64_t B, int64_t Tk,
                               const std::vector<SegmentActs<T>*>& active, BackwardScratch<T>* out);

// Backward through every layer (activations saved by mot_forward with save = true). Weight
// gradients ACCUMULATE into `g` (same layout as the parameters). K/V gradients flow from a query
// segment into a key segment only where `routing` allows. Scratch is carved from `scratch`, which
// is rewound before returning.
template <typename T>
void mot_backward(const ModelConfig& cfg, const ParamsView<T>& p, const ParamsView<T>& g, int64_t B,
                  const KeyLayout& keys, const KvCache<T>& kv, const std::vector<SegmentActs<T>*>& active,
                  const std::vector<SegmentGrad<T>>& grads, const GradientRouting& routing, Arena& scratch);

// Dense helpers shared by the model code (row-major; W is [N, K] as in PyTorch).
template <typename T>
void linear_rows(const T* x, const T* W, const T* b, T* y, int64_t M, int64_t K, int64_t N);  // y = x W^T + b
// dx += dy W (or dx = dy W when !accumulate_dx), dW += dy^T x, db += column sums of dy; any may be null.
template <typename T>
void linear_rows_backward(const T* dy, const T* x, const T* W, T* dx, T* dW, T* db, int64_t M, int64_t K, int64_t N,
                          bool accumulate_dx = true);

}  // namespace vla
