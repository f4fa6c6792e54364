#include "model/mot.h"

#include <cmath>
#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "ops/activations.h"
#include "ops/attention.h"
#include "ops/gemm.h"
#include "ops/rmsnorm.h"
#include "ops/rope.h"

namespace vla {

namespace {

template <typename T>
T* alloc(Arena& a, int64_t n, const char* what) {
  return a.alloc<T>(Shape{n}, what).data;
}

int64_t width_of(const ModelConfig& c, Seg s) {
  Expert e = expert_of(s);
  return e == Expert::kBackbone ? c.backbone.width : e == Expert::kAction ? c.action.width : c.state.width;
}
int64_t mlp_of(const ModelConfig& c, Seg s) {
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

// Row copies and sums between a segment's rows [B, len, row] and its slice of the key rows
// [B, Tk, row]; split over samples (each writes its own rows: no races, any thread count).
int64_t sample_grain(int64_t len, int64_t row) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, len * row)); }

// dst[b, off + t, :] = src[b, t, :].
template <typename T>
void scatter_rows(const T* src, T* dst, int64_t B, int64_t len, int64_t Tk, int64_t off, int64_t row) {
  parallel_for(B, sample_grain(len, row), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b)
      std::memcpy(dst + (b * Tk + off) * row, src + b * len * row, static_cast<size_t>(len * row) * sizeof(T));
  });
}

// dst[b, t, :] = src[b, off + t, :].
template <typename T>
void gather_rows(const T* src, T* dst, int64_t B, int64_t len, int64_t Tk, int64_t off, int64_t row) {
  parallel_for(B, sample_grain(len, row), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b)
      std::memcpy(dst + b * len * row, src + (b * Tk + off) * row, static_cast<size_t>(len * row) * sizeof(T));
  });
}

// dst[b, off + t, :] += src[b, off + t, :] for t in [0, len).
template <typename T>
void add_key_range(const T* src, T* dst, int64_t B, int64_t len, int64_t Tk, int64_t off, int64_t row) {
  parallel_for(B, sample_grain(len, row), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const T* s = src + (b * Tk + off) * row;
      T* d = dst + (b * Tk + off) * row;
      for (int64_t i = 0; i < len * row; ++i) d[i] += s[i];
    }
  });
}

template <typename T>
void add_into(T* dst, const T* src, int64_t n) {
  parallel_for(n, 1 << 15, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) dst[i] += src[i];
  });
}

template <typename T>
void copy(T* dst, const T* src, int64_t n) {
  parallel_for(n, 1 << 15, [&](int64_t i0, int64_t i1) {
    std::memcpy(dst + i0, src + i0, static_cast<size_t>(i1 - i0) * sizeof(T));
  });
}

// Zeroes key rows [begin, Tk) of every sample of a [B, Tk, row] buffer.
template <typename T>
void zero_key_rows(T* p, int64_t B, int64_t Tk, int64_t begin, int64_t row) {
  if (begin >= Tk) return;
  parallel_for(B, sample_grain(Tk - begin, row), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) std::memset(p + (b * Tk + begin) * row, 0, static_cast<size_t>((Tk - begin) * row) * sizeof(T));
  });
}

template <typename T>
void zero(T* p, int64_t n) {
  parallel_for(n, 1 << 15, [&](int64_t i0, int64_t i1) { std::memset(p + i0, 0, static_cast<size_t>(i1 - i0) * sizeof(T)); });
}

// y[M, N] = x[M, K] W^T + beta * y, on W's pack when there is one (float).
template <typename T>
void project(const T* x, const T* W, const PackedWeights* packed, T* y, int64_t M, int64_t K, int64_t N, T beta) {
  if constexpr (std::is_same_v<T, float>) {
    if (packed) {
      gemm_packed(M, x, K, *packed, beta, y, N);
      return;
    }
  }
  gemm<T>(false, true, M, N, K, T(1), x, K, W, K, beta, y, N);
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

}  // namespace

void pack_expert_layers(const ModelConfig& c, Expert e, const std::vector<ExpertLayerView<float>>& layers,
                        std::vector<PackedExpertLayer>* out) {
  const ExpertDims d = e == Expert::kBackbone ? c.backbone : e == Expert::kAction ? c.action : c.state;
  const int64_t w = d.width, F = d.mlp_dim, qd = c.q_dim(), kvd = c.kv_dim();
  out->resize(layers.size());
  for (size_t l = 0; l < layers.size(); ++l) {
    const ExpertLayerView<float>& v = layers[l];
    PackedExpertLayer& p = (*out)[l];
    pack_weights(v.q, qd, w, &p.q);
    pack_weights(v.k, kvd, w, &p.k);
    pack_weights(v.v, kvd, w, &p.v);
    pack_weights(v.o, w, qd, &p.o);
    pack_weights(v.up, 2 * F, w, &p.up);
    pack_weights(v.down, w, F, &p.down);
  }
}

