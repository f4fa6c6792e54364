// Seeded random numbers: Philox4x32-10, a counter-based generator (the one cuRAND and PyTorch's
// CUDA backend use), so the same (seed, stream, index) gives the same number on CPU and GPU and
// any element can be drawn independently of the others (parallel loops stay deterministic).
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define VLA_HD __host__ __device__
#else
#define VLA_HD
#endif

namespace vla {

struct Philox4x32 {
  uint32_t key0, key1;

  VLA_HD explicit Philox4x32(uint64_t seed)
      : key0(static_cast<uint32_t>(seed)), key1(static_cast<uint32_t>(seed >> 32)) {}

  // Four 32-bit words for counter (c0..c3).
  VLA_HD void generate(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t out[4]) const {
    const uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
    const uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
    uint32_t k0 = key0, k1 = key1;
    for (int round = 0; round < 10; ++round) {
      uint64_t p0 = static_cast<uint64_t>(kM0) * c0;
      uint64_t p1 = static_cast<uint64_t>(kM1) * c2;
      uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
      uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
      uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
      c0 = n0; c1 = n1; c2 = n2; c3 = n3;
      k0 += kW0;
      k1 += kW1;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
  }
};

// A stream of numbers from (seed, stream). Element i of the stream is a pure function of
// (seed, stream, i): draw(i) never depends on what was drawn before.
class Rng {
 public:
  VLA_HD Rng(uint64_t seed, uint64_t stream = 0) : philox_(seed), stream_(stream) {}

  // Uniform in (0, 1): never exactly 0 or 1 (safe for log and powers).
  VLA_HD double uniform_at(uint64_t i) const {
    uint32_t r[4];
    philox_.generate(static_cast<uint32_t>(i), static_cast<uint32_t>(i >> 32), static_cast<uint32_t>(stream_),
                     static_cast<uint32_t>(stream_ >> 32), r);
    uint64_t bits = (static_cast<uint64_t>(r[0]) << 21) ^ r[1];  // 53 random bits
    bits &= (uint64_t(1) << 53) - 1;
    return (static_cast<double>(bits) + 0.5) * (1.0 / 9007199254740992.0);
  }

  // Standard normal by Box-Muller on two uniforms from the same counter.
  VLA_HD double normal_at(uint64_t i) const {
    uint32_t r[4];
    philox_.generate(static_cast<uint32_t>(i), static_cast<uint32_t>(i >> 32), static_cast<uint32_t>(stream_),
                     static_cast<uint32_t>(stream_ >> 32), r);
    double u1 = ((static_cast<double>(r[0]) * 4294967296.0 + r[1]) + 0.5) * (1.0 / 18446744073709551616.0);
    double u2 = (static_cast<double>(r[2]) + 0.5) * (1.0 / 4294967296.0);
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

  // Sequential use: each call advances an internal counter.
  VLA_HD double uniform() { return uniform_at(counter_++); }
  VLA_HD double normal() { return normal_at(counter_++); }
  // Uniform integer in [0, n).
  VLA_HD uint64_t below(uint64_t n) {
    uint64_t v = static_cast<uint64_t>(uniform() * static_cast<double>(n));
    return v < n ? v : n - 1;
  }
  // Uniform in [lo, hi).
  VLA_HD double range(double lo, double hi) { return lo + (hi - lo) * uniform(); }

  VLA_HD uint64_t counter() const { return counter_; }

 private:
  Philox4x32 philox_;
  uint64_t stream_;
  uint64_t counter_ = 0;
};

}  // namespace vla
