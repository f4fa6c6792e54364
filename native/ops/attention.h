// Multi-head scaled dot-product attention with grouped KV heads (GQA) and an arbitrary mask.
// T is float (production) or double (float64 reference); both run the same code.
//
//   q:     [B, Tq, Hq, D]
//   k, v:  [B, Tk, Hkv, D]      Hq is a multiple of Hkv: query head h reads KV head h / (Hq / Hkv)
//   mask:  uint8 [B, Tq, Tk] (mask_per_batch) or [1, Tq, Tk] shared by the batch, or null for
//          none; mask[b, i, j] = 1: query i may attend key j, 0: blocked
//   out:   [B, Tq, Hq, D]       out[b, i, h] = sum_j probs[b, h, i, j] v[b, j, h / (Hq / Hkv)]
//   probs: [B, Hq, Tq, Tk]      softmax_j(scale * q[b, i, h] . k[b, j, h / (Hq / Hkv)]) over the
//                               allowed keys, exactly 0 for blocked keys (saved for the backward)
//
// A query row whose keys are all blocked (or Tk = 0) gets out = 0, probs = 0 and zero gradients,
// never NaN. The softmax subtracts the row max over allowed keys, and blocked keys get weight
// exactly 0. Query rows are processed four at a time over the union of their allowed key ranges:
// keys outside it cost nothing, blocked keys inside it cost their share of the dot products and
// add 0 * v. So k and v must be finite even where blocked (a NaN or Inf there would turn into NaN).
//
// Work is split over (batch, KV head) in both passes (K and V are transposed once per KV head),
// so every output element is written by one task in a fixed order: results do not depend on the
// thread count (they do depend on the instruction set: float uses AVX2+FMA kernels when the CPU
// has them, see weighted_rows.h). The backward ACCUMULATES into dq, dk, dv (dk and dv sum over
// the query heads that share a KV head) and needs only the saved probs, not the mask.
#pragma once

#include <cstdint>

namespace vla {

struct AttentionShape {
  int64_t B = 0, Tq = 0, Tk = 0, Hq = 0, Hkv = 0, D = 0;
  bool mask_per_batch = false;  // mask is [B, Tq, Tk] (true) or [1, Tq, Tk] (false)
  // Backward only: keys [0, grad_key_begin) get no dk/dv (their rows are left untouched), for
  // callers that discard those gradients (keys cached from an earlier pass, say). dq is exact.
  int64_t grad_key_begin = 0;
};

template <typename T>
void attention_forward(const T* q, const T* k, const T* v, const uint8_t* mask, T scale, T* out, T* probs,
                       const AttentionShape& s);

template <typename T>
void attention_backward(const T* q, const T* k, const T* v, const T* probs, const T* dout, T scale, T* dq, T* dk,
                        T* dv, const AttentionShape& s);

}  // namespace vla