template <typename T>
void linear_rows(const T* x, const T* W, const T* b, T* y, int64_t M, int64_t K, int64_t N) {
  gemm<T>(false, true, M, N, K, T(1), x, K, W, K, T(0), y, N);
  if (b) {
    parallel_for(M, std::max<int64_t>(1, 16384 / std::max<int64_t>(N, 1)), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t j = 0; j < N; ++j) y[r * N + j] += b[j];
    });
  }
}

template <typename T>
void linear_rows_backward(const T* dy, const T* x, const T* W, T* dx, T* dW, T* db, int64_t M, int64_t K, int64_t N,
                          bool accumulate_dx) {
  if (dx) gemm<T>(false, false, M, K, N, T(1), dy, N, W, K, accumulate_dx ? T(1) : T(0), dx, K);
  if (dW) gemm<T>(true, false, N, K, M, T(1), dy, N, x, K, T(1), dW, K);
  if (db) {
    // Column sums over rows in fixed chunks, then the chunks in order: deterministic.
    const int64_t chunk = 256, chunks = num_chunks(M, chunk);
    std::vector<T> partial(static_cast<size_t>(chunks * N), T(0));
    parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c)
        for (int64_t r = c * chunk; r < std::min(M, (c + 1) * chunk); ++r)
          for (int64_t j = 0; j < N; ++j) partial[c * N + j] += dy[r * N + j];
    });
    for (int64_t c = 0; c < chunks; ++c)
      for (int64_t j = 0; j < N; ++j) db[j] += partial[c * N + j];
  }
}

template <typename T>
void allocate_segment(Arena& a, const ModelConfig& c, int64_t B, int64_t Tk, Seg seg, bool save, bool tail,
                      SegmentActs<T>* s) {
  s->seg = seg;
  s->len = segment_len(c, seg);
  s->w = width_of(c, seg);
  s->F = mlp_of(c, seg);
  s->save = save;
  s->tail = tail;
  const int64_t rows = B * s->len, L = c.depth;
  s->x.assign(static_cast<size_t>(L + 1), nullptr);
  if (save) {
    for (int64_t l = 0; l <= L; ++l) s->x[l] = alloc<T>(a, rows * s->w, "x");
  } else {
    // Without a backward, layers ping-pong between two residual buffers.
    T* x0 = alloc<T>(a, rows * s->w, "x");
    T* x1 = alloc<T>(a, rows * s->w, "x");
    for (int64_t l = 0; l <= L; ++l) s->x[l] = l % 2 == 0 ? x0 : x1;
  }
  auto per_layer = [&](std::vector<T*>& v, int64_t n, const char* what) {
    v.assign(static_cast<size_t>(L), nullptr);
    T* shared = save ? nullptr : alloc<T>(a, n, what);
    for (int64_t l = 0; l < L; ++l) v[l] = save ? alloc<T>(a, n, what) : shared;
  };
  per_layer(s->xn, rows * s->w, "xn");
  per_layer(s->rstd1, rows, "rstd1");
  per_layer(s->q, rows * c.q_dim(), "q");
  per_layer(s->att, rows * c.q_dim(), "att");
  per_layer(s->probs, B * c.num_heads * s->len * Tk, "probs");
  per_layer(s->xmid, rows * s->w, "xmid");
  per_layer(s->xm, rows * s->w, "xm");
  per_layer(s->rstd2, rows, "rstd2");
  per_layer(s->h, rows * 2 * s->F, "h");
  per_layer(s->g, rows * s->F, "g");
  s->k_pre = alloc<T>(a, rows * c.kv_dim(), "k_pre");
  s->v_pre = alloc<T>(a, rows * c.kv_dim(), "v_pre");
  s->k_rot = alloc<T>(a, rows * c.kv_dim(), "k_rot");
  s->mask = a.alloc<uint8_t>(Shape{B * s->len * Tk}, "mask").data;
  s->positions = a.alloc<int32_t>(Shape{rows}, "positions").data;
}

