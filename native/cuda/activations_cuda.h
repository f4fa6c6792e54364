// CUDA twins of native/ops/activations.h (float32, device pointers, same shapes and the same
// accumulate-into-gradient convention). Launched on the default stream.
#pragma once

#include "cuda/namespace.h"

#include <cstdint>

namespace vla::VLA_CUDA_NS {

void silu_forward(const float* x, float* y, int64_t n);
void silu_backward(const float* dy, const float* x, float* dx, int64_t n);
void gelu_tanh_forward(const float* x, float* y, int64_t n);
void gelu_tanh_backward(const float* dy, const float* x, float* dx, int64_t n);
// x: [M, 2F] = [gate | up] per row; y: [M, F].
void geglu_forward(const float* x, float* y, int64_t M, int64_t F);
void geglu_backward(const float* dy, const float* x, float* dx, int64_t M, int64_t F);

}  // namespace vla::VLA_CUDA_NS
