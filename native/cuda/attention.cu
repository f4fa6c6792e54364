#include "cuda/dialect.h"

#include <cmath>

#include "cuda/attention_cuda.h"
#include "cuda/cuda_check.h"
#include "cuda/device_buffer.h"
#include "cuda/kernel_utils.h"

// Full unrolling keeps the small per-thread arrays in registers (the host compiler of the
// emulator does not know the pragma).
#if defined(VLA_CUDA_EMULATION)
#define VLA_ATTN_UNROLL
#else
#define VLA_ATTN_UNROLL _Pragma("unroll")
#endif

namespace vla::VLA_CUDA_NS {

namespace {

constexpr int kThreads = 128;  // 4 warps per block, every kernel here
constexpr int kWarps = kThreads / 32;
constexpr int kSmall = 16;                       // rows (or keys) on the small side of a tile
constexpr int kPerWarp = kSmall / kWarps;        // small-side vectors per warp in weighted_rows
constexpr int kDepth = 32;                       // head-dim chunk staged in shared memory
constexpr int kBigStride = kDepth + 4;           // padded: conflict-free 16-byte reads per thread
constexpr int kMaxCols = 8;                      // columns per lane: column blocks of 256

struct alignas(16) Float4 {
  float x, y, z, w;
};

// Shared staging of tile_dots: a depth chunk of the kSmall small-side vectors and of the
// kThreads big-side vectors (one per thread).
struct alignas(16) DotTile {
  float a[kSmall * kDepth];
  float b[kThreads * kBigStride];
};

// acc[s] = sum_d (a_scale * A[a_off[s] + d]) * B[b_off[t] + d] for s < kSmall, where t is the
// calling thread, d < D. Offsets (in shared memory) < 0 stand for zero vectors. The depth is
// staged kDepth at a time (coalesced row loads); each thread then reads its own big-side vector
// as float4 and the small-side ones as broadcasts. Every thread of the block must call it; it
// starts with a barrier, so offsets written before the call are visible.
__device__ void tile_dots(const float* A, const int64_t* a_off, float a_scale, const float* B, const int64_t* b_off,
                          int64_t D, DotTile& tile, float (&acc)[kSmall]) {
  const int t = threadIdx.x;
VLA_ATTN_UNROLL
  for (int s = 0; s < kSmall; ++s) acc[s] = 0.0f;
  for (int64_t d0 = 0; d0 < D; d0 += kDepth) {
    __syncthreads();  // the previous chunk (or call) is consumed
    for (int e = t; e < kSmall * kDepth; e += kThreads) {
      const int s = e / kDepth, d = e % kDepth;
      const int64_t off = a_off[s];
      tile.a[e] = (off >= 0 && d0 + d < D) ? A[off + d0 + d] * a_scale : 0.0f;
    }
    for (int e = t; e < kThreads * kDepth; e += kThreads) {
      const int r = e / kDepth, d = e % kDepth;
      const int64_t off = b_off[r];
      tile.b[r * kBigStride + d] = (off >= 0 && d0 + d < D) ? B[off + d0 + d] : 0.0f;
    }
    __syncthreads();
    const float* brow = tile.b + t * kBigStride;
VLA_ATTN_UNROLL
    for (int d = 0; d < kDepth; d += 4) {
      const Float4 bv = *reinterpret_cast<const Float4*>(brow + d);
VLA_ATTN_UNROLL
      for (int s = 0; s < kSmall; ++s) {
        const Float4 av = *reinterpret_cast<const Float4*>(tile.a + s * kDepth + d);
        float x = acc[s];
        x = fmaf(av.x, bv.x, x);
        x = fmaf(av.y, bv.y, x);
        x = fmaf(av.z, bv.z, x);
        x = fmaf(av.w, bv.w, x);
        acc[s] = x;
      }
    }
  }
}

// acc[rr][c] += sum_{jj < n} w[(warp * kPerWarp + rr) * kThreads + jj] * M[m_off[jj] + col]
// with col = c0 + lane + 32 c < D: warp `warp` owns kPerWarp small-side vectors, each lane
// NCOL columns (coalesced along D). w and m_off are in shared memory; m_off[jj] is valid for
// jj < n. Entries whose kPerWarp weights are all zero (blocked keys) are skipped, warp-uniformly.
template <int NCOL>
__device__ void weighted_rows(const float* w, const float* M, const int64_t* m_off, int n, int64_t D, int64_t c0,
                              float (&acc)[kPerWarp][NCOL]) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const float* wr = w + warp * kPerWarp * kThreads;
  for (int jj = 0; jj < n; ++jj) {
    float wv[kPerWarp];
    bool any = false;
VLA_ATTN_UNROLL
    for (int rr = 0; rr < kPerWarp; ++rr) {
      wv[rr] = wr[rr * kThreads + jj];
      any = any || wv[rr] != 0.0f;
    }
    if (!any) continue;
    const float* mrow = M + m_off[jj] + c0 + lane;
    float m[NCOL];
VLA_ATTN_UNROLL
    for (int c = 0; c < NCOL; ++c) m[c] = c0 + lane + 32 * c < D ? mrow[32 * c] : 0.0f;
VLA_ATTN_UNROLL
    for (int rr = 0; rr < kPerWarp; ++rr)
VLA_ATTN_UNROLL
      for (int c = 0; c < NCOL; ++c) acc[rr][c] = fmaf(wv[rr], m[c], acc[rr][c]);
  }
}

// dst[off[warp * kPerWarp + rr] + col] (+)= acc[rr][c] for the rows whose offset is >= 0.
template <int NCOL, bool kAccumulate>
__device__ void store_rows(float* dst, const int64_t* off, int64_t D, int64_t c0, const float (&acc)[kPerWarp][NCOL]) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
VLA_ATTN_UNROLL
  for (int rr = 0; rr < kPerWarp; ++rr) {
    const int64_t o = off[warp * kPerWarp + rr];
    if (o < 0) continue;
VLA_ATTN_UNROLL
    for (int c = 0; c < NCOL; ++c) {
      const int64_t col = c0 + lane + 32 * c;
      if (col < D) {
        if (kAccumulate)
          dst[o + col] += acc[rr][c];
        else
          dst[o + col] = acc[rr][c];
      }
    }
  }
}

