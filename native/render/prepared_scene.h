// A validated scene turned into what the per-pixel loop needs: the camera basis, each drawn
// geom's world<->local transforms with the camera and light already in its frame, a conservative
// screen rectangle per geom (which pixels it can cover), and a grid over the plane facing the
// light that lists which geoms can shadow a point.
#pragma once

#include <cstdint>
#include <vector>

#include "render/render_batch.h"
#include "render/texture.h"
#include "render/vec3.h"

namespace vla::render {

// Continuous pixel coordinates: pixel (i, j) covers [i, i + 1) x [j, j + 1), y down.
struct ScreenRect {
  float x0 = 0, y0 = 0, x1 = -1, y1 = -1;
  bool empty() const { return x1 < x0 || y1 < y0; }
  bool overlaps(float ax0, float ay0, float ax1, float ay1) const {
    return x0 <= ax1 && x1 >= ax0 && y0 <= ay1 && y1 >= ay0;
  }
};

struct PreparedGeom {
  int32_t type = 0;
  float size[3] = {0, 0, 0};
  Vec3 pos;
  float to_local[9];      // R^T: local = R^T (world - pos)
  float to_world[9];      // R: world directions of local vectors
  bool bounded = true;    // false for a plane infinite along x or y
  bool infinite_plane = false;  // a plane infinite along both x and y
  Vec3 axis_z;            // local +z in world coordinates (a plane's normal)
  float axis_z_dot_light = 0;
  float bound_radius = 0; // bounding sphere about pos (bounded geoms)
  Vec3 camera_local;      // the camera position in this geom's frame
  Vec3 light_local;       // the direction towards the light in this geom's frame
  Vec3 from_camera;       // pos - camera, world
  // A lower bound on the distance from the camera to any point of the geom (bounded geoms),
  // and the pixels it may cover (empty: behind the camera): a camera ray can only hit the geom
  // inside `rect`, and only beyond `near_depth`.
  float near_depth = 0;
  ScreenRect rect;
  // The bounding sphere in the shadow grid's frame: center coordinates along the grid's u and v
  // axes and along the light direction, and the squared radius (padded for rounding).
  float light_u = 0, light_v = 0, light_w = 0, shadow_radius2 = 0;
  TextureParams texture;
};

// Which bounded geoms may block the light above a point: the light-facing plane (axes u, v
// orthogonal to the light direction) is cut into cells; each cell lists the geoms whose
// bounding spheres project onto it.
struct ShadowGrid {
  Vec3 u_axis, v_axis;
  float u0 = 0, v0 = 0, inv_cell_u = 0, inv_cell_v = 0;
  int cells_u = 0, cells_v = 0;
  std::vector<int32_t> cell_start;  // [cells_u * cells_v + 1] into items
  std::vector<int32_t> items;       // geom indices (into PreparedScene::geoms), ascending per cell
  std::vector<int32_t> unbounded;   // infinite planes: tested for every point
};

struct PreparedScene {
  int width = 0, height = 0;
  Vec3 eye, forward, right, up;  // orthonormal camera basis
  float tan_half_x = 0, tan_half_y = 0;
  Vec3 light_dir, light_color, ambient;
  bool shadows = false;
  Vec3 background;
  std::vector<PreparedGeom> geoms;  // drawn geoms only, in batch order
  ShadowGrid shadow_grid;
};

// Builds scene b of a validated batch.
void prepare_scene(const SceneBatchView& batch, int64_t b, int width, int height, PreparedScene* scene);

}  // namespace vla::render
