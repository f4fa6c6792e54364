// Renderer geometry: each geom type covers the pixels its analytic projection says, depth order,
// rotations, finite and infinite planes.
#include <algorithm>
#include <cmath>
#include <string>

#include "core/random.h"
#include "render/ray_geom.h"
#include "render/render_batch.h"
#include "tests/render_test_scenes.h"
#include "tests/test_framework.h"

namespace vla::test {

namespace {

constexpr std::array<float, 4> kWhite = {1, 1, 1, 1};
constexpr Rgb kBlack = {0, 0, 0};

// Pixels whose color differs from the (black) background.
int covered_pixels(const Image& img) {
  int n = 0;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) n += img.at(x, y) != kBlack;
  return n;
}

// First and one-past-last covered pixel along row y (or column x when `column`).
std::array<int, 2> covered_span(const Image& img, int line, bool column) {
  int n = column ? img.height : img.width;
  int first = n, last = -1;
  for (int i = 0; i < n; ++i) {
    Rgb c = column ? img.at(line, i) : img.at(i, line);
    if (c != kBlack) first = std::min(first, i), last = std::max(last, i);
  }
  return {first, last + 1};
}

}  // namespace

VLA_TEST(render_geometry, centered_sphere_covers_its_projected_disk) {
  // A sphere seen from distance D projects to a disk of slope radius r / sqrt(D^2 - r^2).
  const double r = 0.25, D = 2.0;
  TestScene s;
  s.flat_light();
  s.add(render::kGeomSphere, {static_cast<float>(r), 0, 0}, {0, 0, 0}, kWhite);
  const int W = 128;
  CameraModel cam(s, W, W);
  double radius_px = r / std::sqrt(D * D - r * r) * cam.pixels_per_slope();
  double expected = M_PI * radius_px * radius_px;
  Image img = render_one(s, W, W);
  double area = covered_pixels(img);
  VLA_EXPECT(std::fabs(area - expected) <= 0.015 * expected) << "area" << area << "expected" << expected;
  // The disk is centered in the image.
  auto row = covered_span(img, W / 2, false), col = covered_span(img, W / 2, true);
  VLA_EXPECT_NEAR(0.5 * (row[0] + row[1]), W / 2.0, 0.5);
  VLA_EXPECT_NEAR(0.5 * (col[0] + col[1]), W / 2.0, 0.5);
  VLA_EXPECT_NEAR(row[1] - row[0], 2 * radius_px, 1.0);
}

VLA_TEST(render_geometry, supersampled_coverage_matches_the_disk_area_closely) {
  // With 4x4 samples a pixel's linear intensity is the covered fraction (white on black, ambient
  // 1), so the summed coverage estimates the disk's area far better than pixel centers do.
  const double r = 0.25, D = 2.0;
  TestScene s;
  s.flat_light();
  s.add(render::kGeomSphere, {static_cast<float>(r), 0, 0}, {0, 0, 0}, kWhite);
  const int W = 96;
  CameraModel cam(s, W, W);
  double radius_px = r / std::sqrt(D * D - r * r) * cam.pixels_per_slope();
  double expected = M_PI * radius_px * radius_px;
  Image img = render_one(s, W, W, 4);
  double area = 0;
  int partial = 0;
  for (int y = 0; y < W; ++y)
    for (int x = 0; x < W; ++x) {
      double v = img.at(x, y)[0] / 255.0;
      double linear = v <= 0.04045 ? v / 12.92 : std::pow((v + 0.055) / 1.055, 2.4);
      area += linear;
      partial += img.at(x, y)[0] != 0 && img.at(x, y)[0] != 255;
    }
  VLA_EXPECT(std::fabs(area - expected) <= 0.005 * expected) << "area" << area << "expected" << expected;
  VLA_EXPECT(partial > 20) << "edge pixels with partial coverage:" << partial;
}

