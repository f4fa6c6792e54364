/**
 * Tensors: a typed array and a shape, row-major (the last dimension is contiguous).
 *
 * A Tensor is a plain view: it never copies on its own, and the native core reads and writes
 * its `data` in place. Shapes are arrays of non-negative integers; a scalar has shape [].
 *
 * @example
 * ```ts
 * const x = Tensor.randn([2, 3], { seed: 7 });        // float32, N(0, 1)
 * const w = Tensor.from([1, 2, 3], [3]);              // float32 from numbers
 * const ids = Tensor.from([4, 0, 2], [3], 'int32');
 * x.shape;  // [2, 3]
 * ```
 */
import { ArgumentError, ShapeError } from './errors.js';
import { addon } from './native/loader.js';

export type DType = 'float32' | 'float64' | 'int32' | 'uint8';
export type FloatDType = 'float32' | 'float64';

/** The typed array that holds each dtype. */
export type ArrayFor<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'float64'
    ? Float64Array
    : D extends 'int32'
      ? Int32Array
      : Uint8Array;

export type TypedArrayOf = Float32Array | Float64Array | Int32Array | Uint8Array;

const constructors = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  uint8: Uint8Array,
} as const;

/** The dtype of a typed array, or undefined for unsupported arrays. */
export function dtypeOf(data: unknown): DType | undefined {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint8Array) return 'uint8';
  return undefined;
}

/** The number of elements of a shape, after checking every dimension. */
export function shapeSize(shape: readonly number[], what = 'shape'): number {
  let n = 1;
  for (const [i, d] of shape.entries()) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new ShapeError('VLA_SHAPE', `${what}[${i}] must be a non-negative integer, got ${String(d)}`);
    }
    n *= d;
  }
  return n;
}

export interface RandomOptions<D extends FloatDType> {
  /** Seed of the Philox stream; the same seed gives the same numbers here and in native code. */
  seed: number | bigint;
  /** An independent stream under the same seed (default 0). */
  stream?: number | bigint;
  /** Index of the first draw in the stream (default 0). */
  offset?: number | bigint;
  dtype?: D;
  /** Multiplies every value (randn: standard deviation; rand: upper end of the range). */
  scale?: number;
}

export class Tensor<D extends DType = DType> {
  readonly data: ArrayFor<D>;
  readonly shape: number[];

  /** Wraps `data` (no copy). `data.length` must equal the product of `shape`. */
  constructor(data: ArrayFor<D>, shape: readonly number[]) {
    const dtype = dtypeOf(data);
    if (!dtype) {
      throw new ArgumentError('VLA_ARGUMENT', 'Tensor data must be a Float32Array, Float64Array, Int32Array or Uint8Array');
    }
    const n = shapeSize(shape);
    if (n !== data.length) {
      throw new ShapeError('VLA_SHAPE', `Tensor shape [${shape.join(', ')}] holds ${n} elements but data has ${data.length}`);
    }
    this.data = data;
    this.shape = [...shape];
  }

  /**
   * Wraps a typed array (no copy), with the dtype inferred from the array type:
   * `Tensor.wrap(new Float64Array(6), [2, 3])` is a `Tensor<'float64'>`.
   */
  static wrap(data: Float32Array, shape: readonly number[]): Tensor<'float32'>;
  static wrap(data: Float64Array, shape: readonly number[]): Tensor<'float64'>;
  static wrap(data: Int32Array, shape: readonly number[]): Tensor<'int32'>;
  static wrap(data: Uint8Array, shape: readonly number[]): Tensor<'uint8'>;
  static wrap(data: TypedArrayOf, shape: readonly number[]): Tensor {
    return new Tensor(data as ArrayFor<DType>, shape);
  }

  get dtype(): D {
    return dtypeOf(this.data) as D;
  }

  /** Number of elements. */
  get size(): number {
    return this.data.length;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** A zero-filled tensor. */
  static zeros<D extends DType = 'float32'>(shape: readonly number[], dtype?: D): Tensor<D> {
    const dt = (dtype ?? 'float32') as D;
    const Ctor = constructors[dt] as unknown as new (n: number) => ArrayFor<D>;
    return new Tensor<D>(new Ctor(shapeSize(shape)), shape);
  }

  /** A tensor holding a copy of `values`. */
  static from<D extends DType = 'float32'>(values: ArrayLike<number>, shape: readonly number[], dtype?: D): Tensor<D> {
    const t = Tensor.zeros<D>(shape, dtype);
    if (values.length !== t.size) {
      throw new ShapeError('VLA_SHAPE', `Tensor.from: ${values.length} values do not fill shape [${shape.join(', ')}]`);
    }
    (t.data as TypedArrayOf).set(values);
    return t;
  }

  /** Normal(0, scale^2) draws from the native Philox generator. */
  static randn<D extends FloatDType = 'float32'>(shape: readonly number[], opts: RandomOptions<D>): Tensor<D> {
    return Tensor.random(shape, 'normal', opts);
  }

  /** Uniform draws in (0, scale) from the native Philox generator. */
  static rand<D extends FloatDType = 'float32'>(shape: readonly number[], opts: RandomOptions<D>): Tensor<D> {
    return Tensor.random(shape, 'uniform', opts);
  }

  private static random<D extends FloatDType>(shape: readonly number[], distribution: 'normal' | 'uniform', opts: RandomOptions<D>): Tensor<D> {
    const t = Tensor.zeros<D>(shape, (opts.dtype ?? 'float32') as D);
    const data = t.data as Float32Array | Float64Array;
    addon().fillRandom(data, distribution, opts.seed, opts.stream ?? 0, opts.offset ?? 0);
    const scale = opts.scale ?? 1;
    if (scale !== 1) for (let i = 0; i < data.length; i++) data[i] = data[i]! * scale;
    return t;
  }

  /** The same data under another shape of the same size (no copy). */
  reshape(shape: readonly number[]): Tensor<D> {
    return new Tensor<D>(this.data, shape);
  }

  /** A deep copy. */
  clone(): Tensor<D> {
    return new Tensor<D>(this.data.slice() as ArrayFor<D>, this.shape);
  }

  /** The values as a plain number array (row-major). */
  toArray(): number[] {
    return Array.from(this.data as ArrayLike<number>);
  }
}

export type FloatTensor = Tensor<'float32'> | Tensor<'float64'>;
