// The Mixture-of-Transformers layer stack written once over an `Ops` backend: the CPU's
// (model/mot.cc: native/ops on host memory) and the CUDA backend's (native/cuda/mot.cu: the
// kernels' twins on device memory, also compiled for the CPU emulator). The math and the order
// of the calls are mot.h's; only where the buffers live and who computes differs.
//
// Ops provides, for element type T, static functions with the signatures of native/ops:
//   rmsnorm_forward/backward, rope_forward/backward, attention_forward/backward,
//   geglu_forward/backward, linear_rows_backward (model/mot.h), and
//   project(x, W, packed, y, M, K, N, beta)          y = x W^T + beta y (packed: CPU only, may be null)
//   copy(dst, src, n), zero(p, n), add_into(dst, src, n)
//   scatter_rows / gather_rows / add_key_range / zero_key_rows   (row moves between a segment's
//   rows [B, len, row] and its slice of the key rows [B, Tk, row]; see model/mot.cc)
#pragma once

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "core/arena.h"
#include "core/error.h"
#include "model/mot.h"
#include "ops/attention.h"
#include "ops/rope.h"

namespace vla {

namespace mot_detail {

inline int64_t width_of(const ModelConfig& c, Seg s) {
  Expert e = expert_of(s);
  return e == Expert::kBackbone ? c.backbone.width : e == Expert::kAction ? c.action.width : c.state.width;
}
inline int64_t mlp_of(const ModelConfig& c, Seg s) {
  Expert e = expert_of(s);
  return e == Expert::kBackbone ? c.backbone.mlp_dim : e == Expert::kAction ? c.action.mlp_dim : c.state.mlp_dim;
}

// An expert's layer list may be empty (a progress critic has the backbone only): only segments
// of experts the model has may be active.
template <typename T>
const ExpertLayerView<T>& layer_of(const ParamsView<T>& p, Seg s, int64_t l) {
  const auto& layers = p.layers[static_cast<int>(expert_of(s))];
  if (static_cast<size_t>(l) >= layers.size())
    fail(ErrorCode::kInternal, "mot: segment ", static_cast<int>(s), " is active but its expert has no layer ", l);
  return layers[static_cast<size_t>(l)];
}

template <typename T>
const PackedExpertLayer* packed_layer(const SegmentActs<T>* s, int64_t l) {
  if constexpr (!std::is_same_v<T, float>) return nullptr;
  if (!s->packed) return nullptr;
  VLA_CHECK(static_cast<size_t>(l) < s->packed->size());
  return &(*s->packed)[static_cast<size_t>(l)];
}

// Whether layer l of segment s runs its queries (and everything after them). A segment without a
// tail (no head reads its output) needs only its keys and values at the last layer.
template <typename T>
bool runs_queries(const SegmentActs<T>& s, int64_t l, int64_t depth) {
  return l < depth - 1 || s.tail;
}

}  // namespace mot_detail

template <typename T, typename Ops>
void mot_forward_impl(const ModelConfig& c, const ParamsView<T>& p, int64_t B, const KeyLayout& keys, KvCache<T>& kv,
                      const std::vector<SegmentActs<T>*>& active) {
  const int64_t L = c.depth, qd = c.q_dim(), kvd = c.kv_dim(), Tk = kv.Tk;
  const T eps = static_cast<T>(c.rms_eps);
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(c.head_dim)));
  VLA_CHECK(Tk == keys.total());
  for (int64_t l = 0; l < L; ++l) {
    // Queries, keys and values of every active segment first: attention reads all keys.
    for (SegmentActs<T>* s : active) {
      const ExpertLayerView<T>& w = mot_detail::layer_of(p, s->seg, l);
      const int64_t rows = B * s->len;
      Ops::rmsnorm_forward(s->x[l], w.attn_norm, eps, s->xn[l], s->rstd1[l], rows, s->w);
      // The att buffer holds q before RoPE; attention overwrites it with its output below.
      const PackedExpertLayer* pk = mot_detail::packed_layer(s, l);
      if (mot_detail::runs_queries(*s, l, L)) {
        Ops::project(s->xn[l], w.q, pk ? &pk->q : nullptr, s->att[l], rows, s->w, qd, T(0));
        Ops::rope_forward(s->att[l], s->positions, c.rope_theta, s->q[l], RopeShape{B, s->len, c.num_heads, c.head_dim, true});
      }
      Ops::project(s->xn[l], w.k, pk ? &pk->k : nullptr, s->k_pre, rows, s->w, kvd, T(0));
      Ops::rope_forward(s->k_pre, s->positions, c.rope_theta, s->k_rot, RopeShape{B, s->len, c.num_kv_heads, c.head_dim, true});
      Ops::project(s->xn[l], w.v, pk ? &pk->v : nullptr, s->v_pre, rows, s->w, kvd, T(0));
      Ops::scatter_rows(s->k_rot, kv.k[l], B, s->len, Tk, keys.offset(s->seg), kvd);
      Ops::scatter_rows(s->v_pre, kv.v[l], B, s->len, Tk, keys.offset(s->seg), kvd);
    }
    for (SegmentActs<T>* s : active) {
      const ExpertLayerView<T>& w = mot_detail::layer_of(p, s->seg, l);
      const int64_t rows = B * s->len;
      if (!mot_detail::runs_queries(*s, l, L)) continue;
      AttentionShape as{B, s->len, Tk, c.num_heads, c.num_kv_heads, c.head_dim, true};
      Ops::attention_forward(s->q[l], kv.k[l], kv.v[l], s->mask, scale, s->att[l], s->probs[l], as);
      // xmid = x + att Wo^T; x_{l+1} = xmid + geglu(rmsnorm(xmid) Wup^T) Wdown^T
      const PackedExpertLayer* pk = mot_detail::packed_layer(s, l);
      Ops::copy(s->xmid[l], s->x[l], rows * s->w);
      Ops::project(s->att[l], w.o, pk ? &pk->o : nullptr, s->xmid[l], rows, qd, s->w, T(1));
      Ops::rmsnorm_forward(s->xmid[l], w.mlp_norm, eps, s->xm[l], s->rstd2[l], rows, s->w);
      Ops::project(s->xm[l], w.up, pk ? &pk->up : nullptr, s->h[l], rows, s->w, 2 * s->F, T(0));
      Ops::geglu_forward(s->h[l], s->g[l], rows, s->F);
      Ops::copy(s->x[l + 1], s->xmid[l], rows * s->w);
      Ops::project(s->g[l], w.down, pk ? &pk->down : nullptr, s->x[l + 1], rows, s->F, s->w, T(1));
    }
  }
}

