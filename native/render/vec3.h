// A small float 3-vector and 3x3 row-major matrix helpers for the renderer.
#pragma once

#include <cmath>
#include <cstdint>

namespace vla::render {

struct Vec3 {
  float x = 0, y = 0, z = 0;
};

inline Vec3 vec3(const float* p) { return {p[0], p[1], p[2]}; }
inline Vec3 operator+(Vec3 a, Vec3 b) { return {a.x + b.x, a.y + b.y, a.z + b.z}; }
inline Vec3 operator-(Vec3 a, Vec3 b) { return {a.x - b.x, a.y - b.y, a.z - b.z}; }
inline Vec3 operator-(Vec3 a) { return {-a.x, -a.y, -a.z}; }
inline Vec3 operator*(Vec3 a, float s) { return {a.x * s, a.y * s, a.z * s}; }
inline Vec3 operator*(Vec3 a, Vec3 b) { return {a.x * b.x, a.y * b.y, a.z * b.z}; }
inline float dot(Vec3 a, Vec3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
inline Vec3 cross(Vec3 a, Vec3 b) { return {a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x}; }
inline float length(Vec3 a) { return std::sqrt(dot(a, a)); }
inline Vec3 normalize(Vec3 a) { return a * (1.0f / length(a)); }

// m is row-major 3x3: returns m * v.
inline Vec3 mul(const float* m, Vec3 v) {
  return {m[0] * v.x + m[1] * v.y + m[2] * v.z, m[3] * v.x + m[4] * v.y + m[5] * v.z,
          m[6] * v.x + m[7] * v.y + m[8] * v.z};
}

// floor(v) as an integer, for |v| up to 1e9 (clamped beyond). Plain x86-64 has no rounding
// instruction, and std::floor's inline fallback is several times longer than this.
inline int32_t floor_to_int(float v) {
  v = v < -1e9f ? -1e9f : v > 1e9f ? 1e9f : v;
  int32_t i = static_cast<int32_t>(v);  // truncates towards zero
  return i - (v < static_cast<float>(i));
}

}  // namespace vla::render
