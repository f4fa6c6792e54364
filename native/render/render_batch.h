// The batched CPU renderer: draws B scenes (lib/render/scene.ts is the contract) into uint8 RGB
// images [B, H, W, 3], row 0 at the top.
//
// Each pixel casts a ray from a pinhole camera and intersects every geom analytically in the
// geom's own frame (plane, sphere, capsule, ellipsoid, cylinder, box). The nearest hit is shaded
// with Lambert diffuse from one directional light plus ambient, optionally with a hard shadow
// (one ray towards the light), its color modulated by a procedural texture in the geom's frame.
// Linear color is clamped to [0, 1] and encoded as sRGB. With supersample = S, each pixel averages
// S x S stratified samples (in linear color) before encoding.
//
// Output depends only on the input: every pixel is computed on its own, so any thread count
// gives the same bytes.
#pragma once

#include <cstdint>

namespace vla::render {

// mjtGeom values drawn by the renderer. hfield (1), mesh (7) and sdf (8) are valid MuJoCo types
// that are not drawn; any other value is an error.
enum GeomKind : int32_t {
  kGeomPlane = 0,
  kGeomHfield = 1,
  kGeomSphere = 2,
  kGeomCapsule = 3,
  kGeomEllipsoid = 4,
  kGeomCylinder = 5,
  kGeomBox = 6,
  kGeomMesh = 7,
  kGeomSdf = 8,
};

enum TextureKind : int32_t { kTextureNone = 0, kTextureChecker = 1, kTextureStripes = 2, kTextureNoise = 3 };

// Per-scene record layouts (floats).
constexpr int kCameraStride = 10;      // pos 3, lookAt 3, up 3, fovyDeg
constexpr int kLightStride = 10;       // direction 3 (towards the light), color 3, ambient 3, shadows 0/1
constexpr int kBackgroundStride = 3;   // linear RGB
// Per-geom record layouts.
constexpr int kSizeStride = 3;
constexpr int kPosStride = 3;
constexpr int kMatStride = 9;          // row-major; columns are the local axes in world coordinates
constexpr int kRgbaStride = 4;
constexpr int kTexParamsStride = 4;    // scale (meters), second color r, g, b

// Limits checked by validation.
constexpr int kMaxImageSide = 4096;
constexpr int kMaxSupersample = 8;

// A batch of B scenes holding G geoms in all, as flat arrays (not owned). Scene b owns geoms
// [geom_offsets[b], geom_offsets[b + 1]).
struct SceneBatchView {
  int64_t num_scenes = 0;                // B
  int64_t num_geoms = 0;                 // G; must equal geom_offsets[B]
  const int32_t* geom_offsets = nullptr; // [B + 1], starts at 0, non-decreasing
  const int32_t* type = nullptr;         // [G]
  const float* size = nullptr;           // [G, 3]
  const float* pos = nullptr;            // [G, 3]
  const float* mat = nullptr;            // [G, 9]
  const float* rgba = nullptr;           // [G, 4]
  const int32_t* texture = nullptr;      // [G]
  const float* tex_params = nullptr;     // [G, 4]
  const float* cameras = nullptr;        // [B, 10]
  const float* lights = nullptr;         // [B, 10]
  const float* background = nullptr;     // [B, 3]
};

struct RenderOptions {
  int width = 64;       // in [1, kMaxImageSide]
  int height = 64;      // in [1, kMaxImageSide]
  int supersample = 1;  // samples per pixel side, in [1, kMaxSupersample]
  // false tests every geom against every ray (no screen tiles, bounding spheres or shadow
  // grid): slow, the reference the tests compare the accelerated path with.
  bool cull = true;
  // false: the calling thread draws the whole batch, no pool threads and no waiting on them. For
  // callers that already run one renderer per thread (the tabletop's rollout workers), where
  // sharing the pool only adds hand-offs and spin-waits between threads.
  bool use_thread_pool = true;
};

// Bytes render_batch writes: B * H * W * 3.
int64_t rendered_size(const SceneBatchView& batch, const RenderOptions& options);

// Throws vla::Error naming the field, the scene and the geom of the first problem found: counts
// and offsets, unknown geom or texture types, non-finite or out-of-range numbers, rotation
// matrices that are not rotations, degenerate cameras (lookAt == pos, up parallel to the view),
// zero light directions, bad image sizes.
void validate_batch(const SceneBatchView& batch, const RenderOptions& options);

// Validates, then draws every scene into out[B, H, W, 3] (uint8 RGB, row 0 at the top), spread
// over the global thread pool by (scene, block of rows).
void render_batch(const SceneBatchView& batch, const RenderOptions& options, uint8_t* out);

}  // namespace vla::render