template <typename T, typename Ops>
void mot_backward_impl(const ModelConfig& c, const ParamsView<T>& p, const ParamsView<T>& g, int64_t B,
                       const KeyLayout& keys, const KvCache<T>& kv, const std::vector<SegmentActs<T>*>& active,
                       const std::vector<SegmentGrad<T>>& grads, const GradientRouting& routing, Arena& scratch) {
  const int64_t L = c.depth, qd = c.q_dim(), kvd = c.kv_dim(), Tk = kv.Tk;
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(c.head_dim)));
  VLA_CHECK(grads.size() == active.size());
  const int64_t mark = scratch.mark();
  const size_t n = active.size();
  BackwardScratch<T> sc;
  allocate_backward_scratch(scratch, c, B, Tk, active, &sc);
  std::vector<T*>& dx = sc.dx;
  std::vector<T*>& dxmid = sc.dxmid;
  std::vector<T*>& dtmp = sc.dtmp;
  std::vector<T*>& dq = sc.dq;
  std::vector<T*>& dh = sc.dh;
  std::vector<T*>& dg = sc.dg;
  T *dK = sc.dK, *dV = sc.dV, *dK_part = sc.dK_part, *dV_part = sc.dV_part;
  T *dk_rows = sc.dk_rows, *dk_pre = sc.dk_pre, *dv_rows = sc.dv_rows, *dq_pre = sc.dq_pre, *dxn = sc.dxn;
  for (size_t i = 0; i < n; ++i) {
    const SegmentActs<T>& s = *active[i];
    VLA_CHECK(s.save);
    const int64_t rows = B * s.len;
    if (grads[i].dout) {
      VLA_CHECK(s.tail);
      Ops::copy(dx[i], grads[i].dout, rows * s.w);
    } else {
      Ops::zero(dx[i], rows * s.w);
    }
  }

  for (int64_t l = L - 1; l >= 0; --l) {
    Ops::zero(dK, B * Tk * kvd);
    Ops::zero(dV, B * Tk * kvd);
    for (size_t i = 0; i < n; ++i) {
      const SegmentActs<T>& s = *active[i];
      const ExpertLayerView<T>& w = mot_detail::layer_of(p, s.seg, l);
      const ExpertLayerView<T>& gw = mot_detail::layer_of(g, s.seg, l);
      const bool wg = grads[i].weight_grads;
      const int64_t rows = B * s.len;
      T* d_att = dtmp[i];
      if (!mot_detail::runs_queries(s, l, L)) {
        // No head reads these rows: nothing flows back through their queries at this layer.
        Ops::copy(dxmid[i], dx[i], rows * s.w);
        continue;
      }
      // MLP: x_{l+1} = xmid + g Wdown^T, g = geglu(h), h = xm Wup^T, xm = rmsnorm(xmid).
      Ops::linear_rows_backward(dx[i], s.g[l], w.down, dg[i], wg ? gw.down : nullptr, nullptr, rows, s.F, s.w, false);
      Ops::zero(dh[i], rows * 2 * s.F);
      Ops::geglu_backward(dg[i], s.h[l], dh[i], rows, s.F);
      Ops::linear_rows_backward(dh[i], s.xm[l], w.up, dxn, wg ? gw.up : nullptr, nullptr, rows, s.w, 2 * s.F, false);
      Ops::copy(dxmid[i], dx[i], rows * s.w);
      if (wg) {
        Ops::rmsnorm_backward(dxn, s.xmid[l], w.mlp_norm, s.rstd2[l], dxmid[i], gw.mlp_norm, rows, s.w);
      } else {
        // rmsnorm_backward always accumulates dw: give it a throwaway buffer.
        T* dw_unused = dh[i];
        Ops::zero(dw_unused, s.w);
        Ops::rmsnorm_backward(dxn, s.xmid[l], w.mlp_norm, s.rstd2[l], dxmid[i], dw_unused, rows, s.w);
      }
      // xmid = x + att Wo^T
      Ops::linear_rows_backward(dxmid[i], s.att[l], w.o, d_att, wg ? gw.o : nullptr, nullptr, rows, qd, s.w, false);
      // Attention: this segment's queries against all keys; route the K/V gradient. Only keys
      // from the first segment that receives gradient from these queries on are computed.
      int64_t grad_begin = Tk;
      for (size_t j = 0; j < n; ++j)
        if (routing.flows(s.seg, active[j]->seg)) grad_begin = std::min(grad_begin, keys.offset(active[j]->seg));
      Ops::zero(dq[i], rows * qd);
      Ops::zero_key_rows(dK_part, B, Tk, grad_begin, kvd);
      Ops::zero_key_rows(dV_part, B, Tk, grad_begin, kvd);
      AttentionShape as{B, s.len, Tk, c.num_heads, c.num_kv_heads, c.head_dim, true, grad_begin};
      Ops::attention_backward(s.q[l], kv.k[l], kv.v[l], s.probs[l], d_att, scale, dq[i], dK_part, dV_part, as);
      for (size_t j = 0; j < n; ++j) {
        Seg key = active[j]->seg;
        if (!routing.flows(s.seg, key)) continue;
        Ops::add_key_range(dK_part, dK, B, keys.len(key), Tk, keys.offset(key), kvd);
        Ops::add_key_range(dV_part, dV, B, keys.len(key), Tk, keys.offset(key), kvd);
      }
    }
    // Q/K/V projections and the attention RMSNorm of each segment.
    for (size_t i = 0; i < n; ++i) {
      const SegmentActs<T>& s = *active[i];
      const ExpertLayerView<T>& w = mot_detail::layer_of(p, s.seg, l);
      const ExpertLayerView<T>& gw = mot_detail::layer_of(g, s.seg, l);
      const bool wg = grads[i].weight_grads;
      const int64_t rows = B * s.len;
      Ops::gather_rows(dK, dk_rows, B, s.len, Tk, keys.offset(s.seg), kvd);
      Ops::gather_rows(dV, dv_rows, B, s.len, Tk, keys.offset(s.seg), kvd);
      Ops::zero(dk_pre, rows * kvd);
      Ops::rope_backward(dk_rows, s.positions, c.rope_theta, dk_pre, RopeShape{B, s.len, c.num_kv_heads, c.head_dim, true});
      if (mot_detail::runs_queries(s, l, L)) {
        Ops::zero(dq_pre, rows * qd);
        Ops::rope_backward(dq[i], s.positions, c.rope_theta, dq_pre, RopeShape{B, s.len, c.num_heads, c.head_dim, true});
        Ops::linear_rows_backward(dq_pre, s.xn[l], w.q, dxn, wg ? gw.q : nullptr, nullptr, rows, s.w, qd, false);
        Ops::linear_rows_backward(dk_pre, s.xn[l], w.k, dxn, wg ? gw.k : nullptr, nullptr, rows, s.w, kvd);
      } else {
        // The forward ran no queries here (no tail): the keys' gradient starts dxn.
        Ops::linear_rows_backward(dk_pre, s.xn[l], w.k, dxn, wg ? gw.k : nullptr, nullptr, rows, s.w, kvd, false);
      }
      Ops::linear_rows_backward(dv_rows, s.xn[l], w.v, dxn, wg ? gw.v : nullptr, nullptr, rows, s.w, kvd);
      // x_l feeds both the residual (dxmid) and the attention norm.
      Ops::copy(dx[i], dxmid[i], rows * s.w);
      if (wg) {
        Ops::rmsnorm_backward(dxn, s.x[l], w.attn_norm, s.rstd1[l], dx[i], gw.attn_norm, rows, s.w);
      } else {
        T* dw_unused = dh[i];
        Ops::zero(dw_unused, s.w);
        Ops::rmsnorm_backward(dxn, s.x[l], w.attn_norm, s.rstd1[l], dx[i], dw_unused, rows, s.w);
      }
    }
  }
  for (size_t i = 0; i < n; ++i)
    if (grads[i].dx0) Ops::add_into(grads[i].dx0, dx[i], B * active[i]->len * active[i]->w);
  scratch.reset(mark);
}

}  // namespace vla
