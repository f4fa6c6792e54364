/**
 * Minimal 3D math for the tabletop world, in MuJoCo's conventions: vectors [x, y, z];
 * quaternions [w, x, y, z] (unit, Hamilton product); rotation matrices 3x3 row-major, whose
 * columns are the rotated frame's axes in world coordinates.
 */

export type Vec3 = [number, number, number];
export type Quat = [number, number, number, number];
/** Row-major 3x3 rotation matrix. */
export type Mat3 = [number, number, number, number, number, number, number, number, number];

export const IDENTITY_QUAT: Quat = [1, 0, 0, 0];

export function add(a: Vec3, b: Vec3): Vec3 {
  return [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
}

export function sub(a: Vec3, b: Vec3): Vec3 {
  return [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
}

export function scale(a: Vec3, s: number): Vec3 {
  return [a[0] * s, a[1] * s, a[2] * s];
}

export function dot(a: Vec3, b: Vec3): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

export function norm(a: Vec3): number {
  return Math.hypot(a[0], a[1], a[2]);
}

export function cross(a: Vec3, b: Vec3): Vec3 {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

export function normalize(a: Vec3): Vec3 {
  const n = norm(a);
  return n > 0 ? [a[0] / n, a[1] / n, a[2] / n] : [0, 0, 0];
}

export function lerp(a: Vec3, b: Vec3, t: number): Vec3 {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

/** Hamilton product a*b (apply b, then a). */
export function quatMul(a: Quat, b: Quat): Quat {
  return [
    a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3],
    a[0] * b[1] + a[1] * b[0] + a[2] * b[3] - a[3] * b[2],
    a[0] * b[2] - a[1] * b[3] + a[2] * b[0] + a[3] * b[1],
    a[0] * b[3] + a[1] * b[2] - a[2] * b[1] + a[3] * b[0],
  ];
}

export function quatNormalize(q: Quat): Quat {
  const n = Math.hypot(q[0], q[1], q[2], q[3]);
  return n > 0 ? [q[0] / n, q[1] / n, q[2] / n, q[3] / n] : [1, 0, 0, 0];
}

/** Rotation of `angle` radians about a unit `axis`. */
export function quatFromAxisAngle(axis: Vec3, angle: number): Quat {
  const s = Math.sin(angle / 2);
  return [Math.cos(angle / 2), axis[0] * s, axis[1] * s, axis[2] * s];
}

/** Rotation about world z by `yaw` radians. */
export function quatFromYaw(yaw: number): Quat {
  return [Math.cos(yaw / 2), 0, 0, Math.sin(yaw / 2)];
}

/**
 * The rotation Rz(yaw) * Ry(pitch) * Rx(roll): roll about x first, then pitch about y, then yaw
 * about z, all about the fixed (extrinsic) axes.
 */
export function quatFromRpy(roll: number, pitch: number, yaw: number): Quat {
  return quatMul(quatFromAxisAngle([0, 0, 1], yaw), quatMul(quatFromAxisAngle([0, 1, 0], pitch), quatFromAxisAngle([1, 0, 0], roll)));
}

/** Spherical interpolation from a to b (shortest arc). */
export function quatSlerp(a: Quat, b: Quat, t: number): Quat {
  let d = a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + a[3] * b[3];
  let bb: Quat = b;
  if (d < 0) {
    d = -d;
    bb = [-b[0], -b[1], -b[2], -b[3]];
  }
  if (d > 0.9995) {
    return quatNormalize([a[0] + (bb[0] - a[0]) * t, a[1] + (bb[1] - a[1]) * t, a[2] + (bb[2] - a[2]) * t, a[3] + (bb[3] - a[3]) * t]);
  }
  const theta = Math.acos(d);
  const s = Math.sin(theta);
  const wa = Math.sin((1 - t) * theta) / s;
  const wb = Math.sin(t * theta) / s;
  return [a[0] * wa + bb[0] * wb, a[1] * wa + bb[1] * wb, a[2] * wa + bb[2] * wb, a[3] * wa + bb[3] * wb];
}

/** The angle (radians, in [0, pi]) of the rotation from a to b. */
export function quatAngle(a: Quat, b: Quat): number {
  const d = Math.abs(a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + a[3] * b[3]);
  return 2 * Math.acos(Math.min(1, d));
}

export function quatToMat(q: Quat): Mat3 {
  const [w, x, y, z] = q;
  return [
    1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
    2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
    2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
  ];
}

/** Quaternion of a row-major rotation matrix (Shepperd's method). */
export function matToQuat(m: ArrayLike<number>, offset = 0): Quat {
  const m00 = m[offset]!, m01 = m[offset + 1]!, m02 = m[offset + 2]!;
  const m10 = m[offset + 3]!, m11 = m[offset + 4]!, m12 = m[offset + 5]!;
  const m20 = m[offset + 6]!, m21 = m[offset + 7]!, m22 = m[offset + 8]!;
  const tr = m00 + m11 + m22;
  let q: Quat;
  if (tr > 0) {
    const s = Math.sqrt(tr + 1) * 2;
    q = [0.25 * s, (m21 - m12) / s, (m02 - m20) / s, (m10 - m01) / s];
  } else if (m00 > m11 && m00 > m22) {
    const s = Math.sqrt(1 + m00 - m11 - m22) * 2;
    q = [(m21 - m12) / s, 0.25 * s, (m01 + m10) / s, (m02 + m20) / s];
  } else if (m11 > m22) {
    const s = Math.sqrt(1 + m11 - m00 - m22) * 2;
    q = [(m02 - m20) / s, (m01 + m10) / s, 0.25 * s, (m12 + m21) / s];
  } else {
    const s = Math.sqrt(1 + m22 - m00 - m11) * 2;
    q = [(m10 - m01) / s, (m02 + m20) / s, (m12 + m21) / s, 0.25 * s];
  }
  return quatNormalize(q);
}

/** R * v for a row-major matrix stored at `offset` in `m`. */
export function matVec(m: ArrayLike<number>, v: Vec3, offset = 0): Vec3 {
  return [
    m[offset]! * v[0] + m[offset + 1]! * v[1] + m[offset + 2]! * v[2],
    m[offset + 3]! * v[0] + m[offset + 4]! * v[1] + m[offset + 5]! * v[2],
    m[offset + 6]! * v[0] + m[offset + 7]! * v[1] + m[offset + 8]! * v[2],
  ];
}

/** R^T * v (world vector into the local frame of R). */
export function matTVec(m: ArrayLike<number>, v: Vec3, offset = 0): Vec3 {
  return [
    m[offset]! * v[0] + m[offset + 3]! * v[1] + m[offset + 6]! * v[2],
    m[offset + 1]! * v[0] + m[offset + 4]! * v[1] + m[offset + 7]! * v[2],
    m[offset + 2]! * v[0] + m[offset + 5]! * v[1] + m[offset + 8]! * v[2],
  ];
}

export function rotateVec(q: Quat, v: Vec3): Vec3 {
  return matVec(quatToMat(q), v);
}

/** Heading of a frame: the yaw of its local x axis projected on the world xy plane. */
export function yawOfMat(m: ArrayLike<number>, offset = 0): number {
  return Math.atan2(m[offset + 3]!, m[offset]!);
}

/** Wraps an angle to (-pi, pi]. */
export function wrapAngle(a: number): number {
  let r = a % (2 * Math.PI);
  if (r <= -Math.PI) r += 2 * Math.PI;
  if (r > Math.PI) r -= 2 * Math.PI;
  return r;
}

/** Tilt of a frame: the angle between its local z axis and world z. */
export function tiltOfMat(m: ArrayLike<number>, offset = 0): number {
  return Math.acos(Math.max(-1, Math.min(1, m[offset + 8]!)));
}
