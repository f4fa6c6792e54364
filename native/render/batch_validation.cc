// validate_batch: every check names the field, the scene and the geom, so a caller can find the
// bad value in its own arrays (field names are those of PackedSceneBatch in lib/render).
#include <cmath>
#include <ostream>

#include "core/error.h"
#include "render/render_batch.h"
#include "render/vec3.h"

namespace vla::render {

namespace {

// A rotation's columns must be orthonormal within this (MuJoCo's xmat is exact to ~1e-6 in
// float; a larger error means the matrix is not a rotation, e.g. left zero-filled).
constexpr double kRotationTolerance = 1e-3;

// Where a problem is, streamed into the message only when there is one (validation runs on
// every call, so building strings up front would cost more than the checks).
struct Where {
  int64_t scene;
  int64_t first_geom = -1;  // the scene's first batch geom, when `geom` is set
  int64_t geom = -1;        // batch geom index, or -1 for a per-scene field
};

std::ostream& operator<<(std::ostream& os, const Where& w) {
  os << "render: scene " << w.scene;
  if (w.geom >= 0) os << ", geom " << (w.geom - w.first_geom) << " (batch geom " << w.geom << ")";
  return os;
}

void check_finite(const float* v, int n, const Where& where, const char* field, const char* const* parts) {
  for (int i = 0; i < n; ++i)
    if (!std::isfinite(v[i]))  // "pos[1]", "cameras.fovyDeg"
      fail(ErrorCode::kValue, where, ": ", field, parts[i][0] == '[' ? "" : ".", parts[i], " is ", v[i], " (must be finite)");
}

const char* geom_type_name(int32_t t) {
  switch (t) {
    case kGeomPlane: return "plane";
    case kGeomSphere: return "sphere";
    case kGeomCapsule: return "capsule";
    case kGeomEllipsoid: return "ellipsoid";
    case kGeomCylinder: return "cylinder";
    case kGeomBox: return "box";
    default: return "?";
  }
}

void check_camera(int64_t b, const float* cam) {
  static const char* const kParts[] = {"pos[0]", "pos[1]", "pos[2]", "lookAt[0]", "lookAt[1]",
                                       "lookAt[2]", "up[0]",  "up[1]",  "up[2]",     "fovyDeg"};
  Where where{b};
  check_finite(cam, kCameraStride, where, "cameras", kParts);
  float fovy = cam[9];
  if (!(fovy > 0 && fovy < 180))
    fail(ErrorCode::kValue, where, ": cameras.fovyDeg = ", fovy, " must be in (0, 180) degrees");
  Vec3 pos = vec3(cam), look = vec3(cam + 3), up = vec3(cam + 6);
  Vec3 view = look - pos;
  float scale = std::fmax(1.0f, std::fmax(length(pos), length(look)));
  if (length(view) <= 1e-6f * scale)
    fail(ErrorCode::kValue, where, ": camera lookAt equals pos (", pos.x, ", ", pos.y, ", ", pos.z,
         "): the view direction is undefined");
  float up_len = length(up);
  if (!(up_len > 0)) fail(ErrorCode::kValue, where, ": camera up is the zero vector");
  float sin_angle = length(cross(normalize(view), up * (1.0f / up_len)));
  if (sin_angle < 1e-4f)
    fail(ErrorCode::kValue, where, ": camera up (", up.x, ", ", up.y, ", ", up.z,
         ") is parallel to the view direction: the image's up is undefined");
}

void check_light(int64_t b, const float* light) {
  static const char* const kParts[] = {"direction[0]", "direction[1]", "direction[2]", "color[0]", "color[1]",
                                       "color[2]",     "ambient[0]",   "ambient[1]",   "ambient[2]", "shadows"};
  Where where{b};
  check_finite(light, kLightStride, where, "lights", kParts);
  if (!(length(vec3(light)) > 0)) fail(ErrorCode::kValue, where, ": lights.direction is the zero vector");
  for (int i = 3; i < 9; ++i)
    if (light[i] < 0) fail(ErrorCode::kValue, where, ": lights.", kParts[i], " = ", light[i], " must be >= 0");
  if (light[9] != 0 && light[9] != 1)
    fail(ErrorCode::kValue, where, ": lights.shadows = ", light[9], " must be 0 or 1");
}

void check_background(int64_t b, const float* bg) {
  static const char* const kParts[] = {"r", "g", "b"};
  Where where{b};
  check_finite(bg, kBackgroundStride, where, "background", kParts);
  for (int i = 0; i < 3; ++i)
    if (bg[i] < 0) fail(ErrorCode::kValue, where, ": background.", kParts[i], " = ", bg[i], " must be >= 0");
}

void check_size(const Where& where, int32_t type, const float* s) {
  auto need = [&](int i, bool ok, const char* meaning, const char* rule) {
    if (!ok) fail(ErrorCode::kValue, where, ": size[", i, "] (", meaning, ") = ", s[i], " must be ", rule, " for a ",
                  geom_type_name(type));
  };
  switch (type) {
    case kGeomPlane:
      need(0, s[0] >= 0, "half extent x, 0 = infinite", ">= 0");
      need(1, s[1] >= 0, "half extent y, 0 = infinite", ">= 0");
      break;
    case kGeomSphere: need(0, s[0] > 0, "radius", "> 0"); break;
    case kGeomCapsule:
      need(0, s[0] > 0, "radius", "> 0");
      need(1, s[1] >= 0, "half length", ">= 0");
      break;
    case kGeomEllipsoid:
      for (int i = 0; i < 3; ++i) need(i, s[i] > 0, "semi-axis", "> 0");
      break;
    case kGeomCylinder:
      need(0, s[0] > 0, "radius", "> 0");
      need(1, s[1] > 0, "half length", "> 0");
      break;
    case kGeomBox:
      for (int i = 0; i < 3; ++i) need(i, s[i] > 0, "half extent", "> 0");
      break;
  }
}

void check_rotation(const Where& where, const float* m) {
  double worst = 0;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      // (R^T R)_ij: the dot product of columns i and j.
      double d = static_cast<double>(m[i]) * m[j] + static_cast<double>(m[3 + i]) * m[3 + j] +
                 static_cast<double>(m[6 + i]) * m[6 + j];
      worst = std::fmax(worst, std::fabs(d - (i == j ? 1.0 : 0.0)));
    }
  double det = m[0] * (static_cast<double>(m[4]) * m[8] - static_cast<double>(m[5]) * m[7]) -
               m[1] * (static_cast<double>(m[3]) * m[8] - static_cast<double>(m[5]) * m[6]) +
               m[2] * (static_cast<double>(m[3]) * m[7] - static_cast<double>(m[4]) * m[6]);
  if (worst > kRotationTolerance || det <= 0)
    fail(ErrorCode::kValue, where, ": mat is not a rotation matrix (columns must be orthonormal within ",
         kRotationTolerance, " and det = +1; max |R^T R - I| = ", worst, ", det = ", det,
         "). Geoms allocated zero-filled need mat set, e.g. to the identity [1,0,0, 0,1,0, 0,0,1]");
}

void check_geom(const SceneBatchView& batch, int64_t b, int64_t first, int64_t g) {
  int32_t type = batch.type[g];
  if (type == kGeomHfield || type == kGeomMesh || type == kGeomSdf) return;  // not drawn
  Where where{b, first, g};
  if (type < kGeomPlane || type > kGeomSdf)
    fail(ErrorCode::kValue, where, ": type = ", type,
         " is not a MuJoCo geom type (plane 0, sphere 2, capsule 3, ellipsoid 4, cylinder 5, box 6; "
         "hfield 1, mesh 7, sdf 8 are not drawn)");
  static const char* const kXyz[] = {"[0]", "[1]", "[2]"};
  static const char* const kMat[] = {"[0]", "[1]", "[2]", "[3]", "[4]", "[5]", "[6]", "[7]", "[8]"};
  static const char* const kRgba[] = {"r", "g", "b", "a"};
  static const char* const kTex[] = {"scale", "r", "g", "b"};
  const float* size = batch.size + g * kSizeStride;
  check_finite(size, 3, where, "size", kXyz);
  check_size(where, type, size);
  check_finite(batch.pos + g * kPosStride, 3, where, "pos", kXyz);
  const float* mat = batch.mat + g * kMatStride;
  check_finite(mat, 9, where, "mat", kMat);
  check_rotation(where, mat);
  const float* rgba = batch.rgba + g * kRgbaStride;
  check_finite(rgba, 4, where, "rgba", kRgba);
  for (int i = 0; i < 4; ++i)
    if (rgba[i] < 0 || rgba[i] > 1)
      fail(ErrorCode::kValue, where, ": rgba.", kRgba[i], " = ", rgba[i], " must be in [0, 1]");
  int32_t tex = batch.texture[g];
  if (tex < kTextureNone || tex > kTextureNoise)
    fail(ErrorCode::kValue, where, ": texture = ", tex, " is not a texture kind (none 0, checker 1, stripes 2, noise 3)");
  if (tex != kTextureNone) {
    const float* p = batch.tex_params + g * kTexParamsStride;
    check_finite(p, 4, where, "texParams", kTex);
    if (!(p[0] > 0)) fail(ErrorCode::kValue, where, ": texParams.scale = ", p[0], " must be > 0 for a texture");
    for (int i = 1; i < 4; ++i)
      if (p[i] < 0 || p[i] > 1)
        fail(ErrorCode::kValue, where, ": texParams.", kTex[i], " = ", p[i], " must be in [0, 1]");
  }
}

}  // namespace

