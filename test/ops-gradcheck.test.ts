// Every op with a backward is gradient-checked through the TypeScript API: float64 central finite
// differences, then float32 against float64. Each op needs an entry in `cases`; an op without
// one fails the coverage test.
import { describe, expect, it } from 'vitest';

import { listOps, Tensor } from '../lib/index.js';
import type { CaseRng as CaseRngType } from './helpers/case-rng.js';
import { CaseRng } from './helpers/case-rng.js';
import { gradcheck, type GradCase } from './helpers/gradcheck.js';

const cases: Record<string, (r: CaseRngType) => GradCase> = {
  silu: (r) => ({ inputs: { x: r.normal([r.int(1, 4), r.int(1, 30)], 2) } }),
  gelu_tanh: (r) => ({ inputs: { x: r.normal([r.int(1, 4), r.int(1, 30)], 2) } }),
  geglu: (r) => ({ inputs: { x: r.normal([r.int(1, 5), 2 * r.int(1, 12)], 1.5) } }),
  gemm: (r) => {
    const [M, N, K] = [r.int(1, 7), r.int(1, 9), r.int(1, 11)];
    const [ta, tb] = [r.int(0, 1), r.int(0, 1)];
    const withC = r.int(0, 1) === 1;
    return {
      inputs: { a: r.normal(ta ? [K, M] : [M, K]), b: r.normal(tb ? [N, K] : [K, N]), ...(withC ? { c: r.normal([M, N]) } : {}) },
      attrs: { trans_a: ta, trans_b: tb, alpha: 0.7, beta: withC ? -1.3 : 0 },
    };
  },
  linear: (r) => {
    const [K, N] = [r.int(1, 12), r.int(1, 9)];
    const withBias = r.int(0, 1) === 1;
    return { inputs: { x: r.normal([r.int(1, 3), r.int(1, 4), K]), w: r.normal([N, K]), ...(withBias ? { b: r.normal([N]) } : {}) } };
  },
  softmax: (r) => ({ inputs: { x: r.normal([r.int(1, 4), r.int(1, 20)], 2) } }),
  rmsnorm: (r) => {
    const C = r.int(1, 24);
    return { inputs: { x: r.normal([r.int(1, 4), C], 2), w: r.normal([C]) }, attrs: { eps: 0.1 } };
  },
  rope: (r) => {
    const [B, S] = [r.int(1, 3), r.int(1, 5)];
    return { inputs: { x: r.normal([B, S, r.int(1, 3), 2 * r.int(1, 8)]), positions: r.ints([B, S], -20, 60) } };
  },
  attention: (r) => {
    const Hkv = r.int(1, 2);
    const [B, Tq, Tk, Hq, D] = [r.int(1, 2), r.int(1, 5), r.int(1, 20), Hkv * r.pick([1, 2, 4]), r.int(1, 20)];
    const mask = r.mask([r.pick([1, B]), Tq, Tk], 0.7);
    return { inputs: { q: r.normal([B, Tq, Hq, D]), k: r.normal([B, Tk, Hkv, D]), v: r.normal([B, Tk, Hkv, D]), mask } };
  },
  embedding: (r) => {
    const V = r.int(1, 6);
    return { inputs: { ids: r.ints([r.int(1, 3), r.int(1, 5)], 0, V - 1), table: r.normal([V, r.int(1, 20)]) } };
  },
  mse_loss: (r) => {
    const s = [r.int(1, 4), r.int(1, 6)];
    return { inputs: { pred: r.normal(s), target: r.normal(s) } };
  },
  flow_matching_loss: (r) => {
    const s = [r.int(1, 4), r.int(1, 5), r.int(1, 4)];
    return { inputs: { v: r.normal(s), eps: r.normal(s), actions: r.normal(s) } };
  },
  flow_interpolate: (r) => {
    const s = [r.int(1, 4), r.int(1, 6)];
    const t = Tensor.zeros([s[0]!], 'float64');
    for (let b = 0; b < t.size; b++) t.data[b] = 0.05 + 0.9 * ((b * 0.37 + 0.11) % 1);
    return { inputs: { eps: r.normal(s), actions: r.normal(s), t } };
  },
};

const withBackward = listOps().filter((o) => o.backward !== null);

describe('gradient checks through the TypeScript API', () => {
  it('covers every op that has a backward', () => {
    const missing = withBackward.map((o) => o.name).filter((n) => !(n in cases));
    expect(missing).toEqual([]);
  });

  for (const op of withBackward) {
    const make = cases[op.name];
    if (!make) continue;
    it(`${op.name}`, () => {
      for (const seed of [11, 12, 13]) {
        const report = gradcheck(op.name, make(new CaseRng(seed)), seed);
        expect(report.failures).toEqual([]);
        expect(report.probes).toBeGreaterThan(0);
        expect(report.worstGradError).toBeLessThanOrEqual(1);
      }
    });
  }
});
