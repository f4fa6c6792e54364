// Renderer shading: the Lambert + ambient formula and sRGB encoding, hard shadows, procedural
// textures, supersampling.
#include <cmath>
#include <set>

#include "render/render_batch.h"
#include "render/srgb.h"
#include "render/texture.h"
#include "tests/render_test_scenes.h"
#include "tests/test_framework.h"

namespace vla::test {

namespace {
constexpr Rgb kBlack = {0, 0, 0};
uint8_t srgb8(double linear) { return render::linear_to_srgb8(static_cast<float>(linear)); }
Rgb gray(double linear) { return {srgb8(linear), srgb8(linear), srgb8(linear)}; }
}  // namespace

VLA_TEST(render_shading, srgb_encoding_rounds_the_exact_curve) {
  int checked = 0;
  for (int i = 0; i <= 20000; ++i) {
    double v = i / 20000.0;
    double exact = render::srgb_curve255(v);
    if (std::fabs(exact - std::floor(exact) - 0.5) < 1e-3) continue;  // too close to a rounding tie
    VLA_EXPECT(render::linear_to_srgb8(static_cast<float>(v)) == static_cast<int>(std::lround(exact))) << "v" << v;
    ++checked;
  }
  VLA_EXPECT(checked > 19000);
  VLA_EXPECT(render::linear_to_srgb8(-1.0f) == 0);
  VLA_EXPECT(render::linear_to_srgb8(0.0f) == 0);
  VLA_EXPECT(render::linear_to_srgb8(1.0f) == 255);
  VLA_EXPECT(render::linear_to_srgb8(7.5f) == 255) << "clamped";
  VLA_EXPECT(render::linear_to_srgb8(0.5f) == 188);
}

VLA_TEST(render_shading, lambert_plus_ambient_exact_values) {
  // albedo * (ambient + color * max(0, n.l)), encoded as sRGB, on a plane facing the camera.
  const int W = 16;
  auto center = [&](std::array<float, 3> dir) {
    TestScene s;
    s.light = {dir[0], dir[1], dir[2], 0.6f, 0.6f, 0.6f, 0.1f, 0.1f, 0.1f, 0};
    s.add(render::kGeomPlane, {0, 0, 0}, {0, 0, 0}, {0.5f, 0.25f, 1.0f, 1});
    return render_one(s, W, W).at(W / 2, W / 2);
  };
  auto expect_rgb = [&](Rgb got, double shade, const char* what) {
    Rgb want = {srgb8(0.5 * shade), srgb8(0.25 * shade), srgb8(1.0 * shade)};
    VLA_EXPECT(got == want) << what << int(got[0]) << int(got[1]) << int(got[2]) << "want" << int(want[0])
                            << int(want[1]) << int(want[2]);
  };
  expect_rgb(center({0, 0, 1}), 0.1 + 0.6, "light head-on");
  expect_rgb(center({0, 0, 5}), 0.1 + 0.6, "direction is normalized");
  expect_rgb(center({1, 0, 1}), 0.1 + 0.6 * std::sqrt(0.5), "light at 45 degrees");
  expect_rgb(center({0, 0, -1}), 0.1, "light behind the surface: ambient only");
}

VLA_TEST(render_shading, surface_facing_the_light_is_brighter) {
  const int W = 64;
  TestScene s;
  s.light = {1, 0, 0.3f, 1, 1, 1, 0.05f, 0.05f, 0.05f, 0};
  s.add(render::kGeomSphere, {0.3f, 0, 0}, {0, 0, 0}, {0.8f, 0.8f, 0.8f, 1});
  CameraModel cam(s, W, W);
  Image img = render_one(s, W, W);
  auto lit = cam.project({0.2, 0, 0.2}), dark = cam.project({-0.2, 0, 0.2});
  double lum_lit = luminance(img.at(int(lit[0]), int(lit[1]))), lum_dark = luminance(img.at(int(dark[0]), int(dark[1])));
  VLA_EXPECT(lum_lit > lum_dark + 50) << lum_lit << lum_dark;
  // The side facing away gets exactly the ambient term.
  VLA_EXPECT(img.at(int(dark[0]), int(dark[1])) == gray(0.8 * 0.05));
}

VLA_TEST(render_shading, ambient_only_is_flat) {
  const int W = 48;
  TestScene s;
  s.light = {1, 0.5f, 0.3f, 0, 0, 0, 0.4f, 0.4f, 0.4f, 1};
  s.add(render::kGeomSphere, {0.3f, 0, 0}, {0, 0, 0}, {0.5f, 0.5f, 0.5f, 1});
  s.add(render::kGeomBox, {0.1f, 0.2f, 0.1f}, {0.4f, 0, 0}, {0.5f, 0.5f, 0.5f, 1}, rotation_z(30));
  Image img = render_one(s, W, W);
  std::set<Rgb> colors;
  for (int y = 0; y < W; ++y)
    for (int x = 0; x < W; ++x)
      if (img.at(x, y) != kBlack) colors.insert(img.at(x, y));
  VLA_EXPECT(colors.size() == 1) << "distinct colors:" << colors.size();
  VLA_EXPECT(colors.count(gray(0.5 * 0.4)) == 1);
}

VLA_TEST(render_shading, sphere_shadows_the_plane_under_it_only_with_shadows_on) {
  const int W = 96;
  // Light from up and +x: the shadow of a sphere at height 0.3 falls at x = -0.3 * lx / lz.
  const float lx = 0.5f, lz = 1.0f, height = 0.3f;
  auto draw = [&](bool shadows) {
    TestScene s;
    s.look({0, -1.5f, 1.0f}, {0, 0, 0}, {0, 0, 1}, 50);
    s.light = {lx, 0, lz, 0.7f, 0.7f, 0.7f, 0.2f, 0.2f, 0.2f, shadows ? 1.0f : 0.0f};
    s.add(render::kGeomPlane, {0, 0, 0}, {0, 0, 0}, {0.6f, 0.6f, 0.6f, 1});
    s.add(render::kGeomSphere, {0.1f, 0, 0}, {0, 0, height}, {1, 0, 0, 1});
    return std::make_pair(render_one(s, W, W), CameraModel(s, W, W));
  };
  auto [lit, cam] = draw(false);
  Image shadowed = draw(true).first;
  auto under = cam.project({-height * lx / lz, 0, 0});
  auto far_away = cam.project({0.4, 0.3, 0});
  int ux = static_cast<int>(under[0]), uy = static_cast<int>(under[1]);
  double n_dot_l = lz / std::sqrt(lx * lx + lz * lz);
  VLA_EXPECT(lit.at(ux, uy) == gray(0.6 * (0.2 + 0.7 * n_dot_l))) << "no shadow without the flag";
  VLA_EXPECT(shadowed.at(ux, uy) == gray(0.6 * 0.2)) << "in the shadow: ambient only";
  int fx = static_cast<int>(far_away[0]), fy = static_cast<int>(far_away[1]);
  VLA_EXPECT(shadowed.at(fx, fy) == lit.at(fx, fy)) << "away from the shadow nothing changes";
  // The shadow on the plane is an ellipse of about 0.035 m^2 (the sphere's disk stretched by
  // 1 / cos(light angle)), some 60 pixels seen from this camera, partly behind the sphere.
  int darker = 0;
  for (int y = 0; y < W; ++y)
    for (int x = 0; x < W; ++x) darker += shadowed.at(x, y) != lit.at(x, y);
  VLA_EXPECT(darker > 20 && darker < 200) << darker;
  // The sphere's own lit side is not shadowed by itself.
  auto top = cam.project({0.02, -0.02, height + 0.098});
  VLA_EXPECT(shadowed.at(int(top[0]), int(top[1])) == lit.at(int(top[0]), int(top[1])));
}

VLA_TEST(render_shading, checker_and_stripes_follow_the_local_frame) {
  // Camera 2 m above the plane, ambient 1: each pixel shows the texture color at the point its
  // center ray hits. Only pixels within 1 mm of a cell border (rounding) are not checked, so a
  // sample off the pixel center or a wrong stripe width shows.
  const int W = 128;
  const float scale = 0.2f;
  const std::array<float, 4> a = {0.9f, 0.1f, 0.1f, 1}, b_param = {scale, 0.1f, 0.1f, 0.9f};
  const Rgb color_a = {srgb8(0.9), srgb8(0.1), srgb8(0.1)}, color_b = {srgb8(0.1), srgb8(0.1), srgb8(0.9)};
  struct Variant {
    int32_t texture;
    std::array<float, 9> mat;
    std::array<float, 3> pos;
  };
  const Variant variants[] = {
      {render::kTextureChecker, kIdentity, {0, 0, 0}},
      {render::kTextureChecker, kIdentity, {scale, 0, 0}},  // shifted by one cell: colors swap
      {render::kTextureStripes, kIdentity, {0, 0, 0}},
      {render::kTextureStripes, rotation_z(90), {0, 0, 0}},  // local x = world y
  };
  for (const Variant& v : variants) {
    TestScene s;
    s.flat_light();
    s.add(render::kGeomPlane, {0, 0, 0}, v.pos, a, v.mat, v.texture, b_param);
    CameraModel cam(s, W, W);
    Image img = render_one(s, W, W);
    const double band_m = 1e-3;
    int checked = 0, mismatched = 0;
    for (int y = 0; y < W; ++y)
      for (int x = 0; x < W; ++x) {
        Vec3d p = cam.on_plane(x, y, 0);
        double lx = p[0] - v.pos[0], ly = p[1] - v.pos[1];
        if (v.mat[1] != 0) std::swap(lx, ly), ly = -ly;  // world -> local for 90 degrees about z
        auto near_border = [&](double u, double period) {
          double f = u / period - std::floor(u / period);
          return std::fmin(f, 1 - f) * period < band_m;
        };
        bool is_a;
        if (v.texture == render::kTextureChecker) {
          if (near_border(lx, scale) || near_border(ly, scale)) continue;
          is_a = ((static_cast<long>(std::floor(lx / scale)) + static_cast<long>(std::floor(ly / scale))) & 1) == 0;
        } else {
          if (near_border(lx, scale / 2)) continue;
          is_a = lx / scale - std::floor(lx / scale) < 0.5;
        }
        ++checked;
        mismatched += img.at(x, y) != (is_a ? color_a : color_b);
      }
    VLA_EXPECT(checked > W * W * 9 / 10) << checked;
    VLA_EXPECT(mismatched == 0) << "texture" << v.texture << "mismatched" << mismatched << "of" << checked;
  }
}

VLA_TEST(render_shading, value_noise_is_smooth_bounded_and_varied) {
  double lo = 1, hi = 0, worst_step = 0;
  for (int i = 0; i < 2000; ++i) {
    render::Vec3 p{i * 0.013f - 7.1f, i * 0.007f + 0.3f, -i * 0.011f};
    float n = render::value_noise(p);
    lo = std::fmin(lo, n), hi = std::fmax(hi, n);
    float n2 = render::value_noise(p + render::Vec3{1e-3f, 1e-3f, 1e-3f});
    worst_step = std::fmax(worst_step, std::fabs(n2 - n));
    VLA_EXPECT(n == render::value_noise(p)) << "deterministic";
  }
  VLA_EXPECT(lo >= 0 && hi <= 1) << lo << hi;
  VLA_EXPECT(hi - lo > 0.6) << "varied:" << lo << hi;
  VLA_EXPECT(worst_step < 0.01) << "continuous:" << worst_step;

  // On a plane: colors vary smoothly between the two texture colors.
  const int W = 48;
  TestScene s;
  s.flat_light();
  s.add(render::kGeomPlane, {0, 0, 0}, {0, 0, 0}, {1, 1, 1, 1}, kIdentity, render::kTextureNoise, {0.5f, 0, 0, 0});
  Image img = render_one(s, W, W);
  // A pixel spans 0.06 noise cells here and the smoothstep-interpolated noise changes by at most
  // 1.5 per cell: neighbors differ by < 0.09 in linear value.
  auto linear = [](uint8_t v) { double c = v / 255.0; return c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4); };
  std::set<uint8_t> values;
  int big_jumps = 0;
  for (int y = 0; y < W; ++y)
    for (int x = 0; x < W; ++x) {
      Rgb c = img.at(x, y);
      VLA_EXPECT(c[0] == c[1] && c[1] == c[2]) << "mix of white and black is gray";
      values.insert(c[0]);
      if (x > 0) big_jumps += std::fabs(linear(c[0]) - linear(img.at(x - 1, y)[0])) > 0.1;
    }
  VLA_EXPECT(values.size() > 40) << values.size();
  VLA_EXPECT(big_jumps == 0) << big_jumps;
}

VLA_TEST(render_shading, supersampling_blends_edges_and_keeps_interiors) {
  const int W = 40;
  TestScene s;
  s.flat_light(0.5f);
  s.add(render::kGeomBox, {0.2f, 0.2f, 0.05f}, {0, 0, 0}, {1, 1, 1, 1}, rotation_z(20));
  Image one = render_one(s, W, W, 1), four = render_one(s, W, W, 4);
  std::set<uint8_t> levels_one, levels_four;
  for (int y = 0; y < W; ++y)
    for (int x = 0; x < W; ++x) levels_one.insert(one.at(x, y)[0]), levels_four.insert(four.at(x, y)[0]);
  VLA_EXPECT(levels_one.size() == 2) << levels_one.size();
  VLA_EXPECT(levels_four.size() > 8) << levels_four.size();
  VLA_EXPECT(one.at(W / 2, W / 2) == four.at(W / 2, W / 2));
  VLA_EXPECT(one.at(0, 0) == four.at(0, 0));
}

}  // namespace vla::test
