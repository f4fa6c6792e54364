// Bad input through the TypeScript API: each row gives a call and the error it must raise. None
// may crash the process; every message names the op, the input and what was expected.
import { describe, expect, it } from 'vitest';

import { expectRowError, type ErrorRow } from './helpers/error-rows.js';

import { ArgumentError, DTypeError, RangeValueError, runOp, runOpAsync, ShapeError, Tensor, type OpName } from '../lib/index.js';
import { addon } from '../lib/native/loader.js';

const f32 = (shape: number[]) => Tensor.randn(shape, { seed: 1, scale: 1 });
const f64 = (shape: number[]) => Tensor.randn(shape, { seed: 1, dtype: 'float64' });

type Row = ErrorRow;

const rows: Row[] = [
  { what: 'unknown op', call: () => runOp('sillu' as OpName, {} as never), error: ArgumentError, message: /unknown op 'sillu'; known ops: .*silu/ },
  { what: 'missing input', call: () => runOp('silu', {} as never), error: ArgumentError, message: /silu: missing required input 'x'/ },
  { what: 'unknown input', call: () => runOp('silu', { x: f32([2]), z: f32([2]) } as never), error: ArgumentError, message: /unknown input 'z'; inputs are: x/ },
  { what: 'unknown attribute', call: () => runOp('silu', { x: f32([2]) }, { eps: 1 } as never), error: ArgumentError, message: /unknown attribute 'eps'/ },
  { what: 'non-numeric attribute', call: () => addon().runOp('silu', { x: f32([2]) }, { eps: 'a' as unknown as number }), error: Error, message: /attribute 'eps' must be a number/ },
  { what: 'int32 where float is needed', call: () => runOp('silu', { x: Tensor.zeros([2], 'int32') as never }), error: DTypeError, message: /silu: input 'x' is int32, expected float32 or float64/ },
  { what: 'mixed float dtypes', call: () => runOp('silu_backward', { x: f32([3]), dy: f64([3]) }), error: DTypeError, message: /one float dtype per call/ },
  { what: 'shape mismatch', call: () => runOp('silu_backward', { x: f32([3]), dy: f32([4]) }), error: ShapeError, message: /silu_backward: input 'dy' has shape \[4\], expected \[3\]/ },
  { what: 'odd geglu width', call: () => runOp('geglu', { x: f32([2, 3]) }), error: ShapeError, message: /geglu: input 'x' has shape \[2, 3\], expected an even last dimension/ },
  { what: 'plain array instead of tensor', call: () => addon().runOp('silu', { x: [1, 2] as never }), error: Error, message: /silu: input 'x' must be a tensor \{ data: TypedArray, shape: number\[\] \}, got an Array/ },
  { what: 'Uint16Array data', call: () => addon().runOp('silu', { x: { data: new Uint16Array(2) as never, shape: [2] } }), error: Error, message: /data is a Uint16Array; supported are/ },
  { what: 'shape does not match data length', call: () => addon().runOp('silu', { x: { data: new Float32Array(3), shape: [2, 2] } }), error: Error, message: /shape \[2, 2\] holds 4 elements but data has 3/ },
  { what: 'negative dimension', call: () => addon().runOp('silu', { x: { data: new Float32Array(0), shape: [-1] } }), error: Error, message: /shape\[0\] must be a non-negative integer/ },
  { what: 'fractional dimension', call: () => addon().runOp('silu', { x: { data: new Float32Array(2), shape: [1.5] } }), error: Error, message: /shape\[0\] must be a non-negative integer/ },
  { what: 'rank above 6', call: () => addon().runOp('silu', { x: { data: new Float32Array(1), shape: [1, 1, 1, 1, 1, 1, 1] } }), error: Error, message: /rank 7 exceeds the maximum 6/ },
  { what: 'Tensor with wrong length', call: () => new Tensor(new Float32Array(3), [2, 2]), error: ShapeError, message: /holds 4 elements but data has 3/ },
  { what: 'fillRandom on an Int32Array', call: () => addon().fillRandom(new Int32Array(2) as never, 'normal', 1, 0, 0), error: Error, message: /Float32Array or Float64Array/ },
  { what: 'negative seed', call: () => Tensor.randn([2], { seed: -1 }), error: Error, message: /seed must be a non-negative safe integer/ },
];

describe('bad input raises a clear error, never a crash', () => {
  for (const row of rows) {
    it(row.what, () => {
      expectRowError(row);
    });
  }

  it('native errors carry a code', () => {
    try {
      addon().runOp('silu', {});
      expect.unreachable();
    } catch (e) {
      expect((e as { code?: string }).code).toBe('VLA_ARGUMENT');
    }
  });

  it('async calls reject (never throw synchronously) with the typed error', async () => {
    const p = runOpAsync('geglu', { x: f32([2, 3]) });
    await expect(p).rejects.toBeInstanceOf(ShapeError);
    await expect(runOpAsync('geglu', { x: f32([2, 3]) })).rejects.toMatchObject({ code: 'VLA_SHAPE', op: 'geglu' });
  });

  it('checkFinite inputs reject NaN before running (when an op declares them)', async () => {
    const { listOps } = await import('../lib/index.js');
    const checked = listOps().filter((o) => o.inputs.some((i) => i.checkFinite));
    // Ops with NaN-checked inputs arrive with the loss and optimizer ops; the check is exercised there.
    for (const op of checked) expect(op.inputs.some((i) => i.kind === 'float')).toBe(true);
  });
});

describe('RangeValueError', () => {
  it('is exported for out-of-range values', () => {
    expect(new RangeValueError('VLA_VALUE', 'x').code).toBe('VLA_VALUE');
  });
});
