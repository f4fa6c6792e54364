// Block-structured attention masks from per-token segment ids, for Mixture-of-Transformers
// layouts (pi0: image/observation tokens, prompt tokens, state and action-expert tokens).
//
//   query_segments: int32 [Bq, Tq], key_segments: int32 [Bk, Tk]   (Bq, Bk each 1 or Bm)
//   allow: uint8 [S, S]; allow[a][c] = 1 lets a token of segment a attend a token of segment c
//   mask: uint8 [Bm, Tq, Tk] with mask[b, i, j] = allow[query_segments[b, i]][key_segments[b, j]]
//         (a segment array with one row is shared by every b)
//
// Per-sample variations (a prompt dropped for some samples) are expressed with per-batch
// segment ids: give the dropped tokens a segment that the action rows of `allow` do not reach.
// Ids are NOT checked here: callers validate them first (the registered op does, in infer).
#pragma once

#include <cstdint>

namespace vla {

struct BlockMaskShape {
  int64_t Bm = 1;             // batch of the mask
  int64_t Tq = 0, Tk = 0, S = 0;
  bool query_per_batch = false;  // query_segments has Bm rows (true) or one (false)
  bool key_per_batch = false;    // likewise for key_segments
};

void build_block_mask(const int32_t* query_segments, const int32_t* key_segments, const uint8_t* allow,
                      uint8_t* mask, const BlockMaskShape& s);

}  // namespace vla