template <typename T>
void allocate_kv(Arena& a, const ModelConfig& c, int64_t B, int64_t Tk, KvCache<T>* kv) {
  kv->Tk = Tk;
  kv->k.assign(static_cast<size_t>(c.depth), nullptr);
  kv->v.assign(static_cast<size_t>(c.depth), nullptr);
  for (int64_t l = 0; l < c.depth; ++l) {
    kv->k[l] = alloc<T>(a, B * Tk * c.kv_dim(), "K");
    kv->v[l] = alloc<T>(a, B * Tk * c.kv_dim(), "V");
  }
}

template <typename T>
void mot_forward(const ModelConfig& c, const ParamsView<T>& p, int64_t B, const KeyLayout& keys, KvCache<T>& kv,
                 const std::vector<SegmentActs<T>*>& active) {
  const int64_t L = c.depth, qd = c.q_dim(), kvd = c.kv_dim(), Tk = kv.Tk;
  const T eps = static_cast<T>(c.rms_eps);
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(c.head_dim)));
  VLA_CHECK(Tk == keys.total());
  for (int64_t l = 0; l < L; ++l) {
    // Queries, keys and values of every active segment first: attention reads all keys.
    for (SegmentActs<T>* s : active) {
      const ExpertLayerView<T>& w = layer_of(p, s->seg, l);
      const int64_t rows = B * s->len;
      rmsnorm_forward<T>(s->x[l], w.attn_norm, eps, s->xn[l], s->rstd1[l], rows, s->w);
      // The att buffer holds q before RoPE; attention overwrites it with its output below.
      const PackedExpertLayer* pk = packed_layer(s, l);
      if (runs_queries(*s, l, L)) {
        project<T>(s->xn[l], w.q, pk ? &pk->q : nullptr, s->att[l], rows, s->w, qd, T(0));
        rope_forward<T>(s->att[l], s->positions, c.rope_theta, s->q[l], RopeShape{B, s->len, c.num_heads, c.head_dim, true});
      }
      project<T>(s->xn[l], w.k, pk ? &pk->k : nullptr, s->k_pre, rows, s->w, kvd, T(0));
      rope_forward<T>(s->k_pre, s->positions, c.rope_theta, s->k_rot, RopeShape{B, s->len, c.num_kv_heads, c.head_dim, true});
      project<T>(s->xn[l], w.v, pk ? &pk->v : nullptr, s->v_pre, rows, s->w, kvd, T(0));
      scatter_rows(s->k_rot, kv.k[l], B, s->len, Tk, keys.offset(s->seg), kvd);
      scatter_rows(s->v_pre, kv.v[l], B, s->len, Tk, keys.offset(s->seg), kvd);
    }
    for (SegmentActs<T>* s : active) {
      const ExpertLayerView<T>& w = layer_of(p, s->seg, l);
      const int64_t rows = B * s->len;
      if (!runs_queries(*s, l, L)) continue;
      AttentionShape as{B, s->len, Tk, c.num_heads, c.num_kv_heads, c.head_dim, true};
      attention_forward<T>(s->q[l], kv.k[l], kv.v[l], s->mask, scale, s->att[l], s->probs[l], as);
      // xmid = x + att Wo^T; x_{l+1} = xmid + geglu(rmsnorm(xmid) Wup^T) Wdown^T
      const PackedExpertLayer* pk = packed_layer(s, l);
      copy(s->xmid[l], s->x[l], rows * s->w);
      project<T>(s->att[l], w.o, pk ? &pk->o : nullptr, s->xmid[l], rows, qd, s->w, T(1));
      rmsnorm_forward<T>(s->xmid[l], w.mlp_norm, eps, s->xm[l], s->rstd2[l], rows, s->w);
      project<T>(s->xm[l], w.up, pk ? &pk->up : nullptr, s->h[l], rows, s->w, 2 * s->F, T(0));
      geglu_forward<T>(s->h[l], s->g[l], rows, s->F);
      copy(s->x[l + 1], s->xmid[l], rows * s->w);
      project<T>(s->g[l], w.down, pk ? &pk->down : nullptr, s->x[l + 1], rows, s->F, s->w, T(1));
    }
  }
}

