#include "render/srgb.h"

#include <cmath>
#include <limits>

namespace vla::render {

namespace {
double srgb_encode(double v) { return v <= 0.0031308 ? 12.92 * v : 1.055 * std::pow(v, 1.0 / 2.4) - 0.055; }
double srgb_decode(double s) { return s <= 0.04045 ? s / 12.92 : std::pow((s + 0.055) / 1.055, 2.4); }
}  // namespace

SrgbEncoder::SrgbEncoder() {
  threshold_[0] = -std::numeric_limits<float>::infinity();
  for (int k = 1; k < 256; ++k) threshold_[k] = static_cast<float>(srgb_decode((k - 0.5) / 255.0));
  threshold_[256] = std::numeric_limits<float>::infinity();
  int k = 0;
  for (int i = 0; i < kBuckets; ++i) {
    float start = static_cast<float>(i) / kBuckets;
    while (threshold_[k + 1] <= start) ++k;
    bucket_start_[i] = static_cast<uint8_t>(k);
  }
}

const SrgbEncoder& srgb_encoder() {
  static const SrgbEncoder encoder;
  return encoder;
}

double srgb_curve255(double linear) {
  double v = linear < 0 ? 0 : linear > 1 ? 1 : linear;
  return 255.0 * srgb_encode(v);
}

}  // namespace vla::render
