/** Seeded random shapes and values for test cases (never zeros), on the native Philox stream. */
import { Tensor } from '../../lib/index.js';

export class CaseRng {
  private stream = 0;
  constructor(private readonly seed: number) {}

  private uniform(): number {
    return Tensor.rand([1], { seed: this.seed, stream: 7, offset: this.stream++, dtype: 'float64' }).data[0]!;
  }
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.min(hi - lo, Math.floor(this.uniform() * (hi - lo + 1)));
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]!;
  }
  /** float64 N(0, scale^2) values. */
  normal(shape: number[], scale = 1): Tensor<'float64'> {
    return Tensor.randn(shape, { seed: this.seed, stream: 1000 + this.stream++, dtype: 'float64', scale });
  }
  ints(shape: number[], lo: number, hi: number): Tensor<'int32'> {
    const t = Tensor.zeros(shape, 'int32');
    for (let i = 0; i < t.size; i++) t.data[i] = this.int(lo, hi);
    return t;
  }
  /** A 0/1 mask with probability p of 1. */
  mask(shape: number[], p: number): Tensor<'uint8'> {
    const t = Tensor.zeros(shape, 'uint8');
    for (let i = 0; i < t.size; i++) t.data[i] = this.uniform() < p ? 1 : 0;
    return t;
  }
}