VLA_TEST(render_geometry, every_type_spans_its_analytic_silhouette) {
  // Camera 2 m above the origin looking down; each geom centered at the origin. Expected half
  // extents of the silhouette in slope units (x/z), along image x and image y.
  const double D = 2.0;
  struct Case {
    const char* name;
    int32_t type;
    std::array<float, 3> size;
    std::array<float, 9> mat;
    double half_x, half_y;
  };
  auto sphere_hi = [](double c, double d, double r) {  // top tangent slope of a sphere at (c, d)
    return (c * d + r * std::sqrt(c * c + d * d - r * r)) / (d * d - r * r);
  };
  const Case cases[] = {
      {"sphere", render::kGeomSphere, {0.2f, 0, 0}, kIdentity, 0.2 / std::sqrt(D * D - 0.04), 0.2 / std::sqrt(D * D - 0.04)},
      // Ellipsoid (a, b, c): x half slope a / sqrt(D^2 - c^2).
      {"ellipsoid", render::kGeomEllipsoid, {0.3f, 0.15f, 0.1f}, kIdentity, 0.3 / std::sqrt(D * D - 0.01),
       0.15 / std::sqrt(D * D - 0.01)},
      // Capsule lying along world y (local z rotated by 90 degrees about x): across, the
      // cylinder; along, the end spheres at y = +-h.
      {"capsule", render::kGeomCapsule, {0.1f, 0.2f, 0}, rotation_x(90), 0.1 / std::sqrt(D * D - 0.01),
       sphere_hi(0.2, D, 0.1)},
      // Cylinder along the view axis: the near cap (z = h) is the silhouette.
      {"cylinder", render::kGeomCylinder, {0.15f, 0.1f, 0}, kIdentity, 0.15 / (D - 0.1), 0.15 / (D - 0.1)},
      // Box: the near face (z = c).
      {"box", render::kGeomBox, {0.3f, 0.1f, 0.05f}, kIdentity, 0.3 / (D - 0.05), 0.1 / (D - 0.05)},
      {"finite plane", render::kGeomPlane, {0.25f, 0.15f, 0}, kIdentity, 0.25 / D, 0.15 / D},
  };
  const int W = 128;
  for (const Case& c : cases) {
    TestScene s;
    s.flat_light();
    s.add(c.type, c.size, {0, 0, 0}, kWhite, c.mat);
    CameraModel cam(s, W, W);
    Image img = render_one(s, W, W);
    auto row = covered_span(img, W / 2, false), col = covered_span(img, W / 2, true);
    double px = cam.pixels_per_slope();
    VLA_EXPECT_NEAR(row[1] - row[0], 2 * c.half_x * px, 1.0) << c.name << "width";
    VLA_EXPECT_NEAR(col[1] - col[0], 2 * c.half_y * px, 1.0) << c.name << "height";
    VLA_EXPECT_NEAR(0.5 * (row[0] + row[1]), W / 2.0, 0.5) << c.name;
    VLA_EXPECT_NEAR(0.5 * (col[0] + col[1]), W / 2.0, 0.5) << c.name;
  }
}

VLA_TEST(render_geometry, off_center_geoms_appear_at_their_projection) {
  const std::array<float, 3> where = {0.3f, -0.2f, 0.05f};
  const int32_t types[] = {render::kGeomSphere, render::kGeomCapsule, render::kGeomEllipsoid, render::kGeomCylinder,
                           render::kGeomBox};
  for (int32_t type : types) {
    TestScene s;
    s.flat_light();
    s.add(type, {0.06f, 0.06f, 0.06f}, where, kWhite);
    const int W = 96;
    CameraModel cam(s, W, W);
    Image img = render_one(s, W, W);
    auto center = cam.project({where[0], where[1], where[2]});
    auto beside = cam.project({where[0] + 0.2, where[1], where[2]});
    auto mirrored = cam.project({-where[0], -where[1], where[2]});
    VLA_EXPECT(img.at(static_cast<int>(center[0]), static_cast<int>(center[1])) != kBlack) << "type" << type;
    VLA_EXPECT(img.at(static_cast<int>(beside[0]), static_cast<int>(beside[1])) == kBlack) << "type" << type;
    VLA_EXPECT(img.at(static_cast<int>(mirrored[0]), static_cast<int>(mirrored[1])) == kBlack) << "type" << type;
    // World +x is image right, world +y (the camera's up) is image top: the geom is right of
    // center and below it.
    VLA_EXPECT(center[0] > W / 2.0 && center[1] > W / 2.0);
  }
}

