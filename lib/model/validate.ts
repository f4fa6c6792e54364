/**
 * Input checks shared by the policy's TypeScript entry points (pack, setPrompt, the Adapter and
 * the PolicyController), so an observation is judged the same way wherever it enters. Packed
 * batches are checked by the native binding (shapes, dtypes, token ids, embodiment ids, NaN/Inf);
 * these checks cover what arrives as plain JavaScript values. Messages start with `subject`, the
 * caller and the value ("pack: observation 2"), then name the field.
 */
import { ArgumentError, DTypeError, RangeValueError, ShapeError } from '../errors.js';
import type { ModelConfig } from './config.js';
import type { PolicyObservation } from './policy.js';

/** How a bad element reads in a message: the number (NaN, -Infinity), or the value and its type. */
function describeValue(v: unknown): string {
  return typeof v === 'number' ? String(v) : `${String(v)} (a ${v === null ? 'null' : typeof v})`;
}

/** The constructor name of a value, for dtype messages ("Float64Array", "Array"). */
function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v !== 'object') return typeof v;
  return (v as { constructor?: { name?: string } }).constructor?.name ?? 'object';
}

/** Throws RangeValueError naming `${subject}[i]` at the first element that is not a finite number. */
export function checkFinite(values: ArrayLike<unknown>, subject: string): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new RangeValueError('VLA_VALUE', `${subject}[${i}] is ${describeValue(v)}`);
  }
}

/** Whether `v` is a numeric array-like (Array or typed array), so that length and indexing mean something. */
function isArrayLike(v: unknown): v is ArrayLike<unknown> {
  return Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
}

/**
 * Checks one observation against the policy's config: an RGB image of image_size^2 bytes, a text
 * instruction, state_dim finite numbers and a known embodiment id. Errors: ArgumentError for a
 * missing or malformed field, DTypeError for image bytes that are not a Uint8Array, ShapeError
 * for wrong sizes, RangeValueError for NaN/Inf states and unknown embodiment ids.
 */
export function checkObservation(o: unknown, config: ModelConfig, subject: string): asserts o is PolicyObservation {
  if (typeof o !== 'object' || o === null) {
    throw new ArgumentError('VLA_ARGUMENT', `${subject} must be an object { image, instruction, state, embodimentId }, got ${kindOf(o)}`);
  }
  const obs = o as Partial<PolicyObservation>;
  const S = config.image_size;
  const image = obs.image;
  if (!image) throw new ArgumentError('VLA_ARGUMENT', `${subject} has no image (the policy needs ${S}x${S} RGB frames)`);
  if (!(image.data instanceof Uint8Array || (image.data as unknown) instanceof Uint8ClampedArray)) {
    throw new DTypeError('VLA_DTYPE', `${subject} image.data is a ${kindOf(image.data)}; expected a Uint8Array of RGB bytes`);
  }
  if (image.width !== S || image.height !== S || image.data.length !== S * S * 3) {
    throw new ShapeError('VLA_SHAPE', `${subject} has a ${image.width}x${image.height} image (${image.data.length} bytes); the policy takes ${S}x${S} RGB (${S * S * 3} bytes)`);
  }
  if (typeof obs.instruction !== 'string') throw new ArgumentError('VLA_ARGUMENT', `${subject} instruction must be a string, got ${kindOf(obs.instruction)}`);
  if (!isArrayLike(obs.state)) throw new ArgumentError('VLA_ARGUMENT', `${subject} state must be an array of ${config.state_dim} numbers, got ${kindOf(obs.state)}`);
  if (obs.state.length !== config.state_dim) throw new ShapeError('VLA_SHAPE', `${subject} state has ${obs.state.length} numbers, expected ${config.state_dim}`);
  checkFinite(obs.state, `${subject} state`);
  const e = obs.embodimentId;
  if (typeof e !== 'number' || !Number.isInteger(e) || e < 0 || e >= config.num_embodiments) {
    throw new RangeValueError('VLA_VALUE', `${subject} embodimentId ${describeValue(e)} is not in [0, ${config.num_embodiments}) (the policy's embodiment ids)`);
  }
}

/** Checks an action [action_dim] taken in a control loop (Adapter.record). */
export function checkAction(action: unknown, actionDim: number, subject: string): asserts action is ArrayLike<number> {
  if (!isArrayLike(action)) throw new ArgumentError('VLA_ARGUMENT', `${subject} must be an array of ${actionDim} numbers, got ${kindOf(action)}`);
  if (action.length !== actionDim) throw new ShapeError('VLA_SHAPE', `${subject} has ${action.length} numbers, expected ${actionDim}`);
  checkFinite(action, subject);
}

/**
 * Checks one pair of frames for the progress critic: `before` and `after` RGB frames of
 * image_size^2 * 3 bytes and a text instruction. Errors: ArgumentError for a missing or malformed
 * field, DTypeError for frames that are not a Uint8Array, ShapeError for a wrong frame size.
 */
export function checkCriticPair(p: unknown, imageSize: number, subject: string): asserts p is { before: Uint8Array; after: Uint8Array; instruction: string } {
  if (typeof p !== 'object' || p === null) {
    throw new ArgumentError('VLA_ARGUMENT', `${subject} must be an object { before, after, instruction }, got ${kindOf(p)}`);
  }
  const pair = p as { before?: unknown; after?: unknown; instruction?: unknown };
  const bytes = imageSize * imageSize * 3;
  for (const field of ['before', 'after'] as const) {
    const frame = pair[field];
    if (frame === undefined || frame === null) throw new ArgumentError('VLA_ARGUMENT', `${subject} has no '${field}' frame (the critic needs ${imageSize}x${imageSize} RGB frames)`);
    if (!(frame instanceof Uint8Array || frame instanceof Uint8ClampedArray)) {
      throw new DTypeError('VLA_DTYPE', `${subject} ${field} is a ${kindOf(frame)}; expected a Uint8Array of RGB bytes`);
    }
    if (frame.length !== bytes) {
      throw new ShapeError('VLA_SHAPE', `${subject} ${field} has ${frame.length} bytes; the critic takes ${imageSize}x${imageSize} RGB frames (${bytes} bytes)`);
    }
  }
  if (typeof pair.instruction !== 'string') throw new ArgumentError('VLA_ARGUMENT', `${subject} instruction must be a string, got ${kindOf(pair.instruction)}`);
}
