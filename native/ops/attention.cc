#include "ops/attention.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "core/thread_pool.h"
#include "ops/vector_math.h"
#include "ops/weighted_rows.h"

namespace vla {

namespace {

// Query rows (or keys, in the backward's key pass) handled together: they share every K/V row
// the kernel loads (see weighted_rows.h).
constexpr int64_t kRowBlock = kMaxWeightedOutputs;

// dst[c * rows + r] = src[r * src_stride + c] for r < rows, c < cols: a transpose in square tiles
// so that both sides stay in cache.
template <typename T>
void transpose(const T* src, int64_t src_stride, int64_t rows, int64_t cols, T* dst) {
  constexpr int64_t kTile = 16;
  for (int64_t r0 = 0; r0 < rows; r0 += kTile)
    for (int64_t c0 = 0; c0 < cols; c0 += kTile) {
      const int64_t r1 = std::min(rows, r0 + kTile), c1 = std::min(cols, c0 + kTile);
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = c0; c < c1; ++c) dst[c * rows + r] = src[r * src_stride + c];
    }
}

// [lo, hi): the smallest range holding every nonzero entry of row[0, n); lo == hi when none.
template <typename R>
void nonzero_range(const R* row, int64_t n, int64_t* lo, int64_t* hi) {
  int64_t a = 0, b = n;
  while (a < b && row[a] == R(0)) ++a;
  while (b > a && row[b - 1] == R(0)) --b;
  *lo = a;
  *hi = b;
}

// The union of the nonempty ranges [lo[r], hi[r]) for r < count; empty (lo == hi) when all are.
inline void union_range(const int64_t* lo, const int64_t* hi, int64_t count, int64_t* ulo, int64_t* uhi) {
  *ulo = std::numeric_limits<int64_t>::max();
  *uhi = std::numeric_limits<int64_t>::min();
  for (int64_t r = 0; r < count; ++r) {
    if (lo[r] == hi[r]) continue;
    *ulo = std::min(*ulo, lo[r]);
    *uhi = std::max(*uhi, hi[r]);
  }
  if (*ulo > *uhi) *ulo = *uhi = 0;
}

// Softmax of scores[lo, hi) over the allowed entries (all when `allowed` is null), written to
// p[lo, hi); `scores` is overwritten. At least one entry of the range is allowed.
template <typename T>
void masked_softmax(T* scores, const uint8_t* allowed, int64_t lo, int64_t hi, T* p) {
  T row_max = -std::numeric_limits<T>::infinity();
  for (int64_t j = lo; j < hi; ++j)
    if (!allowed || allowed[j]) row_max = std::max(row_max, scores[j]);
  exp_shifted_inplace(scores + lo, row_max, hi - lo);
  if (allowed)
    for (int64_t j = lo; j < hi; ++j) scores[j] = allowed[j] ? scores[j] : T(0);
  // The max element contributes exp(0) = 1, so the sum is >= 1.
  const T inv_sum = T(1) / sum(scores + lo, hi - lo);
  for (int64_t j = lo; j < hi; ++j) p[j] = scores[j] * inv_sum;
}

}  // namespace

