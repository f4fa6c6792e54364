// CUDA twin of native/ops/attention_mask.h (device pointers, default stream):
//
//   query_segments: int32 [Bq, Tq], key_segments: int32 [Bk, Tk]   (Bq, Bk each 1 or Bm)
//   allow: uint8 [S, S]
//   mask:  uint8 [Bm, Tq, Tk], mask[b, i, j] = allow[query_segments[b, i]][key_segments[b, j]]
//
// Ids are not checked (as on the CPU: callers validate them first).
#pragma once

#include "cuda/namespace.h"
#include "ops/attention_mask.h"

#include <cstdint>

namespace vla::VLA_CUDA_NS {

void build_block_mask(const int32_t* query_segments, const int32_t* key_segments, const uint8_t* allow,
                      uint8_t* mask, const BlockMaskShape& s);

}  // namespace vla::VLA_CUDA_NS
