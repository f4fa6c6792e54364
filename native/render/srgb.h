// Linear color -> 8-bit sRGB: the value is clamped to [0, 1] (the renderer's only tone mapping)
// and encoded with the sRGB transfer curve, rounded to the nearest byte.
#pragma once

#include <cstdint>

namespace vla::render {

// Exact rounding without a pow per channel. threshold[k] (k in 1..255) is the smallest linear
// value that rounds to byte k; a byte is the number of thresholds at or below the value. The
// value's bucket of width 1 / kBuckets gives the count at the bucket's start, and one compare
// finishes it: thresholds are at least 1 / (255 * 12.92) > 1 / kBuckets apart, so a bucket holds
// at most one.
class SrgbEncoder {
 public:
  static constexpr int kBuckets = 4096;

  uint8_t encode(float linear) const {
    if (!(linear > 0.0f)) return 0;  // also NaN
    if (linear >= 1.0f) return 255;
    int bucket = static_cast<int>(linear * kBuckets);
    int k = bucket_start_[bucket];
    return static_cast<uint8_t>(k + (threshold_[k + 1] <= linear));
  }

  SrgbEncoder();

 private:
  float threshold_[257];            // [0] = -inf, [256] = +inf: the compare never leaves the table
  uint8_t bucket_start_[kBuckets];  // bytes at bucket i's lower end, i / kBuckets
};

// The process-wide encoder (built on first use).
const SrgbEncoder& srgb_encoder();

inline uint8_t linear_to_srgb8(float linear) { return srgb_encoder().encode(linear); }

// The exact curve in double, for tests: 255 * srgb(clamp(linear, 0, 1)) before rounding.
double srgb_curve255(double linear);

}  // namespace vla::render
