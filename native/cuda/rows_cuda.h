// Strided row moves on the device, for the model's bookkeeping between a segment's rows
// [B, len, row] and its slice of the shared key rows [B, Tk, row] (model/mot_impl.h):
//
//   copy_strided:  for b in [0, B), i in [0, n):  dst[b * dst_stride + i] = src[b * src_stride + i]
//                  (+= when accumulate)
//   fill_strided:  dst[b * stride + i] = value
//
// Pointers are device pointers; a plain copy of contiguous data is copy_strided with B = 1.
#pragma once

#include <cstdint>

#include "cuda/namespace.h"

namespace vla::VLA_CUDA_NS {

void copy_strided(float* dst, int64_t dst_stride, const float* src, int64_t src_stride, int64_t B, int64_t n,
                  bool accumulate);
void fill_strided(float* dst, int64_t stride, int64_t B, int64_t n, float value);

}  // namespace vla::VLA_CUDA_NS