template <int NCOL>
__device__ void zero_acc(float (&acc)[kPerWarp][NCOL]) {
VLA_ATTN_UNROLL
  for (int rr = 0; rr < kPerWarp; ++rr)
VLA_ATTN_UNROLL
    for (int c = 0; c < NCOL; ++c) acc[rr][c] = 0.0f;
}

struct Dims {
  int64_t Tq, Tk, Hq, Hkv, D, group;
};

// Offsets of flattened row r = i * group + hh of (b, g), i.e. query i, head g * group + hh:
// into q / out / dout / dq ([B, Tq, Hq, D]) and into probs ([B, Hq, Tq, Tk]).
__device__ inline int64_t q_offset(const Dims& s, int64_t b, int64_t g, int64_t r) {
  const int64_t i = r / s.group, h = g * s.group + r % s.group;
  return ((b * s.Tq + i) * s.Hq + h) * s.D;
}
__device__ inline int64_t p_offset(const Dims& s, int64_t b, int64_t g, int64_t r) {
  const int64_t i = r / s.group, h = g * s.group + r % s.group;
  return ((b * s.Hq + h) * s.Tq + i) * s.Tk;
}
__device__ inline int64_t kv_offset(const Dims& s, int64_t b, int64_t g, int64_t j) {
  return ((b * s.Tk + j) * s.Hkv + g) * s.D;
}