template <typename T>
void attention_forward(const T* q, const T* k, const T* v, const uint8_t* mask, T scale, T* out, T* probs,
                       const AttentionShape& s) {
  const int64_t B = s.B, Tq = s.Tq, Tk = s.Tk, Hq = s.Hq, Hkv = s.Hkv, D = s.D;
  if (B == 0 || Tq == 0 || Hq == 0) return;
  const int64_t group = Hq / Hkv;
  const int64_t kv_stride = Hkv * D;  // between consecutive keys of one head
  const int64_t q_stride = Hq * D;    // between consecutive queries of one head
  // A task takes the query heads that share a KV head, so K is transposed once for all of them,
  // unless that leaves threads idle (batch 1 with few KV heads): then one query head per task.
  // The split never changes a result: every output row is computed the same way by one task.
  const int64_t heads_per_task = B * Hkv >= num_threads() ? group : 1;
  const int64_t tasks_per_batch = Hq / heads_per_task;
  const int64_t work_per_task = std::max<int64_t>(1, heads_per_task * Tq * std::max<int64_t>(Tk, 1) * D);
  const WeightedRowsFn<T> add_rows = weighted_rows_kernel<T>();

  const int64_t grain = std::max<int64_t>(1, (1 << 15) / work_per_task);
  parallel_for(B * tasks_per_batch, grain, [&](int64_t task_begin, int64_t task_end) {
    std::vector<T> kt(static_cast<size_t>(D * Tk));  // K of this head, transposed: kt[d * Tk + j]
    std::vector<const T*> kt_rows(static_cast<size_t>(D)), v_rows(static_cast<size_t>(Tk));
    std::vector<T> scores(static_cast<size_t>(kRowBlock * Tk));
    std::vector<T> q_scaled(static_cast<size_t>(kRowBlock * D));
    for (int64_t task = task_begin; task < task_end; ++task) {
      const int64_t b = task / tasks_per_batch, h_begin = task % tasks_per_batch * heads_per_task;
      const int64_t g = h_begin / group;
      const T* k_head = k + (b * Tk * Hkv + g) * D;
      const T* v_head = v + (b * Tk * Hkv + g) * D;
      transpose(k_head, kv_stride, Tk, D, kt.data());
      for (int64_t j = 0; j < Tk; ++j) v_rows[j] = v_head + j * kv_stride;
      const uint8_t* mask_rows = mask ? mask + (s.mask_per_batch ? b : 0) * Tq * Tk : nullptr;
      for (int64_t h = h_begin; h < h_begin + heads_per_task; ++h) {
        T* p_head = probs + (b * Hq + h) * Tq * Tk;

        for (int64_t i0 = 0; i0 < Tq; i0 += kRowBlock) {
          const int64_t rows = std::min(kRowBlock, Tq - i0);
          int64_t lo[kRowBlock], hi[kRowBlock];
          T* out_rows[kRowBlock];
          T* score_rows[kRowBlock];
          for (int64_t r = 0; r < rows; ++r) {
            const int64_t i = i0 + r;
            lo[r] = 0;
            hi[r] = Tk;
            if (mask_rows) nonzero_range(mask_rows + i * Tk, Tk, &lo[r], &hi[r]);
            out_rows[r] = out + (b * Tq + i) * q_stride + h * D;
            std::fill(out_rows[r], out_rows[r] + D, T(0));
            std::fill(p_head + i * Tk, p_head + (i + 1) * Tk, T(0));
            const T* q_row = q + (b * Tq + i) * q_stride + h * D;
            for (int64_t d = 0; d < D; ++d) q_scaled[r * D + d] = q_row[d] * scale;
          }
          int64_t ulo, uhi;
          union_range(lo, hi, rows, &ulo, &uhi);
          if (ulo == uhi) continue;  // every key blocked for these queries: zeros
          const int64_t n = uhi - ulo;

          // scores[r][j] = sum_d (scale q_r[d]) kt[d][j] over the block's key range.
          for (int64_t d = 0; d < D; ++d) kt_rows[d] = kt.data() + d * Tk + ulo;
          for (int64_t r = 0; r < rows; ++r) {
            score_rows[r] = scores.data() + r * Tk + ulo;
            std::fill(score_rows[r], score_rows[r] + n, T(0));
          }
          add_rows(score_rows, static_cast<int>(rows), n, q_scaled.data(), D, kt_rows.data(), D);
          for (int64_t r = 0; r < rows; ++r) {
            if (lo[r] == hi[r]) continue;  // every key blocked for this query: zeros
            const int64_t i = i0 + r;
            masked_softmax(scores.data() + r * Tk, mask_rows ? mask_rows + i * Tk : nullptr, lo[r], hi[r],
                           p_head + i * Tk);
          }
          // out_r = sum_j p_r[j] v_j; p is 0 outside each row's own allowed range.
          add_rows(out_rows, static_cast<int>(rows), D, p_head + i0 * Tk + ulo, Tk, v_rows.data() + ulo, n);
        }
      }
    }
  });
}

