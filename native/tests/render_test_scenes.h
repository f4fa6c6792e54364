// Scene building and image inspection for the renderer tests: scenes as vectors, packed into a
// SceneBatchView, rendered, then pixels read back and world points projected to pixels with the
// camera model written out independently (in double) of the renderer's.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "render/render_batch.h"

namespace vla::test {

using Vec3d = std::array<double, 3>;
using Rgb = std::array<uint8_t, 3>;

constexpr std::array<float, 9> kIdentity = {1, 0, 0, 0, 1, 0, 0, 0, 1};

// Row-major rotation by `deg` degrees about world z (columns are the local axes).
inline std::array<float, 9> rotation_z(double deg) {
  double a = deg * M_PI / 180.0;
  float c = static_cast<float>(std::cos(a)), s = static_cast<float>(std::sin(a));
  return {c, -s, 0, s, c, 0, 0, 0, 1};
}
// Row-major rotation by `deg` degrees about world x.
inline std::array<float, 9> rotation_x(double deg) {
  double a = deg * M_PI / 180.0;
  float c = static_cast<float>(std::cos(a)), s = static_cast<float>(std::sin(a));
  return {1, 0, 0, 0, c, -s, 0, s, c};
}

struct TestScene {
  std::vector<int32_t> type, texture;
  std::vector<float> size, pos, mat, rgba, tex_params;
  // Default camera: 2 m above the origin looking straight down, world +y up in the image.
  std::array<float, 10> camera = {0, 0, 2, 0, 0, 0, 0, 1, 0, 40};
  // Default light: straight down from above, white, a little ambient, no shadows.
  std::array<float, 10> light = {0, 0, 1, 0.8f, 0.8f, 0.8f, 0.2f, 0.2f, 0.2f, 0};
  std::array<float, 3> background = {0, 0, 0};

  int add(int32_t geom_type, std::array<float, 3> geom_size, std::array<float, 3> geom_pos,
          std::array<float, 4> color, std::array<float, 9> rotation = kIdentity, int32_t tex = 0,
          std::array<float, 4> tex_param = {0, 0, 0, 0}) {
    type.push_back(geom_type);
    size.insert(size.end(), geom_size.begin(), geom_size.end());
    pos.insert(pos.end(), geom_pos.begin(), geom_pos.end());
    mat.insert(mat.end(), rotation.begin(), rotation.end());
    rgba.insert(rgba.end(), color.begin(), color.end());
    texture.push_back(tex);
    tex_params.insert(tex_params.end(), tex_param.begin(), tex_param.end());
    return static_cast<int>(type.size()) - 1;
  }
  void look(std::array<float, 3> eye, std::array<float, 3> at, std::array<float, 3> up, float fovy) {
    camera = {eye[0], eye[1], eye[2], at[0], at[1], at[2], up[0], up[1], up[2], fovy};
  }
  // Ambient-only lighting: every surface shows albedo * ambient.
  void flat_light(float ambient = 1.0f) { light = {0, 0, 1, 0, 0, 0, ambient, ambient, ambient, 0}; }
};

// Flat arrays for a batch of TestScenes; view() points into them.
struct PackedTestBatch {
  std::vector<int32_t> offsets{0}, type, texture;
  std::vector<float> size, pos, mat, rgba, tex_params, cameras, lights, background;

  explicit PackedTestBatch(const std::vector<TestScene>& scenes) {
    for (const TestScene& s : scenes) {
      auto append = [](auto& dst, const auto& src) { dst.insert(dst.end(), src.begin(), src.end()); };
      append(type, s.type), append(texture, s.texture), append(size, s.size), append(pos, s.pos);
      append(mat, s.mat), append(rgba, s.rgba), append(tex_params, s.tex_params);
      append(cameras, s.camera), append(lights, s.light), append(background, s.background);
      offsets.push_back(static_cast<int32_t>(type.size()));
    }
  }
  render::SceneBatchView view() const {
    render::SceneBatchView v;
    v.num_scenes = static_cast<int64_t>(offsets.size()) - 1;
    v.num_geoms = static_cast<int64_t>(type.size());
    v.geom_offsets = offsets.data();
    v.type = type.data(), v.size = size.data(), v.pos = pos.data(), v.mat = mat.data();
    v.rgba = rgba.data(), v.texture = texture.data(), v.tex_params = tex_params.data();
    v.cameras = cameras.data(), v.lights = lights.data(), v.background = background.data();
    return v;
  }
};

struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
  Rgb at(int x, int y) const {
    const uint8_t* p = rgb.data() + (static_cast<size_t>(y) * width + x) * 3;
    return {p[0], p[1], p[2]};
  }
};