// Thread t < kSmall: the offsets of the query tile's row row0 + t of (b, g) into q / out
// (row_q) and probs (row_p), -1 past the last row.
__device__ inline void set_tile_rows(const Dims& s, int64_t b, int64_t g, int64_t row0, int64_t* row_q,
                                     int64_t* row_p) {
  const int t = threadIdx.x;
  if (t < kSmall) {
    const int64_t r = row0 + t;
    const bool ok = r < s.Tq * s.group;
    row_q[t] = ok ? q_offset(s, b, g, r) : -1;
    row_p[t] = ok ? p_offset(s, b, g, r) : -1;
  }
}

// Items of the chunk [start, start + cap) that are below total.
__device__ inline int chunk_len(int64_t total, int64_t start, int cap = kThreads) {
  return static_cast<int>(total - start < cap ? total - start : cap);
}

// Forward. Block: (tile of kSmall rows, b * Hkv + g). Three phases over the tile:
//   1. per chunk of kThreads keys (thread t: key j0 + t), raw scores scale q.k, or -inf where
//      blocked, written to probs; chunks blocked for the whole tile skip the dot products;
//   2. warp per row: online max/sum over the row, then probs = exp(s - max) / sum (0 where -inf;
//      a row with no allowed key gets all zeros);
//   3. out = probs x V: probs chunk to shared, warp owns kPerWarp rows, lane NCOL columns.
template <int NCOL>
__global__ void __launch_bounds__(kThreads)
    attention_fwd_kernel(const float* q, const float* k, const float* v, const uint8_t* mask, bool mask_per_batch,
                         float scale, float* out, float* probs, Dims s) {
  __shared__ DotTile tile;
  __shared__ float sw[kSmall * kThreads];
  __shared__ int64_t row_q[kSmall], row_p[kSmall], row_m[kSmall], key_off[kThreads];
  __shared__ int chunk_flag;

  const int t = threadIdx.x, warp = t / 32, lane = t % 32;
  const int64_t b = blockIdx.y / s.Hkv, g = blockIdx.y % s.Hkv;
  const int64_t rows = s.Tq * s.group, row0 = static_cast<int64_t>(blockIdx.x) * kSmall;
  const int64_t Tk = s.Tk;
  set_tile_rows(s, b, g, row0, row_q, row_p);
  if (t < kSmall) {
    const int64_t r = row0 + t;
    row_m[t] = r < rows && mask ? ((mask_per_batch ? b : 0) * s.Tq + r / s.group) * Tk : 0;
  }
  if (t == 0) chunk_flag = 0;
  // A chunk's "any work" flag: set to the chunk's epoch by any thread that sees work, read after
  // the next barrier; epochs never repeat, so it needs no reset (and no extra barrier).
  int epoch = 0;

  // Phase 1: raw scores.
  for (int64_t j0 = 0; j0 < Tk; j0 += kThreads) {
    const int64_t j = j0 + t;
    const bool valid = j < Tk;
    ++epoch;
    __syncthreads();  // offsets ready (first chunk); previous chunk's key_off / flag consumed
    key_off[t] = valid ? kv_offset(s, b, g, j) : -1;
    unsigned allowed = 0;
    if (valid)
      for (int r = 0; r < kSmall; ++r)
        if (row_q[r] >= 0 && (!mask || mask[row_m[r] + j])) allowed |= 1u << r;
    if (allowed) chunk_flag = epoch;
    __syncthreads();
    if (chunk_flag == epoch) {
      float acc[kSmall];
      tile_dots(q, row_q, scale, k, key_off, s.D, tile, acc);
      if (valid)
VLA_ATTN_UNROLL
        for (int r = 0; r < kSmall; ++r)
          if (row_p[r] >= 0) probs[row_p[r] + j] = (allowed >> r & 1u) ? acc[r] : -INFINITY;
    } else if (valid) {
      for (int r = 0; r < kSmall; ++r)
        if (row_p[r] >= 0) probs[row_p[r] + j] = -INFINITY;
    }
  }
  __syncthreads();  // raw scores visible to the block

  // Phase 2: masked softmax in place, warp per row.
  for (int r = warp; r < kSmall; r += kWarps) {
    if (row_p[r] < 0) continue;
    float* prow = probs + row_p[r];
    float m = -INFINITY, l = 0.0f;
    for (int64_t j = lane; j < Tk; j += 32) {
      const float x = prow[j];
      if (x > m) {
        l = l * expf(m - x) + 1.0f;
        m = x;
      } else if (x != -INFINITY) {
        l += expf(x - m);
      }
    }
    for (int o = 16; o > 0; o >>= 1) {
      const float m2 = __shfl_xor_sync(0xffffffffu, m, o);
      const float l2 = __shfl_xor_sync(0xffffffffu, l, o);
      const float mn = fmaxf(m, m2);
      l = mn == -INFINITY ? 0.0f : l * expf(m - mn) + l2 * expf(m2 - mn);
      m = mn;
    }
    const float inv = m == -INFINITY ? 0.0f : 1.0f / l;  // the max contributes 1: l >= 1
    for (int64_t j = lane; j < Tk; j += 32) {
      const float x = prow[j];
      prow[j] = x == -INFINITY ? 0.0f : expf(x - m) * inv;
    }
  }

  // Phase 3: out = probs x V.
  for (int64_t c0 = 0; c0 < s.D; c0 += 32 * NCOL) {
    float acc[kPerWarp][NCOL];
    zero_acc(acc);
    for (int64_t j0 = 0; j0 < Tk; j0 += kThreads) {
      const int64_t j = j0 + t;
      const bool valid = j < Tk;
      ++epoch;
      __syncthreads();  // probs written (first chunk); previous chunk's sw / key_off consumed
      key_off[t] = valid ? kv_offset(s, b, g, j) : -1;
      bool any = false;
      for (int r = 0; r < kSmall; ++r) {
        const float p = valid && row_p[r] >= 0 ? probs[row_p[r] + j] : 0.0f;
        sw[r * kThreads + t] = p;
        any = any || p != 0.0f;
      }
      if (any) chunk_flag = epoch;
      __syncthreads();
      if (chunk_flag == epoch) {
        const int n = chunk_len(Tk, j0);
        weighted_rows<NCOL>(sw, v, key_off, n, s.D, c0, acc);
      }
    }
    store_rows<NCOL, false>(out, row_q, s.D, c0, acc);
  }
}

