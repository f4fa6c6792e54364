/**
 * The slice of the official MuJoCo WASM bindings (@mujoco/mujoco) that the tabletop world uses,
 * with real types: the package declares its array fields as `any`, so this module states what
 * each one is, once, and everything else goes through it.
 *
 * Lifetimes: MjModel, MjData, MjVFS and every MjContact handed out by `data.contact` live on the
 * WASM heap and are not garbage-collected; each must be `.delete()`d exactly once. Array fields
 * are live views into WASM memory: re-read them after anything that may grow the heap (compiling
 * a model, allocating data) instead of keeping them across such calls.
 *
 * One module instance per thread: `loadMujoco()` caches it per thread, and models never cross
 * threads.
 */
import loadMujocoPackage from '@mujoco/mujoco';

/** An embind handle on the WASM heap. */
export interface Deletable {
  delete(): void;
}

export interface MjModel extends Deletable {
  readonly nq: number;
  readonly nv: number;
  readonly nu: number;
  readonly nbody: number;
  readonly ngeom: number;
  readonly njnt: number;
  readonly nmocap: number;
  readonly geom_type: Int32Array;
  readonly geom_size: Float64Array;
  readonly geom_rgba: Float32Array;
  readonly geom_bodyid: Int32Array;
  readonly geom_friction: Float64Array;
  readonly geom_group: Int32Array;
  readonly geom_contype: Int32Array;
  readonly geom_conaffinity: Int32Array;
  readonly body_mocapid: Int32Array;
  readonly body_jntadr: Int32Array;
  readonly body_mass: Float64Array;
  readonly jnt_qposadr: Int32Array;
  readonly jnt_dofadr: Int32Array;
}

export interface MjContact extends Deletable {
  readonly geom1: number;
  readonly geom2: number;
  readonly dist: number;
  readonly exclude: number;
}

export interface MjContactVec extends Deletable {
  size(): number;
  get(i: number): MjContact | undefined;
}

export interface MjData extends Deletable {
  time: number;
  readonly ncon: number;
  readonly qpos: Float64Array;
  readonly qvel: Float64Array;
  readonly ctrl: Float64Array;
  readonly mocap_pos: Float64Array;
  readonly mocap_quat: Float64Array;
  readonly xpos: Float64Array;
  readonly xmat: Float64Array;
  readonly xquat: Float64Array;
  readonly xipos: Float64Array;
  readonly geom_xpos: Float64Array;
  readonly geom_xmat: Float64Array;
  readonly contact: MjContactVec;
}

export interface MjVFS extends Deletable {}

export interface MujocoModule {
  MjModel: { from_xml_string(xml: string, vfs: MjVFS): MjModel };
  MjData: new (model: MjModel) => MjData;
  MjVFS: new () => MjVFS;
  mj_step(model: MjModel, data: MjData): void;
  mj_forward(model: MjModel, data: MjData): void;
  mj_resetData(model: MjModel, data: MjData): void;
  mj_name2id(model: MjModel, type: number, name: string): number;
  /** Smallest signed distance between two geoms, capped at distmax (fromto: null). */
  mj_geomDistance(model: MjModel, data: MjData, geom1: number, geom2: number, distmax: number, fromto: null): number;
  mjtObj: { mjOBJ_BODY: { value: number }; mjOBJ_GEOM: { value: number }; mjOBJ_JOINT: { value: number }; mjOBJ_ACTUATOR: { value: number } };
}

let modulePromise: Promise<MujocoModule> | undefined;

/** The MuJoCo module of this thread, loaded on first use. */
export function loadMujoco(): Promise<MujocoModule> {
  modulePromise ??= (loadMujocoPackage() as Promise<unknown>).then((m) => m as MujocoModule);
  return modulePromise;
}

/**
 * Compiles MJCF text into a model. Compile errors (MuJoCo's message) become an Error naming the
 * problem; the virtual file system is freed either way.
 */
export function compileModel(mj: MujocoModule, xml: string): MjModel {
  const vfs = new mj.MjVFS();
  try {
    return mj.MjModel.from_xml_string(xml, vfs);
  } catch (e) {
    throw new Error(`MuJoCo could not compile the tabletop MJCF: ${describeWasmError(e)}`, { cause: e });
  } finally {
    vfs.delete();
  }
}

/** Emscripten throws numbers or opaque objects for C++ exceptions; make them readable. */
export function describeWasmError(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
