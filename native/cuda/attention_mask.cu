#include "cuda/dialect.h"

#include "cuda/attention_mask_cuda.h"
#include "cuda/cuda_check.h"
#include "cuda/kernel_utils.h"

namespace vla::VLA_CUDA_NS {

namespace {

constexpr int kThreads = 256;

// Grid-stride over mask rows (b, i), threads along j (coalesced segment reads and byte writes):
// the row's allow row is found once, each key costs one segment load and one allow lookup.
__global__ void build_block_mask_kernel(const int32_t* query_segments, const int32_t* key_segments,
                                        const uint8_t* allow, uint8_t* mask, BlockMaskShape s) {
  const int64_t rows = s.Bm * s.Tq;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t b = row / s.Tq, i = row % s.Tq;
    const int32_t* ks = key_segments + (s.key_per_batch ? b * s.Tk : 0);
    const uint8_t* allow_row = allow + static_cast<int64_t>(query_segments[(s.query_per_batch ? b * s.Tq : 0) + i]) * s.S;
    uint8_t* out = mask + row * s.Tk;
    for (int64_t j = threadIdx.x; j < s.Tk; j += blockDim.x) out[j] = allow_row[ks[j]];
  }
}

}  // namespace

void build_block_mask(const int32_t* query_segments, const int32_t* key_segments, const uint8_t* allow,
                      uint8_t* mask, const BlockMaskShape& s) {
  const int64_t rows = s.Bm * s.Tq;
  if (rows <= 0 || s.Tk <= 0) return;
  VLA_LAUNCH(build_block_mask_kernel, capped(rows, 65535 * 16), threads_for_row(s.Tk, kThreads), 0, query_segments,
             key_segments, allow, mask, s);
  VLA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace vla::VLA_CUDA_NS
