// Renderer batches: scenes are independent, output is the same for any thread count, the
// accelerated path equals the brute-force reference, and bad input is rejected with messages
// naming the field, the scene and the geom.
#include <cstring>

#include "core/error.h"
#include "core/random.h"
#include "core/thread_pool.h"
#include "render/render_batch.h"
#include "render/srgb.h"
#include "tests/render_test_scenes.h"
#include "tests/test_framework.h"

namespace vla::test {

namespace {

// A cluttered tabletop with every geom type, random poses, textures and colors, seen from a
// random viewpoint (sometimes close enough that geoms straddle the camera plane).
TestScene random_scene(uint64_t seed, int num_geoms) {
  Rng rng(seed, 11);
  auto u = [&](double lo, double hi) { return static_cast<float>(lo + (hi - lo) * rng.uniform()); };
  TestScene s;
  float azimuth = u(0, 6.283), dist = u(0.4, 2.0);
  s.look({dist * std::cos(azimuth), dist * std::sin(azimuth), u(0.1, 1.5)}, {u(-0.1, 0.1), u(-0.1, 0.1), 0.1f},
         {0, 0, 1}, u(30, 90));
  s.light = {u(-1, 1), u(-1, 1), u(0.2, 1), u(0.5, 1), u(0.5, 1), u(0.5, 1), u(0, 0.3), u(0, 0.3), u(0, 0.3), 1};
  s.background = {u(0, 1), u(0, 1), u(0, 1)};
  s.add(render::kGeomPlane, {0, 0, 0}, {0, 0, 0}, {0.5f, 0.5f, 0.5f, 1}, kIdentity, render::kTextureChecker,
        {0.1f, 0.2f, 0.2f, 0.2f});
  const int32_t types[] = {render::kGeomSphere, render::kGeomCapsule, render::kGeomEllipsoid,
                           render::kGeomCylinder, render::kGeomBox,    render::kGeomPlane};
  for (int i = 1; i < num_geoms; ++i) {
    int32_t type = types[static_cast<int>(rng.uniform() * 6) % 6];
    // A random rotation from a random unit quaternion.
    double q[4], n = 0;
    for (double& c : q) c = rng.normal(), n += c * c;
    n = std::sqrt(n);
    double w = q[0] / n, x = q[1] / n, y = q[2] / n, z = q[3] / n;
    std::array<float, 9> mat = {float(1 - 2 * (y * y + z * z)), float(2 * (x * y - w * z)), float(2 * (x * z + w * y)),
                                float(2 * (x * y + w * z)),     float(1 - 2 * (x * x + z * z)), float(2 * (y * z - w * x)),
                                float(2 * (x * z - w * y)),     float(2 * (y * z + w * x)),     float(1 - 2 * (x * x + y * y))};
    int32_t tex = static_cast<int32_t>(rng.uniform() * 4) % 4;
    s.add(type, {u(0.02, 0.12), u(0.02, 0.12), u(0.02, 0.12)}, {u(-0.5, 0.5), u(-0.5, 0.5), u(0.0, 0.4)},
          {u(0, 1), u(0, 1), u(0, 1), 1}, mat, tex, {u(0.01, 0.05), u(0, 1), u(0, 1), u(0, 1)});
  }
  return s;
}

}  // namespace

VLA_TEST(render_batch, same_bytes_for_any_thread_count) {
  std::vector<TestScene> scenes;
  for (uint64_t i = 0; i < 6; ++i) scenes.push_back(random_scene(100 + i, 30));
  int before = num_threads();
  set_num_threads(1);
  auto one = render_scenes(scenes, 72, 56, 2);
  set_num_threads(2);
  auto two = render_scenes(scenes, 72, 56, 2);
  set_num_threads(3);
  auto three = render_scenes(scenes, 72, 56, 2);
  // Without the pool: the calling thread alone, while the pool has 3 threads.
  auto alone = render_scenes(scenes, 72, 56, 2, true, false);
  set_num_threads(before);
  for (size_t b = 0; b < scenes.size(); ++b) {
    VLA_EXPECT(one[b].rgb == two[b].rgb) << "scene" << b << "1 vs 2 threads";
    VLA_EXPECT(one[b].rgb == three[b].rgb) << "scene" << b << "1 vs 3 threads";
    VLA_EXPECT(one[b].rgb == alone[b].rgb) << "scene" << b << "1 thread vs no pool";
  }
}

VLA_TEST(render_batch, accelerated_path_equals_brute_force_reference) {
  // Screen tiles, bounding spheres and the shadow grid only skip work: every pixel must equal
  // the one found by testing every geom against every ray.
  int pixels_differing_from_background = 0;
  for (uint64_t seed = 0; seed < 24; ++seed) {
    std::vector<TestScene> scenes = {random_scene(seed, 5 + static_cast<int>(seed % 4) * 10)};
    auto fast = render_scenes(scenes, 64, 48, 1, true);
    auto reference = render_scenes(scenes, 64, 48, 1, false);
    int differ = 0;
    for (size_t i = 0; i < fast[0].rgb.size(); ++i) differ += fast[0].rgb[i] != reference[0].rgb[i];
    VLA_EXPECT(differ == 0) << "seed" << seed << ":" << differ << "bytes differ";
    for (int y = 0; y < 48; ++y)
      for (int x = 0; x < 64; ++x) {
        auto bg = scenes[0].background;
        Rgb want = {render::linear_to_srgb8(bg[0]), render::linear_to_srgb8(bg[1]), render::linear_to_srgb8(bg[2])};
        pixels_differing_from_background += fast[0].at(x, y) != want;
      }
  }
  VLA_EXPECT(pixels_differing_from_background > 24 * 64 * 48 / 4) << "the scenes show geoms";
}

VLA_TEST(render_batch, scenes_are_independent) {
  TestScene a = random_scene(7, 20), b = random_scene(8, 12), empty;
  empty.background = {0.2f, 0.4f, 0.6f};
  auto batch = render_scenes({a, empty, b}, 40, 30);
  VLA_EXPECT(batch[0].rgb == render_scenes({a}, 40, 30)[0].rgb);
  VLA_EXPECT(batch[2].rgb == render_scenes({b}, 40, 30)[0].rgb);
  Rgb bg = {render::linear_to_srgb8(0.2f), render::linear_to_srgb8(0.4f), render::linear_to_srgb8(0.6f)};
  bool all_background = true;
  for (int y = 0; y < 30; ++y)
    for (int x = 0; x < 40; ++x) all_background &= batch[1].at(x, y) == bg;
  VLA_EXPECT(all_background) << "a scene without geoms is all background";
  // Only the camera differs: the images differ.
  TestScene moved = a;
  moved.camera[0] += 0.3f;
  VLA_EXPECT(render_scenes({a, moved}, 40, 30)[1].rgb != batch[0].rgb);
}

VLA_TEST(render_batch, empty_batch_and_odd_sizes) {
  PackedTestBatch packed({});
  render::RenderOptions options;
  render::render_batch(packed.view(), options, nullptr);  // nothing to draw, nothing written
  VLA_EXPECT(render::rendered_size(packed.view(), options) == 0);
  auto img = render_scenes({random_scene(3, 10)}, 1, 1)[0];
  VLA_EXPECT(img.rgb.size() == 3);
  auto wide = render_scenes({random_scene(3, 10)}, 131, 17, 3)[0];
  VLA_EXPECT(wide.rgb.size() == 131u * 17u * 3u);
}

VLA_TEST(render_validation, names_the_field_scene_and_geom) {
  TestScene good;
  good.add(render::kGeomSphere, {0.1f, 0, 0}, {0, 0, 0}, {1, 1, 1, 1});
  good.add(render::kGeomBox, {0.1f, 0.1f, 0.1f}, {0.3f, 0, 0}, {1, 1, 1, 1});
  auto check = [&](auto mutate, ErrorCode code, const std::string& fragment, render::RenderOptions options = {}) {
    std::vector<TestScene> scenes = {good, good};
    PackedTestBatch packed(scenes);
    mutate(packed);
    std::vector<uint8_t> out(static_cast<size_t>(std::max<int64_t>(1, render::rendered_size(packed.view(), options))));
    bool thrown = false;
    try {
      render::render_batch(packed.view(), options, out.data());
    } catch (const Error& e) {
      thrown = true;
      VLA_EXPECT(e.code() == code) << error_code_name(e.code()) << e.what();
      VLA_EXPECT(std::string(e.what()).find(fragment) != std::string::npos) << "'" << fragment << "' not in:" << e.what();
    }
    VLA_EXPECT(thrown) << "expected an error containing" << fragment;
  };
  using P = PackedTestBatch;
  check([](P& p) { p.type[3] = 9; }, ErrorCode::kValue, "scene 1, geom 1 (batch geom 3): type = 9 is not a MuJoCo geom type");
  check([](P& p) { p.type[0] = -1; }, ErrorCode::kValue, "scene 0, geom 0 (batch geom 0): type = -1");
  check([](P& p) { p.size[3 * 2] = -0.1f; }, ErrorCode::kValue, "scene 1, geom 0 (batch geom 2): size[0] (radius) = -0.1 must be > 0 for a sphere");
  check([](P& p) { p.size[3 * 1 + 2] = 0; }, ErrorCode::kValue, "size[2] (half extent) = 0 must be > 0 for a box");
  check([](P& p) { p.pos[3 * 3 + 1] = NAN; }, ErrorCode::kValue, "scene 1, geom 1 (batch geom 3): pos[1] is nan");
  check([](P& p) { p.mat[9 + 4] = NAN; }, ErrorCode::kValue, "geom 1 (batch geom 1): mat[4] is nan");
  check([](P& p) { std::fill(p.mat.begin() + 9, p.mat.begin() + 18, 0.0f); }, ErrorCode::kValue,
        "geom 1 (batch geom 1): mat is not a rotation matrix");
  check([](P& p) { p.mat[0] = -1; }, ErrorCode::kValue, "det = -1");  // a reflection
  check([](P& p) { p.rgba[4 * 2 + 3] = 1.5f; }, ErrorCode::kValue, "scene 1, geom 0 (batch geom 2): rgba.a = 1.5 must be in [0, 1]");
  check([](P& p) { p.texture[1] = 4; }, ErrorCode::kValue, "batch geom 1): texture = 4 is not a texture kind");
  check([](P& p) { p.texture[1] = 1; p.tex_params[4] = 0; }, ErrorCode::kValue, "texParams.scale = 0 must be > 0");
  check([](P& p) { p.cameras[10 + 2] = NAN; }, ErrorCode::kValue, "scene 1: cameras.pos[2] is nan");
  check([](P& p) { p.cameras[10 + 9] = 180; }, ErrorCode::kValue, "scene 1: cameras.fovyDeg = 180 must be in (0, 180)");
  check([](P& p) { std::copy(p.cameras.begin(), p.cameras.begin() + 3, p.cameras.begin() + 3); }, ErrorCode::kValue,
        "scene 0: camera lookAt equals pos");
  check([](P& p) { p.cameras[6] = 0, p.cameras[7] = 0, p.cameras[8] = -3; }, ErrorCode::kValue,
        "scene 0: camera up (0, 0, -3) is parallel to the view direction");
  check([](P& p) { p.lights[10 + 0] = p.lights[10 + 1] = p.lights[10 + 2] = 0; }, ErrorCode::kValue,
        "scene 1: lights.direction is the zero vector");
  check([](P& p) { p.lights[9] = 0.5f; }, ErrorCode::kValue, "scene 0: lights.shadows = 0.5 must be 0 or 1");
  check([](P& p) { p.lights[6] = -1; }, ErrorCode::kValue, "scene 0: lights.ambient[0] = -1 must be >= 0");
  check([](P& p) { p.background[4] = NAN; }, ErrorCode::kValue, "scene 1: background.g is nan");
  check([](P& p) { p.offsets[1] = 3, p.offsets[2] = 2; }, ErrorCode::kValue, "geomOffsets[2] = 2 is less than geomOffsets[1] = 3");
  check([](P& p) { p.offsets[2] = 3; }, ErrorCode::kValue, "geomOffsets[2] = 3 must equal the number of geoms, 4");
  check([](P& p) { p.offsets[0] = 1; }, ErrorCode::kValue, "geomOffsets[0] = 1 must be 0");
  render::RenderOptions big;
  big.width = 5000;
  check([](P&) {}, ErrorCode::kArgument, "image size 5000x64", big);
  render::RenderOptions ss;
  ss.supersample = 0;
  check([](P&) {}, ErrorCode::kArgument, "supersample = 0 must be in [1, 8]", ss);
  // Meshes are valid MuJoCo geoms that are not drawn: no error, whatever their size.
  std::vector<TestScene> scenes = {good};
  scenes[0].add(render::kGeomMesh, {0, 0, 0}, {0, 0, 0}, {1, 1, 1, 1});
  render_scenes(scenes, 8, 8);
}

}  // namespace vla::test
