#include "render/texture.h"

namespace vla::render {

namespace {

// A well-mixed 32-bit value per lattice point: multiply-xor per axis, then an avalanche finish.
inline uint32_t lattice_hash(int32_t x, int32_t y, int32_t z) {
  uint32_t h = static_cast<uint32_t>(x) * 0x8da6b343u ^ static_cast<uint32_t>(y) * 0xd8163841u ^
               static_cast<uint32_t>(z) * 0xcb1ab31fu;
  h ^= h >> 16;
  h *= 0x7feb352du;
  h ^= h >> 15;
  h *= 0x846ca68bu;
  h ^= h >> 16;
  return h;
}

inline float lattice_value(int32_t x, int32_t y, int32_t z) {
  return static_cast<float>(lattice_hash(x, y, z) >> 8) * (1.0f / 16777216.0f);
}

inline float smooth(float t) { return t * t * (3.0f - 2.0f * t); }
inline float lerp(float a, float b, float t) { return a + (b - a) * t; }

}  // namespace

float value_noise(Vec3 p) {
  int32_t ix = floor_to_int(p.x), iy = floor_to_int(p.y), iz = floor_to_int(p.z);
  float fx = smooth(p.x - static_cast<float>(ix)), fy = smooth(p.y - static_cast<float>(iy)),
        fz = smooth(p.z - static_cast<float>(iz));
  float c00 = lerp(lattice_value(ix, iy, iz), lattice_value(ix + 1, iy, iz), fx);
  float c10 = lerp(lattice_value(ix, iy + 1, iz), lattice_value(ix + 1, iy + 1, iz), fx);
  float c01 = lerp(lattice_value(ix, iy, iz + 1), lattice_value(ix + 1, iy, iz + 1), fx);
  float c11 = lerp(lattice_value(ix, iy + 1, iz + 1), lattice_value(ix + 1, iy + 1, iz + 1), fx);
  return lerp(lerp(c00, c10, fy), lerp(c01, c11, fy), fz);
}

}  // namespace vla::render
