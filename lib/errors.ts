/**
 * Errors thrown by vla-ttt. Every error from the native core carries a `code` naming its kind
 * and, where known, the `op` it came from; messages name the input, its shape and what was
 * expected.
 *
 * @example
 * ```ts
 * try {
 *   runOp('rmsnorm', { x, w });
 * } catch (e) {
 *   if (e instanceof ShapeError) console.error(e.op, e.message);
 * }
 * ```
 */

/** The error codes of the native core, one per kind of problem. */
export type VlaErrorCode =
  | 'VLA_SHAPE'
  | 'VLA_DTYPE'
  | 'VLA_VALUE'
  | 'VLA_ARGUMENT'
  | 'VLA_UNSUPPORTED'
  | 'VLA_OUT_OF_MEMORY'
  | 'VLA_INTERNAL'
  | 'VLA_ADDON_LOAD';

/** Base class of every vla-ttt error. */
export class VlaError extends Error {
  readonly code: VlaErrorCode;
  /** The native op that failed, when the error came from one. */
  readonly op: string | undefined;

  constructor(code: VlaErrorCode, message: string, op?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.op = op;
  }
}

/** A tensor's rank or dimensions do not fit the op. */
export class ShapeError extends VlaError {}
/** A tensor has the wrong element type (e.g. Float64Array mixed with Float32Array). */
export class DTypeError extends VlaError {}
/** A value is out of range: an index, a probability, NaN or Inf where they are checked. */
export class RangeValueError extends VlaError {}
/** A missing, unknown or malformed argument or attribute. */
export class ArgumentError extends VlaError {}
/** The build or the machine lacks a feature (CUDA, OpenBLAS, AVX-512). */
export class UnsupportedError extends VlaError {}
/** An allocation could not be satisfied. */
export class OutOfMemoryError extends VlaError {}
/** A bug in vla-ttt; please report it with the message. */
export class InternalError extends VlaError {}

const byCode: Record<string, new (code: VlaErrorCode, message: string, op?: string, options?: { cause?: unknown }) => VlaError> = {
  VLA_SHAPE: ShapeError,
  VLA_DTYPE: DTypeError,
  VLA_VALUE: RangeValueError,
  VLA_ARGUMENT: ArgumentError,
  VLA_UNSUPPORTED: UnsupportedError,
  VLA_OUT_OF_MEMORY: OutOfMemoryError,
  VLA_INTERNAL: InternalError,
};

/**
 * Converts an error thrown by the addon (a plain Error with `.code`) into the matching
 * VlaError subclass. Anything else is returned unchanged.
 */
export function fromNativeError(e: unknown, op?: string): unknown {
  if (!(e instanceof Error) || e instanceof VlaError) return e;
  const code = (e as Error & { code?: unknown }).code;
  const nativeOp = (e as Error & { op?: unknown }).op;
  if (typeof code !== 'string' || !(code in byCode)) return e;
  const Ctor = byCode[code]!;
  return new Ctor(code as VlaErrorCode, e.message, typeof nativeOp === 'string' ? nativeOp : op, { cause: e });
}