// Backward, query side. Block: (tile of kSmall rows, b * Hkv + g). Pass 1 over key chunks:
// dP = dout V^T (tile_dots), delta_r = sum_j P dP (per-thread partials, then a fixed-order block
// reduction), saved to `delta` for the key-side kernel. Pass 2: dP again, dS = scale P (dP - delta)
// to shared, dq += dS K.
template <int NCOL>
__global__ void __launch_bounds__(kThreads)
    attention_bwd_query_kernel(const float* k, const float* v, const float* probs, const float* dout, float scale,
                               float* dq, float* delta, Dims s) {
  __shared__ DotTile tile;
  __shared__ float sw[kSmall * kThreads];
  __shared__ float red[kWarps * kSmall];
  __shared__ float row_delta[kSmall];
  __shared__ int64_t row_q[kSmall], row_p[kSmall], key_off[kThreads];
  __shared__ int chunk_flag;

  const int t = threadIdx.x, warp = t / 32, lane = t % 32;
  const int64_t b = blockIdx.y / s.Hkv, g = blockIdx.y % s.Hkv;
  const int64_t rows = s.Tq * s.group, row0 = static_cast<int64_t>(blockIdx.x) * kSmall;
  const int64_t Tk = s.Tk;
  set_tile_rows(s, b, g, row0, row_q, row_p);
  if (t == 0) chunk_flag = 0;
  int epoch = 0;

  // Loads this thread's probs column (key j) of the tile; sets the chunk flag when nonzero.
  auto load_p = [&](int64_t j, bool valid, float (&p)[kSmall]) {
    bool any = false;
VLA_ATTN_UNROLL
    for (int r = 0; r < kSmall; ++r) {
      p[r] = valid && row_p[r] >= 0 ? probs[row_p[r] + j] : 0.0f;
      any = any || p[r] != 0.0f;
    }
    if (any) chunk_flag = epoch;
  };

  // Pass 1: delta.
  float part[kSmall];
VLA_ATTN_UNROLL
  for (int r = 0; r < kSmall; ++r) part[r] = 0.0f;
  for (int64_t j0 = 0; j0 < Tk; j0 += kThreads) {
    const int64_t j = j0 + t;
    const bool valid = j < Tk;
    ++epoch;
    __syncthreads();
    key_off[t] = valid ? kv_offset(s, b, g, j) : -1;
    float p[kSmall];
    load_p(j, valid, p);
    __syncthreads();
    if (chunk_flag == epoch) {
      float dp[kSmall];
      tile_dots(dout, row_q, 1.0f, v, key_off, s.D, tile, dp);
VLA_ATTN_UNROLL
      for (int r = 0; r < kSmall; ++r) part[r] = fmaf(p[r], dp[r], part[r]);
    }
  }
VLA_ATTN_UNROLL
  for (int r = 0; r < kSmall; ++r) {
    const float x = warp_sum(part[r]);
    if (lane == 0) red[warp * kSmall + r] = x;
  }
  __syncthreads();
  if (t < kSmall) {
    float x = 0.0f;
    for (int w = 0; w < kWarps; ++w) x += red[w * kSmall + t];
    row_delta[t] = x;
    if (row0 + t < rows) delta[blockIdx.y * rows + row0 + t] = x;
  }

  // Pass 2: dq.
  for (int64_t c0 = 0; c0 < s.D; c0 += 32 * NCOL) {
    float acc[kPerWarp][NCOL];
    zero_acc(acc);
    for (int64_t j0 = 0; j0 < Tk; j0 += kThreads) {
      const int64_t j = j0 + t;
      const bool valid = j < Tk;
      ++epoch;
      __syncthreads();  // row_delta ready; previous chunk's sw / key_off consumed
      key_off[t] = valid ? kv_offset(s, b, g, j) : -1;
      float p[kSmall];
      load_p(j, valid, p);
      __syncthreads();
      if (chunk_flag == epoch) {
        float dp[kSmall];
        tile_dots(dout, row_q, 1.0f, v, key_off, s.D, tile, dp);
VLA_ATTN_UNROLL
        for (int r = 0; r < kSmall; ++r) sw[r * kThreads + t] = p[r] * (dp[r] - row_delta[r]) * scale;
        __syncthreads();
        const int n = chunk_len(Tk, j0);
        weighted_rows<NCOL>(sw, k, key_off, n, s.D, c0, acc);
      }
    }
    store_rows<NCOL, true>(dq, row_q, s.D, c0, acc);
  }
}