template <typename T>
void allocate_backward_scratch(Arena& a, const ModelConfig& c, int64_t B, int64_t Tk,
                               const std::vector<SegmentActs<T>*>& active, BackwardScratch<T>* sc) {
  const int64_t qd = c.q_dim(), kvd = c.kv_dim();
  int64_t max_rows = 0;
  for (const SegmentActs<T>* s : active) {
    const int64_t rows = B * s->len;
    max_rows = std::max(max_rows, rows);
    sc->dx.push_back(alloc<T>(a, rows * s->w, "dx"));
    sc->dxmid.push_back(alloc<T>(a, rows * s->w, "dxmid"));
    sc->dtmp.push_back(alloc<T>(a, rows * std::max(s->w, qd), "dtmp"));
    sc->dq.push_back(alloc<T>(a, rows * qd, "dq"));
    sc->dh.push_back(alloc<T>(a, rows * std::max(2 * s->F, s->w), "dh"));
    sc->dg.push_back(alloc<T>(a, rows * s->F, "dg"));
  }
  sc->dK = alloc<T>(a, B * Tk * kvd, "dK");
  sc->dV = alloc<T>(a, B * Tk * kvd, "dV");
  sc->dK_part = alloc<T>(a, B * Tk * kvd, "dK_part");
  sc->dV_part = alloc<T>(a, B * Tk * kvd, "dV_part");
  sc->dk_rows = alloc<T>(a, max_rows * kvd, "dk_rows");
  sc->dk_pre = alloc<T>(a, max_rows * kvd, "dk_pre");
  sc->dv_rows = alloc<T>(a, max_rows * kvd, "dv_rows");
  sc->dq_pre = alloc<T>(a, max_rows * qd, "dq_pre");
  sc->dxn = alloc<T>(a, max_rows * std::max({c.backbone.width, c.action.width, c.state.width}), "dxn");
}

template <typename T>
void mot_backward(const ModelConfig& c, const ParamsView<T>& p, const ParamsView<T>& g, int64_t B,
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
      copy(dx[i], grads[i].dout, rows * s.w);
    } else {
      zero(dx[i], rows * s.w);
    }
  }

  for (int64_t l = L - 1; l >= 0; --l) {
    zero(dK, B * Tk * kvd);
    zero(dV, B * Tk * kvd);
    for (size_t i = 0; i < n; ++i) {
      const SegmentActs<T>& s = *active[i];
      const ExpertLayerView<T>& w = layer_of(p, s.seg, l);
      const ExpertLayerView<T>& gw = layer_of(g, s.seg, l);
      const bool wg = grads[i].weight_grads;
      const int64_t rows = B * s.len;
      T* d_att = dtmp[i];
      if (!runs_queries(s, l, L)) {
        // No head reads these rows: nothing flows back through their queries at this layer.
        copy(dxmid[i], dx[i], rows * s.w);
        continue;
      }
      // MLP: x_{l+1} = xmid + g Wdown^T, g = geglu(h), h = xm Wup^T, xm = rmsnorm(xmid).
      linear_rows_backward<T>(dx[i], s.g[l], w.down, dg[i], wg ? gw.down : nullptr, nullptr, rows, s.F, s.w, false);
      zero(dh[i], rows * 2 * s.F);
      geglu_backward<T>(dg[i], s.h[l], dh[i], rows, s.F);
      linear_rows_backward<T>(dh[i], s.xm[l], w.up, dxn, wg ? gw.up : nullptr, nullptr, rows, s.w, 2 * s.F, false);
      copy(dxmid[i], dx[i], rows * s.w);
      if (wg) {
        rmsnorm_backward<T>(dxn, s.xmid[l], w.mlp_norm, s.rstd2[l], dxmid[i], gw.mlp_norm, rows, s.w);
      } else {
        // rmsnorm_backward always accumulates dw: give it a throwaway buffer.
        T* dw_unused = dh[i];
        zero(dw_unused, s.w);
        rmsnorm_backward<T>(dxn, s.xmid[l], w.mlp_norm, s.rstd2[l], dxmid[i], dw_unused, rows, s.w);
      }
      // xmid = x + att Wo^T
      linear_rows_backward<T>(dxmid[i], s.att[l], w.o, d_att, wg ? gw.o : nullptr, nullptr, rows, qd, s.w, false);
      // Attention: this segment's queries against all keys; route the K/V gradient. Only keys
      // from the first segment that receives gradient from these queries on are computed.
      int64_t grad_begin = Tk;
      for (size_t j = 0; j < n; ++j)
        if (routing.flows(s.seg, active[j]->seg)) grad_begin = std::min(grad_begin, keys.offset(active[j]->seg));
      zero(dq[i], rows * qd);
      zero_key_rows(dK_part, B, Tk, grad_begin, kvd);
      zero_key_rows(dV_part, B, Tk, grad_begin, kvd);
      AttentionShape as{B, s.len, Tk, c.num_heads, c.num_kv_heads, c.head_dim, true, grad_begin};
      attention_backward<T>(s.q[l], kv.k[l], kv.v[l], s.probs[l], d_att, scale, dq[i], dK_part, dV_part, as);
      for (size_t j = 0; j < n; ++j) {
        Seg key = active[j]->seg;
        if (!routing.flows(s.seg, key)) continue;
        add_key_range(dK_part, dK, B, keys.len(key), Tk, keys.offset(key), kvd);
        add_key_range(dV_part, dV, B, keys.len(key), Tk, keys.offset(key), kvd);
      }
    }
    // Q/K/V projections and the attention RMSNorm of each segment.
    for (size_t i = 0; i < n; ++i) {
      const SegmentActs<T>& s = *active[i];
      const ExpertLayerView<T>& w = layer_of(p, s.seg, l);
      const ExpertLayerView<T>& gw = layer_of(g, s.seg, l);
      const bool wg = grads[i].weight_grads;
      const int64_t rows = B * s.len;
      gather_rows(dK, dk_rows, B, s.len, Tk, keys.offset(s.seg), kvd);
      gather_rows(dV, dv_rows, B, s.len, Tk, keys.offset(s.seg), kvd);
      zero(dk_pre, rows * kvd);
      rope_backward<T>(dk_rows, s.positions, c.rope_theta, dk_pre, RopeShape{B, s.len, c.num_kv_heads, c.head_dim, true});
      if (runs_queries(s, l, L)) {
        zero(dq_pre, rows * qd);
        rope_backward<T>(dq[i], s.positions, c.rope_theta, dq_pre, RopeShape{B, s.len, c.num_heads, c.head_dim, true});
        linear_rows_backward<T>(dq_pre, s.xn[l], w.q, dxn, wg ? gw.q : nullptr, nullptr, rows, s.w, qd, false);
        linear_rows_backward<T>(dk_pre, s.xn[l], w.k, dxn, wg ? gw.k : nullptr, nullptr, rows, s.w, kvd);
      } else {
        // The forward ran no queries here (no tail): the keys' gradient starts dxn.
        linear_rows_backward<T>(dk_pre, s.xn[l], w.k, dxn, wg ? gw.k : nullptr, nullptr, rows, s.w, kvd, false);
      }
      linear_rows_backward<T>(dv_rows, s.xn[l], w.v, dxn, wg ? gw.v : nullptr, nullptr, rows, s.w, kvd);
      // x_l feeds both the residual (dxmid) and the attention norm.
      copy(dx[i], dxmid[i], rows * s.w);
      if (wg) {
        rmsnorm_backward<T>(dxn, s.x[l], w.attn_norm, s.rstd1[l], dx[i], gw.attn_norm, rows, s.w);
      } else {
        T* dw_unused = dh[i];
        zero(dw_unused, s.w);
        rmsnorm_backward<T>(dxn, s.x[l], w.attn_norm, s.rstd1[l], dx[i], dw_unused, rows, s.w);
      }
    }
  }
  for (size_t i = 0; i < n; ++i)
    if (grads[i].dx0) add_into(grads[i].dx0, dx[i], B * active[i]->len * active[i]->w);
  scratch.reset(mark);
}

