// CUDA twin of native/ops/embedding.h (float32, device pointers, the same shapes and ACCUMULATE
// convention for the backward). Launched on the default stream.
//
//   ids: int32 [N], every id in [0, V) (NOT checked: callers validate, as on the CPU)
//   table, dtable: [V, D];  out, dout: [N, D]
//   forward: out[n, :] = table[ids[n], :];   backward: dtable[ids[n], :] += dout[n, :]
//
// The backward is deterministic and bitwise equal to the CPU's (no atomics): a first kernel
// links every token to the next one with the same id and marks the first occurrence of each id
// (O(N^2) id comparisons through shared-memory tiles, cheap next to the N x D adds for token
// counts up to tens of thousands); a second kernel, one thread per (first occurrence, column),
// walks its id's chain in order n and adds once to dtable. The links need 2N int32 of device
// scratch: pass `scratch` with embedding_backward_scratch_ints(N) elements, or nullptr and the
// call allocates (and frees) it itself, which synchronizes the device. N must stay below 2^31 - 1.
#pragma once

#include "cuda/namespace.h"

#include <cstdint>

namespace vla::VLA_CUDA_NS {

void embedding_forward(const int32_t* ids, const float* table, float* out, int64_t N, int64_t V, int64_t D);

// Int32 elements of scratch the backward needs for N ids.
inline int64_t embedding_backward_scratch_ints(int64_t N) { return 2 * N; }

void embedding_backward(const int32_t* ids, const float* dout, float* dtable, int64_t N, int64_t V, int64_t D,
                        int32_t* scratch = nullptr);

}  // namespace vla::VLA_CUDA_NS