// Backward, key side. Block: (tile of kSmall keys starting at key_tile0 * kSmall, b * Hkv + g).
// Loops over chunks of kThreads rows (thread t: row rc0 + t) of all the group's query heads:
// dP = dout V^T for the tile's keys (tile_dots with the keys on the small side), dS = scale P
// (dP - delta); then warps own kPerWarp keys: dk += dS^T Q, dv += P^T dout, so each dk/dv
// element is summed by one thread over all rows in order.
template <int NCOL>
__global__ void __launch_bounds__(kThreads)
    attention_bwd_key_kernel(const float* q, const float* v, const float* probs, const float* dout, float scale,
                             float* dk, float* dv, const float* delta, int64_t key_tile0, int64_t key_begin,
                             Dims s) {
  __shared__ DotTile tile;
  __shared__ float sds[kSmall * kThreads];
  __shared__ float sp[kSmall * kThreads];
  __shared__ int64_t key_kv[kSmall], key_out[kSmall], row_off[kThreads];
  __shared__ int chunk_flag;

  const int t = threadIdx.x;
  const int64_t b = blockIdx.y / s.Hkv, g = blockIdx.y % s.Hkv;
  const int64_t rows = s.Tq * s.group;
  const int64_t k0 = (key_tile0 + blockIdx.x) * kSmall;
  if (t < kSmall) {
    const int64_t j = k0 + t;
    key_kv[t] = j < s.Tk ? kv_offset(s, b, g, j) : -1;
    key_out[t] = j < s.Tk && j >= key_begin ? key_kv[t] : -1;
  }
  if (t == 0) chunk_flag = 0;
  int epoch = 0;
  const int nkeys = chunk_len(s.Tk, k0, kSmall);

  for (int64_t c0 = 0; c0 < s.D; c0 += 32 * NCOL) {
    float acc_k[kPerWarp][NCOL], acc_v[kPerWarp][NCOL];
    zero_acc(acc_k);
    zero_acc(acc_v);
    for (int64_t rc0 = 0; rc0 < rows; rc0 += kThreads) {
      const int64_t r = rc0 + t;
      const bool valid = r < rows;
      ++epoch;
      __syncthreads();  // key offsets ready; previous chunk's sds / sp / row_off consumed
      row_off[t] = valid ? q_offset(s, b, g, r) : -1;
      float p[kSmall];
      float row_delta = 0.0f;
      bool any = false;
      if (valid) {
        const float* prow = probs + p_offset(s, b, g, r) + k0;
        row_delta = delta[blockIdx.y * rows + r];
VLA_ATTN_UNROLL
        for (int jj = 0; jj < kSmall; ++jj) {
          p[jj] = jj < nkeys ? prow[jj] : 0.0f;
          any = any || p[jj] != 0.0f;
        }
      } else {
VLA_ATTN_UNROLL
        for (int jj = 0; jj < kSmall; ++jj) p[jj] = 0.0f;
      }
      if (any) chunk_flag = epoch;
      __syncthreads();
      if (chunk_flag == epoch) {
        float dp[kSmall];
        tile_dots(v, key_kv, 1.0f, dout, row_off, s.D, tile, dp);
VLA_ATTN_UNROLL
        for (int jj = 0; jj < kSmall; ++jj) {
          sds[jj * kThreads + t] = p[jj] * (dp[jj] - row_delta) * scale;
          sp[jj * kThreads + t] = p[jj];
        }
        __syncthreads();
        const int n = chunk_len(rows, rc0);
        weighted_rows<NCOL>(sds, q, row_off, n, s.D, c0, acc_k);
        weighted_rows<NCOL>(sp, dout, row_off, n, s.D, c0, acc_v);
      }
    }
    store_rows<NCOL, true>(dk, key_out, s.D, c0, acc_k);
    store_rows<NCOL, true>(dv, key_out, s.D, c0, acc_v);
  }
}

