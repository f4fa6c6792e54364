// render_batch: validation, per-scene preparation, then the per-pixel loop over (scene, block of
// rows) tasks on the global thread pool.
#include "render/render_batch.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "render/prepared_scene.h"
#include "render/ray_geom.h"
#include "render/srgb.h"
#include "render/texture.h"

namespace vla::render {

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
// A task draws this many image rows of one scene; candidate geoms are binned per tile of
// kTileCols columns within it.
constexpr int kBlockRows = 8;
constexpr int kTileCols = 8;
// Shadow rays start this far (relative to the point's magnitude, meters) off the surface.
constexpr float kShadowBias = 1e-4f;

// The smallest float above a non-negative t (inf stays inf).
inline float next_up(float t) {
  if (t == kInf) return t;
  uint32_t bits;
  std::memcpy(&bits, &t, sizeof bits);
  ++bits;
  std::memcpy(&t, &bits, sizeof bits);
  return t;
}

bool occluded(const PreparedScene& s, Vec3 p, int32_t self, bool cull) {
  const ShadowGrid& grid = s.shadow_grid;
  LocalHit hit;
  if (!cull) {
    for (int32_t i = 0; i < static_cast<int32_t>(s.geoms.size()); ++i) {
      const PreparedGeom& g = s.geoms[i];
      if (i != self &&
          intersect_local(g.type, g.size, mul(g.to_local, p - g.pos), g.light_local, 0.0f, kInf, &hit))
        return true;
    }
    return false;
  }
  for (int32_t i : grid.unbounded) {
    if (i == self) continue;
    const PreparedGeom& g = s.geoms[i];
    if (g.infinite_plane) {
      // The ray towards the light crosses an infinite plane iff it starts on the side the light
      // is not on.
      if (dot(g.axis_z, p - g.pos) * g.axis_z_dot_light < 0) return true;
      continue;
    }
    if (intersect_local(g.type, g.size, mul(g.to_local, p - g.pos), g.light_local, 0.0f, kInf, &hit)) return true;
  }
  if (grid.cells_u == 0) return false;
  // The point in the grid's frame: across the light (u, v) and along it (w).
  float pu = dot(p, grid.u_axis), pv = dot(p, grid.v_axis);
  int cu = floor_to_int((pu - grid.u0) * grid.inv_cell_u);
  int cv = floor_to_int((pv - grid.v0) * grid.inv_cell_v);
  // Outside the grid no bounded geom lies between the point and the light. A point exactly on
  // the far edge belongs to the last cell.
  if (cu == grid.cells_u) --cu;
  if (cv == grid.cells_v) --cv;
  if (cu < 0 || cv < 0 || cu >= grid.cells_u || cv >= grid.cells_v) return false;
  float pw = dot(p, s.light_dir);
  int c = cv * grid.cells_u + cu;
  for (int32_t k = grid.cell_start[c]; k < grid.cell_start[c + 1]; ++k) {
    int32_t i = grid.items[k];
    if (i == self) continue;  // every shape is convex: a lit point cannot shadow itself
    const PreparedGeom& g = s.geoms[i];
    // The ray passes the bounding sphere only if the point lies within its shadow cylinder and
    // not beyond it along the light.
    float du = g.light_u - pu, dv = g.light_v - pv;
    if (du * du + dv * dv > g.shadow_radius2) continue;
    if (g.light_w - pw < -g.bound_radius) continue;
    if (intersect_local(g.type, g.size, mul(g.to_local, p - g.pos), g.light_local, 0.0f, kInf, &hit)) return true;
  }
  return false;
}

// Linear color seen along the camera ray with unit direction d through image point (px, py),
// testing only `candidates`. The nearest hit wins; at equal distance, the lower geom index.
Vec3 trace(const PreparedScene& s, const int32_t* candidates, int n, Vec3 d, float px, float py, bool cull) {
  float best_t = kInf;
  int32_t best = -1;
  LocalHit best_hit, hit;
  for (int k = 0; k < n; ++k) {
    int32_t i = candidates[k];
    const PreparedGeom& g = s.geoms[i];
    float limit = i < best ? next_up(best_t) : best_t;
    if (cull && g.bounded &&
        (px < g.rect.x0 || px > g.rect.x1 || py < g.rect.y0 || py > g.rect.y1 || g.near_depth >= limit))
      continue;
    if (g.type == kGeomPlane) {
      // Planes fill most of a tabletop image: find t from the direction's local z alone and
      // compute x and y only for a hit in range (the same arithmetic as intersect_plane).
      const float* m = g.to_local;
      float dz = m[6] * d.x + m[7] * d.y + m[8] * d.z;
      if (std::fabs(dz) < kParallelEpsilon) continue;
      float t = -g.camera_local.z / dz;
      if (!(t > 0.0f && t < limit)) continue;
      float x = g.camera_local.x + (m[0] * d.x + m[1] * d.y + m[2] * d.z) * t;
      float y = g.camera_local.y + (m[3] * d.x + m[4] * d.y + m[5] * d.z) * t;
      if ((g.size[0] > 0 && std::fabs(x) > g.size[0]) || (g.size[1] > 0 && std::fabs(y) > g.size[1])) continue;
      best_t = t;
      best = i;
      best_hit.t = t;
      best_hit.point = {x, y, 0.0f};
      best_hit.normal = {0.0f, 0.0f, 1.0f};
      continue;
    }
    if (intersect_local(g.type, g.size, g.camera_local, mul(g.to_local, d), 0.0f, limit, &hit)) {
      best_t = hit.t;
      best = i;
      best_hit = hit;
    }
  }
  if (best < 0) return s.background;

  const PreparedGeom& g = s.geoms[best];
  // A plane's normal is its local z axis; other normals come from the local frame.
  Vec3 n_world = g.type == kGeomPlane ? g.axis_z : normalize(mul(g.to_world, best_hit.normal));
  if (dot(n_world, d) > 0) n_world = -n_world;  // seen from inside or the back of a plane
  Vec3 albedo = texture_color(g.texture, best_hit.point);
  float diffuse = dot(n_world, s.light_dir);
  if (diffuse > 0 && s.shadows) {
    Vec3 p = s.eye + d * best_t;
    float scale = 1.0f + std::max(std::fabs(p.x), std::max(std::fabs(p.y), std::fabs(p.z)));
    if (occluded(s, p + n_world * (kShadowBias * scale), best, cull)) diffuse = 0;
  }
  if (diffuse < 0) diffuse = 0;
  return albedo * (s.ambient + s.light_color * diffuse);
}

// The geoms whose screen rectangles overlap a tile, nearest first (by near_depth; unbounded
// planes last, where the closer hits found before let them fail early). With cull off: all.
void tile_candidates(const PreparedScene& s, float x0, float y0, float x1, float y1, bool cull,
                     std::vector<int32_t>* out) {
  out->clear();
  for (int32_t i = 0; i < static_cast<int32_t>(s.geoms.size()); ++i)
    if (!cull || s.geoms[i].rect.overlaps(x0, y0, x1, y1)) out->push_back(i);
  if (!cull) return;
  auto key = [&](int32_t i) { return s.geoms[i].bounded ? s.geoms[i].near_depth : kInf; };
  // Insertion sort: a handful of items, and ties keep index order.
  for (size_t a = 1; a < out->size(); ++a) {
    int32_t item = (*out)[a];
    float k = key(item);
    size_t b = a;
    for (; b > 0 && key((*out)[b - 1]) > k; --b) (*out)[b] = (*out)[b - 1];
    (*out)[b] = item;
  }
}

void render_block(const PreparedScene& s, int row0, int row1, int supersample, bool cull, uint8_t* image,
                  std::vector<int32_t>* candidates) {
  const SrgbEncoder& srgb = srgb_encoder();
  const int width = s.width;
  const float inv_ss = 1.0f / static_cast<float>(supersample);
  const float inv_samples = inv_ss * inv_ss;
  const float sx_scale = 2.0f * s.tan_half_x / static_cast<float>(width);
  const float sy_scale = 2.0f * s.tan_half_y / static_cast<float>(s.height);
  for (int tile_x0 = 0; tile_x0 < width; tile_x0 += kTileCols) {
    int tile_x1 = std::min(width, tile_x0 + kTileCols);
    tile_candidates(s, static_cast<float>(tile_x0), static_cast<float>(row0), static_cast<float>(tile_x1),
                    static_cast<float>(row1), cull, candidates);
    const int32_t* cand = candidates->data();
    int n = static_cast<int>(candidates->size());
    for (int y = row0; y < row1; ++y) {
      uint8_t* out = image + (static_cast<int64_t>(y) * width + tile_x0) * 3;
      for (int x = tile_x0; x < tile_x1; ++x, out += 3) {
        Vec3 sum;
        for (int j = 0; j < supersample; ++j) {
          // Sample position in continuous pixel coordinates, and its camera-plane slope:
          // +tan_half_y at the top edge of the image.
          float py = static_cast<float>(y) + (static_cast<float>(j) + 0.5f) * inv_ss;
          float sy = s.tan_half_y - py * sy_scale;
          Vec3 row_dir = s.forward + s.up * sy;
          for (int i = 0; i < supersample; ++i) {
            float px = static_cast<float>(x) + (static_cast<float>(i) + 0.5f) * inv_ss;
            float sx = px * sx_scale - s.tan_half_x;
            Vec3 d = normalize(row_dir + s.right * sx);
            sum = sum + trace(s, cand, n, d, px, py, cull);
          }
        }
        out[0] = srgb.encode(sum.x * inv_samples);
        out[1] = srgb.encode(sum.y * inv_samples);
        out[2] = srgb.encode(sum.z * inv_samples);
      }
    }
  }
}

}  // namespace

