// Ray-primitive intersection in a geom's local frame (MuJoCo sizes, see render_batch.h).
//
// Each function intersects the ray o + t d (o, d in the geom's frame; d need not be unit) with
// the surface and reports the first hit with t in (t_min, t_max): its t, the outward unit
// normal and the hit point, both in the local frame. Hit points are snapped onto the surface
// where that is exact (a box face, a plane, a cylinder cap) so textures do not flicker across
// face coordinates. Every shape is convex, which the shadow code relies on (a surface point never
// shadows itself).
//
// Inline: these run in the innermost loop of the renderer.
#pragma once

#include <cmath>
#include <limits>

#include "render/render_batch.h"
#include "render/vec3.h"

namespace vla::render {

struct LocalHit {
  float t = 0;
  Vec3 normal;
  Vec3 point;
};

// Below this |d| component a ray counts as parallel to a slab or plane (t would overflow).
constexpr float kParallelEpsilon = 1e-12f;

// The roots of |q + t d|^2 = 1 for the unit sphere, in the form that avoids cancelling large
// terms: with b = q.d / d.d, the closest approach is q - b d and the half chord follows from it.
inline bool unit_sphere_roots(Vec3 q, Vec3 d, float* t0, float* t1) {
  float a = dot(d, d);
  float b = dot(q, d) / a;
  Vec3 closest = q - d * b;
  float h2 = 1.0f - dot(closest, closest);
  if (h2 < 0) return false;
  float half = std::sqrt(h2 / a);
  *t0 = -b - half;
  *t1 = -b + half;
  return true;
}

// The root of a convex shape's [t0, t1] interval a ray from outside (or inside) meets first.
inline bool pick_root(float t0, float t1, float t_min, float t_max, float* t) {
  float r = t0 > t_min ? t0 : t1;
  if (!(r > t_min && r < t_max)) return false;
  *t = r;
  return true;
}

inline bool intersect_sphere(float radius, Vec3 o, Vec3 d, float t_min, float t_max, LocalHit* hit) {
  float inv_r = 1.0f / radius;
  float t0, t1, t;
  if (!unit_sphere_roots(o * inv_r, d * inv_r, &t0, &t1) || !pick_root(t0, t1, t_min, t_max, &t)) return false;
  hit->t = t;
  hit->point = o + d * t;
  hit->normal = hit->point * inv_r;
  return true;
}

inline bool intersect_ellipsoid(const float* semi, Vec3 o, Vec3 d, float t_min, float t_max, LocalHit* hit) {
  Vec3 inv{1.0f / semi[0], 1.0f / semi[1], 1.0f / semi[2]};
  float t0, t1, t;
  if (!unit_sphere_roots(o * inv, d * inv, &t0, &t1) || !pick_root(t0, t1, t_min, t_max, &t)) return false;
  hit->t = t;
  hit->point = o + d * t;
  // The gradient of x^2/a^2 + y^2/b^2 + z^2/c^2.
  hit->normal = normalize(hit->point * inv * inv);
  return true;
}

// The interval of the infinite cylinder x^2 + y^2 <= r^2 along the ray; false when missed.
// A ray parallel to the axis gets (-inf, inf) when it runs inside.
inline bool infinite_cylinder_interval(float r, Vec3 o, Vec3 d, float* t0, float* t1) {
  float a = d.x * d.x + d.y * d.y;
  if (a < kParallelEpsilon) {
    if (o.x * o.x + o.y * o.y > r * r) return false;
    *t0 = -std::numeric_limits<float>::infinity();
    *t1 = std::numeric_limits<float>::infinity();
    return true;
  }
  float b = (o.x * d.x + o.y * d.y) / a;
  float cx = o.x - b * d.x, cy = o.y - b * d.y;
  float h2 = r * r - (cx * cx + cy * cy);
  if (h2 < 0) return false;
  float half = std::sqrt(h2 / a);
  *t0 = -b - half;
  *t1 = -b + half;
  return true;
}

// The interval of the slab |o_i + t d_i| <= h; false when a parallel ray runs outside.
inline bool slab_interval(float o, float d, float h, float* t0, float* t1) {
  if (std::fabs(d) < kParallelEpsilon) {
    if (std::fabs(o) > h) return false;
    *t0 = -std::numeric_limits<float>::infinity();
    *t1 = std::numeric_limits<float>::infinity();
    return true;
  }
  float inv = 1.0f / d;
  float a = (-h - o) * inv, b = (h - o) * inv;
  *t0 = a < b ? a : b;
  *t1 = a < b ? b : a;
  return true;
}

// Capsule: the union of a cylinder |z| <= h and spheres at z = +-h; its first hit is the nearest
// first hit among the three pieces.
inline bool intersect_capsule(float r, float h, Vec3 o, Vec3 d, float t_min, float t_max, LocalHit* hit) {
  bool found = false;
  float best = t_max;
  float t0, t1, t;
  if (infinite_cylinder_interval(r, o, d, &t0, &t1) && pick_root(t0, t1, t_min, best, &t)) {
    Vec3 p = o + d * t;
    if (std::fabs(p.z) <= h) {
      best = t;
      hit->t = t;
      hit->point = p;
      hit->normal = normalize(Vec3{p.x, p.y, 0.0f});
      found = true;
    }
  }
  float inv_r = 1.0f / r;
  for (float cz : {h, -h}) {
    Vec3 oc{o.x, o.y, o.z - cz};
    if (unit_sphere_roots(oc * inv_r, d * inv_r, &t0, &t1) && pick_root(t0, t1, t_min, best, &t)) {
      best = t;
      hit->t = t;
      hit->point = o + d * t;
      hit->normal = (oc + d * t) * inv_r;
      found = true;
    }
  }
  return found;
}

// Cylinder with flat caps: the intersection of the infinite cylinder and the slab |z| <= h.
inline bool intersect_cylinder(float r, float h, Vec3 o, Vec3 d, float t_min, float t_max, LocalHit* hit) {
  float c0, c1, z0, z1;
  if (!infinite_cylinder_interval(r, o, d, &c0, &c1) || !slab_interval(o.z, d.z, h, &z0, &z1)) return false;
  float enter = c0 > z0 ? c0 : z0;
  float exit = c1 < z1 ? c1 : z1;
  if (enter > exit) return false;
  float t;
  if (!pick_root(enter, exit, t_min, t_max, &t)) return false;
  // Which surface bounds the interval at t decides the normal.
  bool entering = t == enter;
  bool on_side = entering ? c0 >= z0 : c1 <= z1;
  Vec3 p = o + d * t;
  hit->t = t;
  if (on_side) {
    hit->normal = normalize(Vec3{p.x, p.y, 0.0f});
  } else {
    float s = (d.z > 0) == entering ? -1.0f : 1.0f;  // entering upwards means the bottom cap
    p.z = s * h;
    hit->normal = {0.0f, 0.0f, s};
  }
  hit->point = p;
  return true;
}

inline bool intersect_box(const float* half, Vec3 o, Vec3 d, float t_min, float t_max, LocalHit* hit) {
  float ox[3] = {o.x, o.y, o.z}, dx[3] = {d.x, d.y, d.z};
  float enter = -std::numeric_limits<float>::infinity(), exit = std::numeric_limits<float>::infinity();
  int enter_axis = 0, exit_axis = 0;
  for (int i = 0; i < 3; ++i) {
    float a, b;
    if (!slab_interval(ox[i], dx[i], half[i], &a, &b)) return false;
    if (a > enter) enter = a, enter_axis = i;
    if (b < exit) exit = b, exit_axis = i;
  }
  if (enter > exit) return false;
  float t;
  if (!pick_root(enter, exit, t_min, t_max, &t)) return false;
  bool entering = t == enter;
  int axis = entering ? enter_axis : exit_axis;
  // Entering moves against the face normal; leaving moves along it.
  float s = (dx[axis] > 0) == entering ? -1.0f : 1.0f;
  float p[3] = {ox[0] + dx[0] * t, ox[1] + dx[1] * t, ox[2] + dx[2] * t};
  p[axis] = s * half[axis];
  float n[3] = {0.0f, 0.0f, 0.0f};
  n[axis] = s;
  hit->t = t;
  hit->point = {p[0], p[1], p[2]};
  hit->normal = {n[0], n[1], n[2]};
  return true;
}

// Plane z = 0 with half extents (half_x, half_y); 0 means unbounded along that axis.
inline bool intersect_plane(float half_x, float half_y, Vec3 o, Vec3 d, float t_min, float t_max, LocalHit* hit) {
  if (std::fabs(d.z) < kParallelEpsilon) return false;
  float t = -o.z / d.z;
  if (!(t > t_min && t < t_max)) return false;
  float x = o.x + d.x * t, y = o.y + d.y * t;
  if (half_x > 0 && std::fabs(x) > half_x) return false;
  if (half_y > 0 && std::fabs(y) > half_y) return false;
  hit->t = t;
  hit->point = {x, y, 0.0f};
  hit->normal = {0.0f, 0.0f, 1.0f};
  return true;
}

// Dispatches on the geom type (one of the drawn kinds; validated earlier).
inline bool intersect_local(int32_t type, const float* size, Vec3 o, Vec3 d, float t_min, float t_max,
                            LocalHit* hit) {
  switch (type) {
    case kGeomPlane: return intersect_plane(size[0], size[1], o, d, t_min, t_max, hit);
    case kGeomSphere: return intersect_sphere(size[0], o, d, t_min, t_max, hit);
    case kGeomCapsule: return intersect_capsule(size[0], size[1], o, d, t_min, t_max, hit);
    case kGeomEllipsoid: return intersect_ellipsoid(size, o, d, t_min, t_max, hit);
    case kGeomCylinder: return intersect_cylinder(size[0], size[1], o, d, t_min, t_max, hit);
    case kGeomBox: return intersect_box(size, o, d, t_min, t_max, hit);
    default: return false;
  }
}

}  // namespace vla::render
