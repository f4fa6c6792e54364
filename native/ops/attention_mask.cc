#include "ops/attention_mask.h"

#include <algorithm>

#include "core/thread_pool.h"

namespace vla {

void build_block_mask(const int32_t* query_segments, const int32_t* key_segments, const uint8_t* allow,
                      uint8_t* mask, const BlockMaskShape& s) {
  const int64_t rows = s.Bm * s.Tq;
  parallel_for(rows, std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(s.Tk, 1)), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t b = r / s.Tq, i = r % s.Tq;
      const int32_t* qs = query_segments + (s.query_per_batch ? b * s.Tq : 0);
      const int32_t* ks = key_segments + (s.key_per_batch ? b * s.Tk : 0);
      const uint8_t* allow_row = allow + static_cast<int64_t>(qs[i]) * s.S;
      uint8_t* out = mask + r * s.Tk;
      for (int64_t j = 0; j < s.Tk; ++j) out[j] = allow_row[ks[j]];
    }
  });
}

}  // namespace vla
