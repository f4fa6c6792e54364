// The float activation kernels for one instruction set (see activation_simd.h). Internal to
// native/ops: activations.cc picks the table for active_isa() once per call.
#pragma once

#include <cstdint>

namespace vla {

struct FloatActivationKernels {
  void (*silu_forward)(const float* x, float* y, int64_t n);
  void (*silu_backward)(const float* dy, const float* x, float* dx, int64_t n);
  void (*gelu_forward)(const float* x, float* y, int64_t n);
  void (*gelu_backward)(const float* dy, const float* x, float* dx, int64_t n);
  void (*geglu_forward)(const float* x, float* y, int64_t r0, int64_t r1, int64_t F);
  void (*geglu_backward)(const float* dy, const float* x, float* dx, int64_t r0, int64_t r1, int64_t F);
};

FloatActivationKernels activation_kernels_generic();
FloatActivationKernels activation_kernels_avx2();  // only when the CPU has AVX2 and FMA

}  // namespace vla
