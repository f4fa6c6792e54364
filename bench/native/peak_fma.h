// The machine's peak float32 FMA throughput, measured (not computed from a spec sheet): a loop of
// independent FMAs on registers only. Zen3 with AVX2 has two 256-bit FMA pipes with 4-cycle
// latency, so 2 x 8 lanes x 2 flops = 32 flops per cycle per core, reached with at least 8
// independent accumulators; the loop uses 12.
#pragma once

#include <cstdint>

namespace vla::bench {

// Runs `iterations` x kFmaAccumulators vector FMAs and returns a value depending on all of them.
// Implemented in peak_fma_<isa>.cc, compiled for that ISA; call only when the CPU supports it.
// (Timing stays in baseline code: nothing shared with other files is compiled with ISA flags.)
constexpr int kFmaAccumulators = 12;
float fma_block_avx2(int64_t iterations);    // 8 lanes
float fma_block_avx512(int64_t iterations);  // 16 lanes

template <class V>
float fma_block(int64_t iterations) {
  typename V::Vec acc[kFmaAccumulators];
  for (int i = 0; i < kFmaAccumulators; ++i) acc[i] = V::set1(0.001f * static_cast<float>(i));
  // acc * 0.999999 + 1e-7 stays bounded, and the compiler cannot fold it away.
  const typename V::Vec mul = V::set1(0.999999f), add = V::set1(1e-7f);
  for (int64_t it = 0; it < iterations; ++it)
#pragma GCC unroll 12
    for (int i = 0; i < kFmaAccumulators; ++i) acc[i] = V::fmadd(acc[i], mul, add);
  float sum = 0;
  for (int i = 0; i < kFmaAccumulators; ++i) sum += V::first(acc[i]);
  return sum;
}

}  // namespace vla::bench