#define VLA_INSTANTIATE(T)                                                                                           \
  template void linear_rows<T>(const T*, const T*, const T*, T*, int64_t, int64_t, int64_t);                          \
  template void linear_rows_backward<T>(const T*, const T*, const T*, T*, T*, T*, int64_t, int64_t, int64_t, bool);  \
  template void allocate_segment<T>(Arena&, const ModelConfig&, int64_t, int64_t, Seg, bool, bool, SegmentActs<T>*); \
  template void allocate_kv<T>(Arena&, const ModelConfig&, int64_t, int64_t, KvCache<T>*);                            \
  template void mot_forward<T>(const ModelConfig&, const ParamsView<T>&, int64_t, const KeyLayout&, KvCache<T>&,     \
                               const std::vector<SegmentActs<T>*>&);                                                 \
  template void allocate_backward_scratch<T>(Arena&, const ModelConfig&, int64_t, int64_t,                         \
                                             const std::vector<SegmentActs<T>*>&, BackwardScratch<T>*);          \
  template void mot_backward<T>(const ModelConfig&, const ParamsView<T>&, const ParamsView<T>&, int64_t,             \
                                const KeyLayout&, const KvCache<T>&, const std::vector<SegmentActs<T>*>&,            \
                                const std::vector<SegmentGrad<T>>&, const GradientRouting&, Arena&);
VLA_INSTANTIATE(float)
VLA_INSTANTIATE(double)
#undef VLA_INSTANTIATE

}  // namespace vla
