#include "render/prepared_scene.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace vla::render {

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
// Screen rectangles grow by this many pixels on each side to absorb rounding.
constexpr float kRectMarginPx = 1.0f;
// Points closer than this to the camera plane (camera z, meters) are treated as behind it.
constexpr float kNearZ = 1e-5f;

// Half extents of a geom's local bounding box.
Vec3 local_half_extents(int32_t type, const float* s) {
  switch (type) {
    case kGeomPlane: return {s[0], s[1], 0.0f};
    case kGeomSphere: return {s[0], s[0], s[0]};
    case kGeomCapsule: return {s[0], s[0], s[1] + s[0]};
    case kGeomEllipsoid: return {s[0], s[1], s[2]};
    case kGeomCylinder: return {s[0], s[0], s[1]};
    case kGeomBox: return {s[0], s[1], s[2]};
    default: return {0, 0, 0};
  }
}

float bounding_radius(int32_t type, const float* s) {
  switch (type) {
    case kGeomSphere: return s[0];
    case kGeomCapsule: return s[0] + s[1];
    case kGeomEllipsoid: return std::max(s[0], std::max(s[1], s[2]));
    default: return length(local_half_extents(type, s));
  }
}

// Range of slopes x/z over a sphere (center (cx, cz) in the camera's x-z plane, radius r, in
// front of the camera): the two tangent lines through the origin, from
// m^2 (cz^2 - r^2) - 2 m cx cz + cx^2 - r^2 = 0.
void sphere_slopes(float cx, float cz, float r, float* lo, float* hi) {
  double den = static_cast<double>(cz) * cz - static_cast<double>(r) * r;
  double root = r * std::sqrt(std::max(0.0, static_cast<double>(cx) * cx + den));
  *lo = static_cast<float>((cx * static_cast<double>(cz) - root) / den);
  *hi = static_cast<float>((cx * static_cast<double>(cz) + root) / den);
}

ScreenRect full_screen(int width, int height) {
  return {-kRectMarginPx, -kRectMarginPx, width + kRectMarginPx, height + kRectMarginPx};
}

// The pixels a bounded geom can cover: its bounding sphere's exact projection, intersected with
// the projection of its local bounding box when that box lies fully in front of the camera.
ScreenRect screen_rect(const PreparedScene& s, const PreparedGeom& g) {
  Vec3 c{dot(g.from_camera, s.right), dot(g.from_camera, s.up), dot(g.from_camera, s.forward)};
  float r = g.bound_radius;
  if (c.z + r < kNearZ) return {};                               // entirely behind the camera
  if (c.z - r <= kNearZ) return full_screen(s.width, s.height);  // straddles the camera plane
  float sx0, sx1, sy0, sy1;
  sphere_slopes(c.x, c.z, r, &sx0, &sx1);
  sphere_slopes(c.y, c.z, r, &sy0, &sy1);

  Vec3 e = local_half_extents(g.type, g.size);
  bool box_in_front = true;
  float bx0 = kInf, bx1 = -kInf, by0 = kInf, by1 = -kInf;
  for (int corner = 0; corner < 8 && box_in_front; ++corner) {
    Vec3 local{corner & 1 ? e.x : -e.x, corner & 2 ? e.y : -e.y, corner & 4 ? e.z : -e.z};
    Vec3 w = g.from_camera + mul(g.to_world, local);
    float z = dot(w, s.forward);
    if (z <= kNearZ) {
      box_in_front = false;
      break;
    }
    float mx = dot(w, s.right) / z, my = dot(w, s.up) / z;
    bx0 = std::min(bx0, mx), bx1 = std::max(bx1, mx), by0 = std::min(by0, my), by1 = std::max(by1, my);
  }
  if (box_in_front) {
    sx0 = std::max(sx0, bx0), sx1 = std::min(sx1, bx1), sy0 = std::max(sy0, by0), sy1 = std::min(sy1, by1);
  }
  // Slopes to pixels; image y grows downwards, so the highest slope is the top row.
  float half_w = 0.5f * s.width, half_h = 0.5f * s.height;
  ScreenRect rect;
  rect.x0 = (sx0 / s.tan_half_x + 1.0f) * half_w - kRectMarginPx;
  rect.x1 = (sx1 / s.tan_half_x + 1.0f) * half_w + kRectMarginPx;
  rect.y0 = (1.0f - sy1 / s.tan_half_y) * half_h - kRectMarginPx;
  rect.y1 = (1.0f - sy0 / s.tan_half_y) * half_h + kRectMarginPx;
  return rect;
}

