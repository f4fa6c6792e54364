/**
 * Calling native ops from TypeScript, typed from the generated op table.
 *
 * Every op in docs/ops.md is callable by name. Inputs are Tensors read in place (no copy);
 * outputs are new Tensors whose buffers the kernels wrote directly (no copy back). Float inputs
 * of one call share a dtype, which the float outputs take.
 *
 * @example
 * ```ts
 * import { runOp, runOpAsync, Tensor } from 'vla-ttt';
 * const x = Tensor.randn([4, 128], { seed: 1 });
 * const w = Tensor.randn([128], { seed: 2 });
 * const { y, rstd } = runOp('rmsnorm', { x, w }, { eps: 1e-6 });
 * // Long calls: the event loop keeps running while a worker thread computes.
 * const { dx, dw } = await runOpAsync('rmsnorm_backward', { x, w, rstd, dy: y });
 * ```
 */
import { fromNativeError } from '../errors.js';
import { addon } from '../native/loader.js';
import type { NativeTensor } from '../native/addon-types.js';
import { Tensor, type FloatTensor } from '../tensor.js';
import { opTable } from './op-table.js';

export type OpName = keyof typeof opTable;
type Spec<N extends OpName> = (typeof opTable)[N];

type TensorForKind<K> = K extends 'float' ? FloatTensor : K extends 'int32' ? Tensor<'int32'> : Tensor<'uint8'>;
type InputSpecs<N extends OpName> = Spec<N>['inputs'];

/** The inputs of op N: required ones as required properties, optional ones as optional. */
export type OpInputs<N extends OpName> = {
  [K in keyof InputSpecs<N> as InputSpecs<N>[K] extends { optional: false } ? K : never]: TensorForKind<
    InputSpecs<N>[K] extends { kind: infer Kind } ? Kind : never
  >;
} & {
  [K in keyof InputSpecs<N> as InputSpecs<N>[K] extends { optional: true } ? K : never]?: TensorForKind<
    InputSpecs<N>[K] extends { kind: infer Kind } ? Kind : never
  >;
};

type AttrSpecs<N extends OpName> = Spec<N>['attrs'];
/** The attributes of op N (numbers; booleans are accepted for 0/1 flags). Required ones are checked natively. */
export type OpAttrs<N extends OpName> = { [K in keyof AttrSpecs<N>]?: number | boolean };

/** The outputs of op N by name. Float outputs have the dtype of the float inputs. */
export type OpOutputs<N extends OpName> = { [K in Spec<N>['outputs'][number]]: Tensor };

function toNativeInputs(inputs: object): Record<string, NativeTensor | undefined> {
  const out: Record<string, NativeTensor | undefined> = {};
  for (const [k, v] of Object.entries(inputs)) {
    // Tensors pass as they are (data + shape); anything else reaches the native check, which names it.
    out[k] = v as NativeTensor | undefined;
  }
  return out;
}

function wrapOutputs<N extends OpName>(raw: Record<string, NativeTensor>): OpOutputs<N> {
  const out: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(raw)) out[k] = new Tensor(v.data, v.shape);
  return out as OpOutputs<N>;
}

/** Runs op `name` on this thread. Throws a VlaError subclass (ShapeError, DTypeError, ...) on bad input. */
export function runOp<N extends OpName>(name: N, inputs: OpInputs<N>, attrs?: OpAttrs<N>): OpOutputs<N> {
  try {
    return wrapOutputs<N>(addon().runOp(name, toNativeInputs(inputs), attrs as Record<string, number | boolean>));
  } catch (e) {
    throw fromNativeError(e, name);
  }
}

/**
 * Runs op `name` on a libuv worker thread; resolves with the outputs. Do not modify, transfer or
 * resize the input buffers until the promise settles: they are read in place.
 */
export async function runOpAsync<N extends OpName>(name: N, inputs: OpInputs<N>, attrs?: OpAttrs<N>): Promise<OpOutputs<N>> {
  try {
    return wrapOutputs<N>(await addon().runOpAsync(name, toNativeInputs(inputs), attrs as Record<string, number | boolean>));
  } catch (e) {
    throw fromNativeError(e, name);
  }
}

/** Static description of every op (names, kinds, shapes, attributes), as the binary reports it. */
export function listOps() {
  return addon().listOps();
}