inline int columns_per_lane(int64_t D) { return D <= 32 ? 1 : D <= 64 ? 2 : D <= 128 ? 4 : kMaxCols; }

inline unsigned tiles(int64_t n) { return static_cast<unsigned>((n + kSmall - 1) / kSmall); }

void check_shape(const AttentionShape& s, const char* what) {
  if (s.B < 0 || s.Tq < 0 || s.Tk < 0 || s.Hq < 0 || s.Hkv <= 0 || s.D <= 0 || s.Hq % s.Hkv != 0)
    fail(ErrorCode::kArgument, what, ": bad shape B=", s.B, " Tq=", s.Tq, " Tk=", s.Tk, " Hq=", s.Hq, " Hkv=", s.Hkv,
         " D=", s.D);
  if (s.B * s.Hkv > 65535) fail(ErrorCode::kArgument, what, ": B * Hkv = ", s.B * s.Hkv, " above 65535");
  if ((s.Tq * (s.Hq / s.Hkv) + kSmall - 1) / kSmall > 0x7fffffff || (s.Tk + kSmall - 1) / kSmall > 0x7fffffff)
    fail(ErrorCode::kArgument, what, ": sequence too long");
}

Dims dims_of(const AttentionShape& s) { return Dims{s.Tq, s.Tk, s.Hq, s.Hkv, s.D, s.Hq / s.Hkv}; }