void render_batch(const SceneBatchView& batch, const RenderOptions& options, uint8_t* out) {
  validate_batch(batch, options);
  const int64_t num_scenes = batch.num_scenes;
  if (num_scenes == 0) return;
  if (out == nullptr) fail(ErrorCode::kArgument, "render: the output buffer is missing");

  std::vector<PreparedScene> scenes(static_cast<size_t>(num_scenes));
  auto prepare = [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) prepare_scene(batch, b, options.width, options.height, &scenes[b]);
  };
  if (options.use_thread_pool) parallel_for(num_scenes, 4, prepare);
  else prepare(0, num_scenes);

  // One task per (scene, block of rows), claimed one at a time: tens of microseconds each, so
  // threads that other processes delay hold up little of the batch.
  const int blocks_per_image = (options.height + kBlockRows - 1) / kBlockRows;
  const int64_t image_bytes = static_cast<int64_t>(options.height) * options.width * 3;
  std::function<void(int64_t)> task = [&](int64_t t) {
    thread_local std::vector<int32_t> candidates;
    int64_t b = t / blocks_per_image;
    int row0 = static_cast<int>(t % blocks_per_image) * kBlockRows;
    int row1 = std::min(options.height, row0 + kBlockRows);
    render_block(scenes[b], row0, row1, options.supersample, options.cull, out + b * image_bytes, &candidates);
  };
  const int64_t num_tasks = num_scenes * blocks_per_image;
  if (options.use_thread_pool) {
    global_pool().run(num_tasks, task);
  } else {
    for (int64_t t = 0; t < num_tasks; ++t) task(t);
  }
}

}  // namespace vla::render