int64_t rendered_size(const SceneBatchView& batch, const RenderOptions& options) {
  return batch.num_scenes * static_cast<int64_t>(options.height) * options.width * 3;
}

void validate_batch(const SceneBatchView& batch, const RenderOptions& options) {
  if (options.width < 1 || options.width > kMaxImageSide || options.height < 1 || options.height > kMaxImageSide)
    fail(ErrorCode::kArgument, "render: image size ", options.width, "x", options.height, " (width x height) must be in [1, ",
         kMaxImageSide, "] on each side");
  if (options.supersample < 1 || options.supersample > kMaxSupersample)
    fail(ErrorCode::kArgument, "render: supersample = ", options.supersample, " must be in [1, ", kMaxSupersample, "]");
  if (batch.num_scenes < 0 || batch.num_geoms < 0)
    fail(ErrorCode::kShape, "render: negative counts (", batch.num_scenes, " scenes, ", batch.num_geoms, " geoms)");
  if (batch.num_geoms > INT32_MAX)
    fail(ErrorCode::kShape, "render: ", batch.num_geoms, " geoms exceed the int32 range of geomOffsets");
  if (batch.geom_offsets == nullptr)
    fail(ErrorCode::kArgument, "render: geomOffsets is missing");
  if (batch.num_scenes > 0 && (!batch.cameras || !batch.lights || !batch.background))
    fail(ErrorCode::kArgument, "render: cameras, lights and background are required");
  if (batch.num_geoms > 0 && (!batch.type || !batch.size || !batch.pos || !batch.mat || !batch.rgba ||
                              !batch.texture || !batch.tex_params))
    fail(ErrorCode::kArgument, "render: type, size, pos, mat, rgba, texture and texParams are required");

  const int32_t* off = batch.geom_offsets;
  if (off[0] != 0) fail(ErrorCode::kValue, "render: geomOffsets[0] = ", off[0], " must be 0");
  for (int64_t b = 0; b < batch.num_scenes; ++b)
    if (off[b + 1] < off[b])
      fail(ErrorCode::kValue, "render: geomOffsets[", b + 1, "] = ", off[b + 1], " is less than geomOffsets[", b,
           "] = ", off[b], " (offsets must be non-decreasing)");
  if (off[batch.num_scenes] != batch.num_geoms)
    fail(ErrorCode::kValue, "render: geomOffsets[", batch.num_scenes, "] = ", off[batch.num_scenes],
         " must equal the number of geoms, ", batch.num_geoms);

  for (int64_t b = 0; b < batch.num_scenes; ++b) {
    check_camera(b, batch.cameras + b * kCameraStride);
    check_light(b, batch.lights + b * kLightStride);
    check_background(b, batch.background + b * kBackgroundStride);
    for (int64_t g = off[b]; g < off[b + 1]; ++g) check_geom(batch, b, off[b], g);
  }
}

}  // namespace vla::render
