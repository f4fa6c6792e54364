// Procedural textures, evaluated at a hit point in the geom's local frame so they move with it.
//   checker: cubes of side `scale` alternate the geom color and the second color (on a plane,
//            squares; on a solid, the pattern its surface cuts through the cubes);
//   stripes: slabs of thickness scale / 2 across local x alternate the two colors (period scale);
//   noise:   value noise with feature size `scale`: the two colors mixed by a smooth value in
//            [0, 1] interpolated between hashed lattice values. The lattice hash is fixed, so
//            a pattern is a function of the local position only (no seed).
#pragma once

#include <cstdint>

#include "render/render_batch.h"
#include "render/vec3.h"

namespace vla::render {

struct TextureParams {
  int32_t kind = 0;   // TextureKind
  float inv_scale = 1;  // 1 / scale (meters)
  Vec3 color;         // the geom's own color
  Vec3 second_color;  // texParams[1..3]
};

// Value noise in [0, 1] at p (lattice spacing 1).
float value_noise(Vec3 p);

// The albedo at local point p. Inline: called once per shaded sample.
inline Vec3 texture_color(const TextureParams& tex, Vec3 p) {
  switch (tex.kind) {
    case kTextureChecker: {
      Vec3 q = p * tex.inv_scale;
      int32_t parity = (floor_to_int(q.x) + floor_to_int(q.y) + floor_to_int(q.z)) & 1;
      return parity ? tex.second_color : tex.color;
    }
    case kTextureStripes: {
      float u = p.x * tex.inv_scale;
      return u - static_cast<float>(floor_to_int(u)) < 0.5f ? tex.color : tex.second_color;
    }
    case kTextureNoise:
      return tex.color + (tex.second_color - tex.color) * value_noise(p * tex.inv_scale);
    default: return tex.color;
  }
}

}  // namespace vla::render
