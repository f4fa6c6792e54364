// Embedding lookup. T is float (production) or double (float64 reference).
//
//   ids: int32 [N] (an op's id dimensions flattened), every id in [0, V)
//   table: [V, D];  out: [N, D] with out[n, :] = table[ids[n], :]
//
// Ids are NOT checked here: callers validate them first (the registered op does, in infer,
// naming the offending position); an out-of-range id would read out of bounds.
// The backward scatter-adds into dtable (ACCUMULATES): dtable[ids[n], :] += dout[n, :]. Work is
// split over column ranges of D and every range visits n in order, so repeated ids never race
// and the sums do not depend on the thread count.
#pragma once

#include <cstdint>

namespace vla {

template <typename T>
void embedding_forward(const int32_t* ids, const T* table, T* out, int64_t N, int64_t V, int64_t D);

template <typename T>
void embedding_backward(const int32_t* ids, const T* dout, T* dtable, int64_t N, int64_t V, int64_t D);

// The index of the first id outside [0, V), or -1 when all are valid.
int64_t find_invalid_id(const int32_t* ids, int64_t N, int64_t V);

}  // namespace vla