inline std::vector<Image> render_scenes(const std::vector<TestScene>& scenes, int width, int height,
                                        int supersample = 1, bool cull = true, bool use_thread_pool = true) {
  PackedTestBatch packed(scenes);
  render::RenderOptions options;
  options.width = width, options.height = height, options.supersample = supersample, options.cull = cull;
  options.use_thread_pool = use_thread_pool;
  std::vector<uint8_t> out(static_cast<size_t>(render::rendered_size(packed.view(), options)));
  render::render_batch(packed.view(), options, out.data());
  std::vector<Image> images;
  size_t bytes = static_cast<size_t>(width) * height * 3;
  for (size_t b = 0; b < scenes.size(); ++b)
    images.push_back({width, height, std::vector<uint8_t>(out.begin() + b * bytes, out.begin() + (b + 1) * bytes)});
  return images;
}

inline Image render_one(const TestScene& scene, int width, int height, int supersample = 1) {
  return render_scenes({scene}, width, height, supersample)[0];
}

// The pinhole camera of lib/render/scene.ts in double: pixel coordinates (continuous, pixel
// (i, j) covers [i, i+1) x [j, j+1), y down) of a world point, and the ray through a pixel.
struct CameraModel {
  Vec3d eye, forward, right, up;
  double tan_half_y, tan_half_x;
  int width, height;

  static Vec3d sub(Vec3d a, Vec3d b) { return {a[0] - b[0], a[1] - b[1], a[2] - b[2]}; }
  static double dot(Vec3d a, Vec3d b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
  static Vec3d cross(Vec3d a, Vec3d b) {
    return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
  }
  static Vec3d unit(Vec3d a) {
    double n = std::sqrt(dot(a, a));
    return {a[0] / n, a[1] / n, a[2] / n};
  }

  CameraModel(const TestScene& s, int w, int h) : width(w), height(h) {
    const auto& c = s.camera;
    eye = {c[0], c[1], c[2]};
    forward = unit(sub({c[3], c[4], c[5]}, eye));
    right = unit(cross(forward, {c[6], c[7], c[8]}));
    up = cross(right, forward);
    tan_half_y = std::tan(c[9] * M_PI / 360.0);
    tan_half_x = tan_half_y * w / h;
  }
  // Continuous pixel coordinates of a world point in front of the camera.
  std::array<double, 2> project(Vec3d p) const {
    Vec3d v = sub(p, eye);
    double z = dot(v, forward);
    double sx = dot(v, right) / z, sy = dot(v, up) / z;
    return {(sx / tan_half_x + 1) * 0.5 * width, (1 - sy / tan_half_y) * 0.5 * height};
  }
  // Pixel scale: pixels per unit of slope (x/z) horizontally.
  double pixels_per_slope() const { return 0.5 * width / tan_half_x; }
  // Where the ray through pixel center (x, y) meets the plane z = height_z.
  Vec3d on_plane(int x, int y, double plane_z) const {
    double sx = ((x + 0.5) / width * 2 - 1) * tan_half_x;
    double sy = (1 - (y + 0.5) / height * 2) * tan_half_y;
    Vec3d d = {forward[0] + right[0] * sx + up[0] * sy, forward[1] + right[1] * sx + up[1] * sy,
               forward[2] + right[2] * sx + up[2] * sy};
    double t = (plane_z - eye[2]) / d[2];
    return {eye[0] + d[0] * t, eye[1] + d[1] * t, plane_z};
  }
};

inline bool same(Rgb a, Rgb b) { return a == b; }
inline double luminance(Rgb c) { return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]; }

}  // namespace vla::test
