// CUDA twin of native/ops/adamw.h: one AdamW step over a flat float32 buffer on the device, one
// launch (grid-stride over n). Launched on the default stream.
//
//   params, grads, m, v: [n] device pointers; params, m and v are updated in place.
//   mask: device uint8 [n] or null; mask[i] == 0 freezes element i (params, m, v untouched).
//
// The hyperparameters are the CPU's AdamWHyper (not validated here: validate_adamw_hyper), and
// the float constants (decay rates rounded to float, bias corrections 1 / (1 - beta^step) in
// double from those rounded rates) are derived on the host exactly as the CPU op derives them.
#pragma once

#include "cuda/namespace.h"
#include "ops/adamw.h"

#include <cstdint>

namespace vla::VLA_CUDA_NS {

void adamw_step(float* params, const float* grads, float* m, float* v, const uint8_t* mask, int64_t n,
                const AdamWHyper& hyper);

}  // namespace vla::VLA_CUDA_NS
