// The inner kernel of attention: for up to kMaxWeightedOutputs output rows at once,
//   out[r][x] += sum_c weights[r * weight_stride + c] * rows[c][x]     for x in [0, n), c in [0, count)
// Each of the `count` rows is a pointer to n contiguous values; the output rows share them, so
// every row value loaded feeds several multiply-adds (the reason to pass several outputs).
//
// The generic kernel (float and double) adds rows four at a time per pass over each output;
// the AVX2+FMA kernel (float only, picked at run time when the CPU has both, see
// core/cpu_features.h) keeps blocks of outputs in registers across all rows. The summation
// order of each kernel is a fixed function of (n, count, number of outputs): results never
// depend on the thread count, only on the instruction set.
#pragma once

#include <cstdint>

namespace vla {

constexpr int kMaxWeightedOutputs = 4;

template <typename T>
using WeightedRowsFn = void (*)(T* const* out, int num_out, int64_t n, const T* weights, int64_t weight_stride,
                                const T* const* rows, int64_t count);

// The kernel for T on this machine (honours VLA_TTT_ISA / set_isa_cap). Resolve once per op call.
template <typename T>
WeightedRowsFn<T> weighted_rows_kernel();

// The portable kernel.
template <typename T>
void add_weighted_rows_generic(T* const* out, int num_out, int64_t n, const T* weights, int64_t weight_stride,
                               const T* const* rows, int64_t count);

// The AVX2+FMA kernel; call only when weighted_rows_avx2_available() and the CPU has AVX2 and FMA.
void add_weighted_rows_avx2(float* const* out, int num_out, int64_t n, const float* weights, int64_t weight_stride,
                            const float* const* rows, int64_t count);
bool weighted_rows_avx2_available();

}  // namespace vla