void build_shadow_grid(PreparedScene* s) {
  ShadowGrid& grid = s->shadow_grid;
  Vec3 l = s->light_dir;
  // Any axis not parallel to the light gives the grid's u axis.
  Vec3 helper = std::fabs(l.x) < 0.6f ? Vec3{1, 0, 0} : Vec3{0, 1, 0};
  grid.u_axis = normalize(cross(l, helper));
  grid.v_axis = cross(l, grid.u_axis);

  std::vector<int32_t> bounded;
  float u_min = kInf, u_max = -kInf, v_min = kInf, v_max = -kInf;
  for (int32_t i = 0; i < static_cast<int32_t>(s->geoms.size()); ++i) {
    PreparedGeom& g = s->geoms[i];
    if (!g.bounded) {
      grid.unbounded.push_back(i);
      continue;
    }
    bounded.push_back(i);
    g.light_u = dot(g.pos, grid.u_axis);
    g.light_v = dot(g.pos, grid.v_axis);
    g.light_w = dot(g.pos, l);
    float padded = g.bound_radius * 1.0001f + 1e-6f;
    g.shadow_radius2 = padded * padded;
    float u = g.light_u, v = g.light_v, r = g.bound_radius;
    u_min = std::min(u_min, u - r), u_max = std::max(u_max, u + r);
    v_min = std::min(v_min, v - r), v_max = std::max(v_max, v + r);
  }
  if (bounded.empty()) {
    grid.cell_start.assign(1, 0);
    return;
  }
  // About two cells per caster along each side keeps lists short without many empty cells.
  int cells = std::clamp(static_cast<int>(std::ceil(1.5 * std::sqrt(static_cast<double>(bounded.size())))), 1, 16);
  grid.cells_u = grid.cells_v = cells;
  grid.u0 = u_min;
  grid.v0 = v_min;
  grid.inv_cell_u = cells / std::max(u_max - u_min, 1e-6f);
  grid.inv_cell_v = cells / std::max(v_max - v_min, 1e-6f);
  auto cell_range = [&](float lo, float hi, float origin, float inv, int n, int* a, int* b) {
    *a = std::clamp(static_cast<int>(std::floor((lo - origin) * inv)), 0, n - 1);
    *b = std::clamp(static_cast<int>(std::floor((hi - origin) * inv)), 0, n - 1);
  };
  // Counting pass, then fill: cells list their geoms in ascending order.
  std::vector<int32_t> counts(static_cast<size_t>(cells) * cells + 1, 0);
  for (int pass = 0; pass < 2; ++pass) {
    if (pass == 1) {
      grid.cell_start.assign(counts.size(), 0);
      for (size_t c = 0; c + 1 < counts.size(); ++c) grid.cell_start[c + 1] = grid.cell_start[c] + counts[c];
      grid.items.assign(grid.cell_start.back(), 0);
      std::fill(counts.begin(), counts.end(), 0);
    }
    for (int32_t i : bounded) {
      const PreparedGeom& g = s->geoms[i];
      float u = g.light_u, v = g.light_v, r = g.bound_radius;
      int cu0, cu1, cv0, cv1;
      cell_range(u - r, u + r, grid.u0, grid.inv_cell_u, cells, &cu0, &cu1);
      cell_range(v - r, v + r, grid.v0, grid.inv_cell_v, cells, &cv0, &cv1);
      for (int cv = cv0; cv <= cv1; ++cv)
        for (int cu = cu0; cu <= cu1; ++cu) {
          int c = cv * cells + cu;
          if (pass == 1) grid.items[grid.cell_start[c] + counts[c]] = i;
          counts[c]++;
        }
    }
  }
}

}  // namespace

void prepare_scene(const SceneBatchView& batch, int64_t b, int width, int height, PreparedScene* s) {
  s->width = width;
  s->height = height;
  const float* cam = batch.cameras + b * kCameraStride;
  s->eye = vec3(cam);
  s->forward = normalize(vec3(cam + 3) - s->eye);
  s->right = normalize(cross(s->forward, vec3(cam + 6)));
  s->up = cross(s->right, s->forward);
  s->tan_half_y = static_cast<float>(std::tan(cam[9] * 0.5 * 3.14159265358979323846 / 180.0));
  s->tan_half_x = s->tan_half_y * static_cast<float>(width) / static_cast<float>(height);

  const float* light = batch.lights + b * kLightStride;
  s->light_dir = normalize(vec3(light));
  s->light_color = vec3(light + 3);
  s->ambient = vec3(light + 6);
  s->shadows = light[9] != 0;
  s->background = vec3(batch.background + b * kBackgroundStride);

  s->geoms.clear();
  s->shadow_grid = ShadowGrid{};
  for (int64_t gi = batch.geom_offsets[b]; gi < batch.geom_offsets[b + 1]; ++gi) {
    int32_t type = batch.type[gi];
    const float* rgba = batch.rgba + gi * kRgbaStride;
    bool drawn = type == kGeomPlane || (type >= kGeomSphere && type <= kGeomBox);
    if (!drawn || rgba[3] == 0) continue;
    PreparedGeom g;
    g.type = type;
    for (int i = 0; i < 3; ++i) g.size[i] = batch.size[gi * kSizeStride + i];
    g.pos = vec3(batch.pos + gi * kPosStride);
    const float* m = batch.mat + gi * kMatStride;
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) {
        g.to_world[r * 3 + c] = m[r * 3 + c];
        g.to_local[r * 3 + c] = m[c * 3 + r];
      }
    g.bounded = type != kGeomPlane || (g.size[0] > 0 && g.size[1] > 0);
    g.bound_radius = g.bounded ? bounding_radius(type, g.size) : kInf;
    g.infinite_plane = type == kGeomPlane && g.size[0] == 0 && g.size[1] == 0;
    g.axis_z = {m[2], m[5], m[8]};
    g.axis_z_dot_light = dot(g.axis_z, s->light_dir);
    g.camera_local = mul(g.to_local, s->eye - g.pos);
    g.light_local = mul(g.to_local, s->light_dir);
    g.from_camera = g.pos - s->eye;
    // Padded by a relative 1e-5 so rounding in the hit distance never falls below the bound.
    g.near_depth = g.bounded ? (length(g.from_camera) - g.bound_radius) * (1.0f - 1e-5f) - 1e-6f : 0.0f;
    g.rect = g.bounded ? screen_rect(*s, g) : full_screen(width, height);
    const float* tp = batch.tex_params + gi * kTexParamsStride;
    g.texture.kind = batch.texture[gi];
    g.texture.color = vec3(rgba);
    if (g.texture.kind != kTextureNone) {
      g.texture.inv_scale = 1.0f / tp[0];
      g.texture.second_color = vec3(tp + 1);
    }
    s->geoms.push_back(g);
  }
  build_shadow_grid(s);
}

}  // namespace vla::render
