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
#include "model/mot_impl.h"

namespace vla {

namespace {

template <typename T>
T* alloc(Arena& a, int64_t n, const char* what) {
  return a.alloc<T>(Shape{n}, what).data;
}

// Row copies and sums between a segment's rows [B, len, row] and its slice of the key rows
// [B, Tk, row]; split over samples (each writes its own rows: no races, any thread count).
int64_t sample_grain(int64_t len, int64_t row) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, len * row)); }

// dst[b, off + t, :] = src[b, t, :].
template <typename T>
void scatter_key_rows(const T* src, T* dst, int64_t B, int64_t len, int64_t Tk, int64_t off, int64_t row) {
  parallel_for(B, sample_grain(len, row), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b)
      std::memcpy(dst + (b * Tk + off) * row, src + b * len * row, static_cast<size_t>(len * row) * sizeof(T));
  });
}

// dst[b, t, :] = src[b, off + t, :].
template <typename T>
void gather_key_rows(const T* src, T* dst, int64_t B, int64_t len, int64_t Tk, int64_t off, int64_t row) {
  parallel_for(B, sample_grain(len, row), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b)
      std::memcpy(dst + b * len * row, src + (b * Tk + off) * row, static_cast<size_t>(len * row) * sizeof(T));
  });
}

// dst[b, off + t, :] += src[b, off + t, :] for t in [0, len).
template <typename T>
void add_key_rows(const T* src, T* dst, int64_t B, int64_t len, int64_t Tk, int64_t off, int64_t row) {
  parallel_for(B, sample_grain(len, row), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const T* s = src + (b * Tk + off) * row;
      T* d = dst + (b * Tk + off) * row;
      for (int64_t i = 0; i < len * row; ++i) d[i] += s[i];
    }
  });
}

template <typename T>
void add_values(T* dst, const T* src, int64_t n) {
  parallel_for(n, 1 << 15, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) dst[i] += src[i];
  });
}

template <typename T>
void copy_values(T* dst, const T* src, int64_t n) {
  parallel_for(n, 1 << 15, [&](int64_t i0, int64_t i1) {
    std::memcpy(dst + i0, src + i0, static_cast<size_t>(i1 - i0) * sizeof(T));
  });
}

// Zeroes key rows [begin, Tk) of every sample of a [B, Tk, row] buffer.
template <typename T>
void zero_key_rows_from(T* p, int64_t B, int64_t Tk, int64_t begin, int64_t row) {
  if (begin >= Tk) return;
  parallel_for(B, sample_grain(Tk - begin, row), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) std::memset(p + (b * Tk + begin) * row, 0, static_cast<size_t>((Tk - begin) * row) * sizeof(T));
  });
}

template <typename T>
void zero_values(T* p, int64_t n) {
  parallel_for(n, 1 << 15, [&](int64_t i0, int64_t i1) { std::memset(p + i0, 0, static_cast<size_t>(i1 - i0) * sizeof(T)); });
}

// y[M, N] = x[M, K] W^T + beta * y, on W's pack when there is one (float).
template <typename T>
void project_rows(const T* x, const T* W, const PackedWeights* packed, T* y, int64_t M, int64_t K, int64_t N, T beta) {
  if constexpr (std::is_same_v<T, float>) {
    if (packed) {
      gemm_packed(M, x, K, *packed, beta, y, N);
      return;
    }
  }
  gemm<T>(false, true, M, N, K, T(1), x, K, W, K, beta, y, N);
}

// The host backend of mot_impl.h: native/ops and the row helpers above.
template <typename T>
struct CpuMotOps {
  static void rmsnorm_forward(const T* x, const T* w, T eps, T* y, T* rstd, int64_t M, int64_t C) {
    vla::rmsnorm_forward<T>(x, w, eps, y, rstd, M, C);
  }
  static void rmsnorm_backward(const T* dy, const T* x, const T* w, const T* rstd, T* dx, T* dw, int64_t M, int64_t C) {
    vla::rmsnorm_backward<T>(dy, x, w, rstd, dx, dw, M, C);
  }
  static void rope_forward(const T* x, const int32_t* pos, double theta, T* y, const RopeShape& s) {
    vla::rope_forward<T>(x, pos, theta, y, s);
  }
  static void rope_backward(const T* dy, const int32_t* pos, double theta, T* dx, const RopeShape& s) {
    vla::rope_backward<T>(dy, pos, theta, dx, s);
  }
  static void attention_forward(const T* q, const T* k, const T* v, const uint8_t* mask, T scale, T* out, T* probs,
                                const AttentionShape& s) {
    vla::attention_forward<T>(q, k, v, mask, scale, out, probs, s);
  }
  static void attention_backward(const T* q, const T* k, const T* v, const T* probs, const T* dout, T scale, T* dq,
                                 T* dk, T* dv, const AttentionShape& s) {
    vla::attention_backward<T>(q, k, v, probs, dout, scale, dq, dk, dv, s);
  }
  static void geglu_forward(const T* x, T* y, int64_t M, int64_t F) { vla::geglu_forward<T>(x, y, M, F); }
  static void geglu_backward(const T* dy, const T* x, T* dx, int64_t M, int64_t F) {
    vla::geglu_backward<T>(dy, x, dx, M, F);
  }
  static void linear_rows_backward(const T* dy, const T* x, const T* W, T* dx, T* dW, T* db, int64_t M, int64_t K,
                                   int64_t N, bool accumulate_dx = true) {
    vla::linear_rows_backward<T>(dy, x, W, dx, dW, db, M, K, N, accumulate_dx);
  }
  static void project(const T* x, const T* W, const PackedWeights* packed, T* y, int64_t M, int64_t K, int64_t N,
                      T beta) {
    project_rows<T>(x, W, packed, y, M, K, N, beta);
  }
  static void copy(T* dst, const T* src, int64_t n) { copy_values(dst, src, n); }
  static void zero(T* p, int64_t n) { zero_values(p, n); }
  static void add_into(T* dst, const T* src, int64_t n) { add_values(dst, src, n); }
  static void scatter_rows(const T* src, T* dst, int64_t B, int64_t len, int64_t Tk, int64_t off, int64_t row) {
    scatter_key_rows(src, dst, B, len, Tk, off, row);
  }
  static void gather_rows(const T* src, T* dst, int64_t B, int64_t len, int64_t Tk, int64_t off, int64_t row) {
    gather_key_rows(src, dst, B, len, Tk, off, row);
  }
  static void add_key_range(const T* src, T* dst, int64_t B, int64_t len, int64_t Tk, int64_t off, int64_t row) {
    add_key_rows(src, dst, B, len, Tk, off, row);
  }
  static void zero_key_rows(T* p, int64_t B, int64_t Tk, int64_t begin, int64_t row) {
    zero_key_rows_from(p, B, Tk, begin, row);
  }
};

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
  s->w = mot_detail::width_of(c, seg);
  s->F = mot_detail::mlp_of(c, seg);
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
  mot_forward_impl<T, CpuMotOps<T>>(c, p, B, keys, kv, active);
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
  mot_backward_impl<T, CpuMotOps<T>>(c, p, g, B, keys, kv, active, grads, routing, scratch);
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