template <typename T>
void attention_backward(const T* q, const T* k, const T* v, const T* probs, const T* dout, T scale, T* dq, T* dk,
                        T* dv, const AttentionShape& s) {
  const int64_t B = s.B, Tq = s.Tq, Tk = s.Tk, Hq = s.Hq, Hkv = s.Hkv, D = s.D;
  if (B == 0 || Tq == 0 || Tk == 0 || Hq == 0) return;
  const int64_t group = Hq / Hkv;
  const int64_t kv_stride = Hkv * D;
  const int64_t q_stride = Hq * D;
  const int64_t work_per_task = std::max<int64_t>(1, group * Tq * Tk * D);
  const WeightedRowsFn<T> add_rows = weighted_rows_kernel<T>();

  // One task per (batch, KV head): it owns that head's dk and dv rows, and the dq rows of the
  // query heads that read it, so nothing is shared between tasks.
  parallel_for(B * Hkv, std::max<int64_t>(1, (1 << 15) / work_per_task), [&](int64_t task_begin, int64_t task_end) {
    std::vector<T> vt(static_cast<size_t>(D * Tk));  // V of this head, transposed: vt[d * Tk + j]
    std::vector<const T*> vt_rows(static_cast<size_t>(D)), k_rows(static_cast<size_t>(Tk));
    std::vector<const T*> q_rows(static_cast<size_t>(Tq)), dout_rows(static_cast<size_t>(Tq));
    std::vector<T> dp(static_cast<size_t>(kRowBlock * Tk));
    std::vector<T> ds(static_cast<size_t>(Tq * Tk));  // dL/dscores of one query head, times scale
    std::vector<T> ds_t(static_cast<size_t>(Tk * Tq)), p_t(static_cast<size_t>(Tk * Tq));
    std::vector<T> skip_k(static_cast<size_t>(kRowBlock * D)), skip_v(static_cast<size_t>(kRowBlock * D));
    for (int64_t task = task_begin; task < task_end; ++task) {
      const int64_t b = task / Hkv, g = task % Hkv;
      const int64_t kv_offset = (b * Tk * Hkv + g) * D;
      transpose(v + kv_offset, kv_stride, Tk, D, vt.data());
      for (int64_t j = 0; j < Tk; ++j) k_rows[j] = k + kv_offset + j * kv_stride;

      for (int64_t h = g * group; h < (g + 1) * group; ++h) {
        const T* p_head = probs + (b * Hq + h) * Tq * Tk;
        for (int64_t i = 0; i < Tq; ++i) {
          q_rows[i] = q + (b * Tq + i) * q_stride + h * D;
          dout_rows[i] = dout + (b * Tq + i) * q_stride + h * D;
        }
        // Query rows in blocks: dp = dout . v, ds = p (dp - sum_j p dp) * scale, dq += ds k.
        for (int64_t i0 = 0; i0 < Tq; i0 += kRowBlock) {
          const int64_t rows = std::min(kRowBlock, Tq - i0);
          int64_t lo[kRowBlock], hi[kRowBlock];
          for (int64_t r = 0; r < rows; ++r) {
            nonzero_range(p_head + (i0 + r) * Tk, Tk, &lo[r], &hi[r]);
            std::fill(ds.data() + (i0 + r) * Tk, ds.data() + (i0 + r + 1) * Tk, T(0));
          }
          int64_t ulo, uhi;
          union_range(lo, hi, rows, &ulo, &uhi);
          if (ulo == uhi) continue;  // every key blocked for these queries: no gradient
          const int64_t n = uhi - ulo;

          T* dp_rows[kRowBlock];
          for (int64_t r = 0; r < rows; ++r) {
            dp_rows[r] = dp.data() + r * Tk + ulo;
            std::fill(dp_rows[r], dp_rows[r] + n, T(0));
          }
          for (int64_t d = 0; d < D; ++d) vt_rows[d] = vt.data() + d * Tk + ulo;
          add_rows(dp_rows, static_cast<int>(rows), n, dout_rows[i0], q_stride, vt_rows.data(), D);

          for (int64_t r = 0; r < rows; ++r) {
            if (lo[r] == hi[r]) continue;
            const T* p_row = p_head + (i0 + r) * Tk;
            const T* dp_row = dp.data() + r * Tk;
            T* ds_row = ds.data() + (i0 + r) * Tk;
            const T p_dot_dp = dot(p_row + lo[r], dp_row + lo[r], hi[r] - lo[r]);
            for (int64_t j = lo[r]; j < hi[r]; ++j) ds_row[j] = p_row[j] * (dp_row[j] - p_dot_dp) * scale;
          }
          T* dq_rows[kRowBlock];
          for (int64_t r = 0; r < rows; ++r) dq_rows[r] = dq + (b * Tq + i0 + r) * q_stride + h * D;
          add_rows(dq_rows, static_cast<int>(rows), D, ds.data() + i0 * Tk + ulo, Tk, k_rows.data() + ulo, n);
        }

        // Keys in blocks: dk_j += sum_i ds_ij q_i and dv_j += sum_i p_ij dout_i. With ds and p
        // transposed, each key's weights are contiguous and its query range is found like a row's.
        transpose(ds.data(), Tk, Tq, Tk, ds_t.data());
        transpose(p_head, Tk, Tq, Tk, p_t.data());
        // Keys before grad_key_begin are skipped; the blocks keep the boundaries of a full run (the
        // kernel's summation order depends on the block), with skipped rows of a block written to
        // scratch, so the computed rows are bitwise those of the full backward.
        const int64_t key_begin = std::min(std::max<int64_t>(0, s.grad_key_begin), Tk);
        for (int64_t j0 = key_begin / kRowBlock * kRowBlock; j0 < Tk; j0 += kRowBlock) {
          const int64_t keys = std::min(kRowBlock, Tk - j0);
          int64_t lo[kRowBlock], hi[kRowBlock];
          T* dk_rows[kRowBlock];
          T* dv_rows[kRowBlock];
          for (int64_t r = 0; r < keys; ++r) {
            nonzero_range(p_t.data() + (j0 + r) * Tq, Tq, &lo[r], &hi[r]);
            const bool skipped = j0 + r < key_begin;
            if (skipped) {
              std::fill(skip_k.begin() + r * D, skip_k.begin() + (r + 1) * D, T(0));
              std::fill(skip_v.begin() + r * D, skip_v.begin() + (r + 1) * D, T(0));
            }
            dk_rows[r] = skipped ? skip_k.data() + r * D : dk + kv_offset + (j0 + r) * kv_stride;
            dv_rows[r] = skipped ? skip_v.data() + r * D : dv + kv_offset + (j0 + r) * kv_stride;
          }
          int64_t ulo, uhi;
          union_range(lo, hi, keys, &ulo, &uhi);
          if (ulo == uhi) continue;  // no query attends these keys
          add_rows(dk_rows, static_cast<int>(keys), D, ds_t.data() + j0 * Tq + ulo, Tq, q_rows.data() + ulo,
                   uhi - ulo);
          add_rows(dv_rows, static_cast<int>(keys), D, p_t.data() + j0 * Tq + ulo, Tq, dout_rows.data() + ulo,
                   uhi - ulo);
        }
      }
    }
  });
}

#define VLA_INSTANTIATE(T)                                                                                \
  template void attention_forward<T>(const T*, const T*, const T*, const uint8_t*, T, T*, T*,             \
                                     const AttentionShape&);                                              \
  template void attention_backward<T>(const T*, const T*, const T*, const T*, const T*, T, T*, T*, T*, \
                                      const AttentionShape&);
VLA_INSTANTIATE(float)
VLA_INSTANTIATE(double)
#undef VLA_INSTANTIATE

}  // namespace vla