VLA_TEST(render_geometry, nearer_geom_hides_the_one_behind) {
  for (bool red_first : {true, false}) {
    TestScene s;
    s.flat_light();
    auto add_red = [&] { s.add(render::kGeomBox, {0.1f, 0.1f, 0.1f}, {0, 0, 0.3f}, {1, 0, 0, 1}); };
    auto add_green = [&] { s.add(render::kGeomBox, {0.3f, 0.3f, 0.1f}, {0, 0, 0}, {0, 1, 0, 1}); };
    if (red_first) add_red(), add_green();
    else add_green(), add_red();
    const int W = 64;
    CameraModel cam(s, W, W);
    Image from_above = render_one(s, W, W);
    VLA_EXPECT(from_above.at(W / 2, W / 2) == (Rgb{255, 0, 0})) << "red box is nearer from above";
    auto side = cam.project({0.22, 0, 0.1});
    VLA_EXPECT(from_above.at(static_cast<int>(side[0]), static_cast<int>(side[1])) == (Rgb{0, 255, 0}));
    s.look({0, 0, -2}, {0, 0, 0}, {0, 1, 0}, 40);
    Image from_below = render_one(s, W, W);
    VLA_EXPECT(from_below.at(W / 2, W / 2) == (Rgb{0, 255, 0})) << "green box is nearer from below";
  }
}

VLA_TEST(render_geometry, rotation_matrix_columns_are_local_axes) {
  const int W = 96;
  auto extent = [&](std::array<float, 9> mat) {
    TestScene s;
    s.flat_light();
    s.add(render::kGeomBox, {0.4f, 0.04f, 0.04f}, {0, 0, 0}, kWhite, mat);
    Image img = render_one(s, W, W);
    auto row = covered_span(img, W / 2, false), col = covered_span(img, W / 2, true);
    return std::array<int, 2>{row[1] - row[0], col[1] - col[0]};
  };
  auto flat = extent(kIdentity), turned = extent(rotation_z(90));
  VLA_EXPECT(flat[0] > 4 * flat[1]) << flat[0] << flat[1];
  VLA_EXPECT(std::abs(turned[0] - flat[1]) <= 1 && std::abs(turned[1] - flat[0]) <= 1)
      << "90 degrees about z swaps the extents:" << flat[0] << flat[1] << "->" << turned[0] << turned[1];

  // 45 degrees about z: local x (the long axis) points to world (1, 1, 0), so the bar runs from
  // the image's lower left to its upper right. The transposed matrix would give the other diagonal.
  TestScene s;
  s.flat_light();
  s.add(render::kGeomBox, {0.4f, 0.04f, 0.04f}, {0, 0, 0}, kWhite, rotation_z(45));
  CameraModel cam(s, W, W);
  Image img = render_one(s, W, W);
  auto upper_right = cam.project({0.2, 0.2, 0.04}), lower_right = cam.project({0.2, -0.2, 0.04});
  VLA_EXPECT(img.at(static_cast<int>(upper_right[0]), static_cast<int>(upper_right[1])) != kBlack);
  VLA_EXPECT(img.at(static_cast<int>(lower_right[0]), static_cast<int>(lower_right[1])) == kBlack);
}

