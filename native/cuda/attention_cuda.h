// CUDA twins of native/ops/attention.h (float32, device pointers, default stream), with the
// same shapes, layouts and conventions, so the model can call either:
//
//   q: [B, Tq, Hq, D]   k, v: [B, Tk, Hkv, D]   (query head h reads KV head h / (Hq / Hkv))
//   mask: uint8 [B or 1, Tq, Tk] (AttentionShape::mask_per_batch) or null; 1 = may attend
//   out: [B, Tq, Hq, D] (overwritten)   probs: [B, Hq, Tq, Tk] (overwritten; exact 0 for blocked)
//
// A query row with every key blocked (or Tk = 0) gets out = 0, probs = 0 and zero gradients,
// never NaN; k and v must be finite (as on the CPU). The backward ACCUMULATES into dq, dk, dv,
// reads only the saved probs (not the mask), and leaves the dk/dv rows of keys
// [0, grad_key_begin) untouched.
//
// How the work is split (why: probs must be written anyway, so the forward is two-phase rather
// than online-softmax; every output element is summed by one thread in a fixed order, no float
// atomics, so results are bitwise reproducible run to run):
//   - a block owns one (batch, KV head) and a tile of 16 "rows", where a row is a (query, query
//     head of the group) pair: the group's heads share every K/V load (GQA, pi0's 8:1).
//   - forward: scores go to `probs` (used as scratch, so any Tk works, no shared-memory limit),
//     a warp-per-row masked softmax rewrites them in place, then out = probs x V.
//   - backward, two kernels: per row tile, delta = rowsum(P * dP) and dq += scale dS K
//     (dP = dout V^T recomputed in the second pass); per tile of 16 keys, looping over all rows
//     of the group, dk += scale dS^T Q and dv += P^T dout. Key chunks / row chunks whose probs
//     are all zero (blocked by the mask) are skipped.
// The backward keeps delta (B * Hq * Tq floats) in a device workspace owned by the calling host
// thread (grown on demand, freed at thread exit).
// Limits: B * Hkv <= 65535 (grid y); any Tq, Tk (no shared-memory bound); any D (D > 256 is
// processed in column blocks of 256, the backward recomputing dP per block).
#pragma once

#include "cuda/namespace.h"
#include "ops/attention.h"

#include <cstdint>

namespace vla::VLA_CUDA_NS {

void attention_forward(const float* q, const float* k, const float* v, const uint8_t* mask, float scale, float* out,
                       float* probs, const AttentionShape& s);

void attention_backward(const float* q, const float* k, const float* v, const float* probs, const float* dout,
                        float scale, float* dq, float* dk, float* dv, const AttentionShape& s);

}  // namespace vla::VLA_CUDA_NS