// The delta workspace of attention_backward: one per host thread (kernels of different host
// threads on the default stream could otherwise interleave), grown on demand.
float* delta_workspace(int64_t n) {
  thread_local DeviceBuffer buffer;
  const size_t bytes = static_cast<size_t>(n) * sizeof(float);
  if (buffer.bytes() < bytes) buffer = DeviceBuffer(bytes + bytes / 4);
  return buffer.as<float>();
}

}  // namespace

void attention_forward(const float* q, const float* k, const float* v, const uint8_t* mask, float scale, float* out,
                       float* probs, const AttentionShape& s) {
  if (s.B == 0 || s.Tq == 0 || s.Hq == 0) return;
  check_shape(s, "attention_forward");
  const Dims d = dims_of(s);
  const dim3 grid(tiles(s.Tq * d.group), static_cast<unsigned>(s.B * s.Hkv));
#define VLA_FWD(NCOL)                                                                          \
  {                                                                                            \
    auto kernel = attention_fwd_kernel<NCOL>;                                                  \
    VLA_LAUNCH(kernel, grid, kThreads, 0, q, k, v, mask, s.mask_per_batch, scale, out, probs, d); \
  }
  switch (columns_per_lane(s.D)) {
    case 1: VLA_FWD(1) break;
    case 2: VLA_FWD(2) break;
    case 4: VLA_FWD(4) break;
    default: VLA_FWD(kMaxCols) break;
  }
#undef VLA_FWD
  VLA_CUDA_CHECK(cudaGetLastError());
}

void attention_backward(const float* q, const float* k, const float* v, const float* probs, const float* dout,
                        float scale, float* dq, float* dk, float* dv, const AttentionShape& s) {
  if (s.B == 0 || s.Tq == 0 || s.Tk == 0 || s.Hq == 0) return;
  check_shape(s, "attention_backward");
  const Dims d = dims_of(s);
  float* delta = delta_workspace(s.B * s.Hq * s.Tq);
  const int64_t key_begin = s.grad_key_begin < 0 ? 0 : s.grad_key_begin;
  const int64_t key_tile0 = key_begin / kSmall;
  const dim3 qgrid(tiles(s.Tq * d.group), static_cast<unsigned>(s.B * s.Hkv));
  const int64_t key_tiles = key_begin < s.Tk ? tiles(s.Tk) - key_tile0 : 0;  // tiles holding keys >= key_begin
  const dim3 kgrid(static_cast<unsigned>(key_tiles), static_cast<unsigned>(s.B * s.Hkv));
#define VLA_BWD(NCOL)                                                                                     \
  {                                                                                                       \
    auto qkernel = attention_bwd_query_kernel<NCOL>;                                                      \
    VLA_LAUNCH(qkernel, qgrid, kThreads, 0, k, v, probs, dout, scale, dq, delta, d);                      \
    VLA_CUDA_CHECK(cudaGetLastError());                                                                   \
    if (kgrid.x > 0) {                                                                                    \
      auto kkernel = attention_bwd_key_kernel<NCOL>;                                                      \
      VLA_LAUNCH(kkernel, kgrid, kThreads, 0, q, v, probs, dout, scale, dk, dv, delta, key_tile0, key_begin, d); \
      VLA_CUDA_CHECK(cudaGetLastError());                                                                 \
    }                                                                                                     \
  }
  switch (columns_per_lane(s.D)) {
    case 1: VLA_BWD(1) break;
    case 2: VLA_BWD(2) break;
    case 4: VLA_BWD(4) break;
    default: VLA_BWD(kMaxCols) break;
  }
#undef VLA_BWD
}

}  // namespace vla::VLA_CUDA_NS

#undef VLA_ATTN_UNROLL