VLA_TEST(render_geometry, finite_plane_ends_where_infinite_plane_goes_on) {
  // Camera looking down at 26.6 degrees with a 60 degree field: the top rows see the sky.
  const int W = 64;
  auto draw = [&](float half) {
    TestScene s;
    s.flat_light();
    s.look({0, -2, 1}, {0, 0, 0}, {0, 0, 1}, 60);
    s.add(render::kGeomPlane, {half, half, 0}, {0, 0, 0}, kWhite);
    return render_one(s, W, W);
  };
  Image infinite = draw(0), finite = draw(0.2f);
  VLA_EXPECT(infinite.at(0, W - 1) != kBlack) << "the infinite plane fills the bottom corner";
  VLA_EXPECT(infinite.at(W / 2, 0) == kBlack) << "above the horizon";
  VLA_EXPECT(finite.at(0, W - 1) == kBlack) << "the finite plane does not reach the corner";
  VLA_EXPECT(finite.at(W / 2, W / 2) != kBlack) << "the camera looks at the plane's center";
  // Half-infinite: bounded along y only, so the row through the center is covered end to end.
  TestScene s;
  s.flat_light();
  s.look({0, -2, 1}, {0, 0, 0}, {0, 0, 1}, 60);
  s.add(render::kGeomPlane, {0, 0.2f, 0}, {0, 0, 0}, kWhite);
  Image strip = render_one(s, W, W);
  VLA_EXPECT(strip.at(0, W / 2) != kBlack && strip.at(W - 1, W / 2) != kBlack);
  VLA_EXPECT(strip.at(0, W - 1) == kBlack);
}

VLA_TEST(render_geometry, plane_is_two_sided_and_hides_what_is_beneath) {
  const int W = 32;
  TestScene s;
  s.flat_light();
  s.add(render::kGeomPlane, {0.5f, 0.5f, 0}, {0, 0, 0}, {0, 0, 1, 1});
  s.add(render::kGeomSphere, {0.1f, 0, 0}, {0, 0, -0.3f}, {1, 0, 0, 1});
  VLA_EXPECT(render_one(s, W, W).at(W / 2, W / 2) == (Rgb{0, 0, 255})) << "from above: the plane";
  s.look({0, 0, -2}, {0, 0, 0}, {0, 1, 0}, 40);
  VLA_EXPECT(render_one(s, W, W).at(W / 2, W / 2) == (Rgb{255, 0, 0})) << "from below: the sphere first";
  VLA_EXPECT(render_one(s, W, W).at(W / 4, W / 4) == (Rgb{0, 0, 255})) << "the plane's back side is drawn";
}

VLA_TEST(render_geometry, coplanar_geoms_tie_to_the_lower_index) {
  // Two planes in the same place: equal hit distances. The lower geom index wins whatever the
  // order the renderer tests them in (it tests larger, nearer-reaching geoms first).
  const int W = 32;
  for (bool small_first : {true, false}) {
    TestScene s;
    s.flat_light();
    auto small = [&] { s.add(render::kGeomPlane, {0.2f, 0.2f, 0}, {0, 0, 0}, {1, 0, 0, 1}); };
    auto large = [&] { s.add(render::kGeomPlane, {0.6f, 0.6f, 0}, {0, 0, 0}, {0, 1, 0, 1}); };
    if (small_first) small(), large();
    else large(), small();
    Rgb want = small_first ? Rgb{255, 0, 0} : Rgb{0, 255, 0};
    VLA_EXPECT(render_one(s, W, W).at(W / 2, W / 2) == want) << "small plane first:" << small_first;
  }
}

VLA_TEST(render_geometry, intersections_land_on_the_surface_with_outward_normals) {
  // Rays from random points outside each shape towards random points inside it: the first hit
  // lies on the surface, its normal points outwards, and nothing of the shape lies before it.
  Rng rng(42, 3);
  auto u = [&](double lo, double hi) { return static_cast<float>(lo + (hi - lo) * rng.uniform()); };
  struct Shape {
    int32_t type;
    float size[3];
    // Signed "outside-ness": < 0 inside, 0 on the surface, > 0 outside (not a distance).
    double (*level)(const float*, double, double, double);
  };
  const Shape shapes[] = {
      {render::kGeomSphere, {0.3f, 0, 0}, [](const float* s, double x, double y, double z) { return std::sqrt(x * x + y * y + z * z) - s[0]; }},
      {render::kGeomEllipsoid, {0.3f, 0.15f, 0.1f}, [](const float* s, double x, double y, double z) {
         return std::sqrt(x * x / (s[0] * s[0]) + y * y / (s[1] * s[1]) + z * z / (s[2] * s[2])) - 1; }},
      {render::kGeomCapsule, {0.1f, 0.2f, 0}, [](const float* s, double x, double y, double z) {
         double zc = std::fmax(-s[1], std::fmin(s[1], z));
         return std::sqrt(x * x + y * y + (z - zc) * (z - zc)) - s[0]; }},
      {render::kGeomCylinder, {0.15f, 0.1f, 0}, [](const float* s, double x, double y, double z) {
         return std::fmax(std::sqrt(x * x + y * y) - s[0], std::fabs(z) - s[1]); }},
      {render::kGeomBox, {0.3f, 0.1f, 0.05f}, [](const float* s, double x, double y, double z) {
         return std::fmax(std::fabs(x) - s[0], std::fmax(std::fabs(y) - s[1], std::fabs(z) - s[2])); }},
  };
  for (const Shape& shape : shapes) {
    int hits = 0;
    for (int k = 0; k < 500; ++k) {
      render::Vec3 target{u(-0.5, 0.5) * shape.size[0], u(-0.5, 0.5) * shape.size[0], u(-0.5, 0.5) * shape.size[0]};
      if (shape.level(shape.size, target.x, target.y, target.z) >= 0) continue;
      render::Vec3 dir = render::normalize({u(-1, 1), u(-1, 1), u(-1, 1)});
      render::Vec3 origin = target - dir * 2.0f;
      render::LocalHit hit;
      bool found = render::intersect_local(shape.type, shape.size, origin, dir, 0.0f, 1e30f, &hit);
      VLA_EXPECT(found) << "type" << shape.type << "ray" << k << "aimed inside must hit";
      if (!found) continue;
      ++hits;
      render::Vec3 p = hit.point;
      VLA_EXPECT(std::fabs(shape.level(shape.size, p.x, p.y, p.z)) < 2e-4) << "type" << shape.type << "off the surface";
      render::Vec3 along = origin + dir * hit.t;
      VLA_EXPECT(render::length(along - p) < 2e-4) << "type" << shape.type << "point is not at t";
      VLA_EXPECT(std::fabs(render::length(hit.normal) - 1) < 1e-4) << "type" << shape.type;
      // Outward: stepping along the normal leaves the shape, stepping against it enters.
      render::Vec3 out = p + hit.normal * 1e-3f, in = p - hit.normal * 1e-3f;
      VLA_EXPECT(shape.level(shape.size, out.x, out.y, out.z) > 0) << "type" << shape.type << "normal points inwards";
      VLA_EXPECT(shape.level(shape.size, in.x, in.y, in.z) < 0) << "type" << shape.type << "normal points inwards";
      // The first hit: the point just before it is outside.
      render::Vec3 before = origin + dir * (hit.t - 1e-3f);
      VLA_EXPECT(shape.level(shape.size, before.x, before.y, before.z) > 0) << "type" << shape.type << "not the first hit";
      // And t_max below the hit finds nothing.
      VLA_EXPECT(!render::intersect_local(shape.type, shape.size, origin, dir, 0.0f, hit.t * 0.999f, &hit));
    }
    VLA_EXPECT(hits > 100) << "type" << shape.type << hits;
  }
}

VLA_TEST(render_geometry, hidden_and_undrawn_geoms_are_skipped) {
  const int W = 32;
  TestScene s;
  s.flat_light();
  s.add(render::kGeomSphere, {0.3f, 0, 0}, {0, 0, 0}, {1, 0, 0, 0});  // alpha 0
  s.add(render::kGeomMesh, {0, 0, 0}, {0, 0, 0}, kWhite);             // mesh: not drawn
  s.add(render::kGeomHfield, {0, 0, 0}, {0, 0, 0}, kWhite);
  Image img = render_one(s, W, W);
  VLA_EXPECT(covered_pixels(img) == 0);
}

}  // namespace vla::test
