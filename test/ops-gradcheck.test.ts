// Every op with a backward is gradient-checked through the TypeScript API: float64 central finite
// differences, then float32 against float64. Each op needs an entry in `cases`; an op without
// one fails the coverage test.
import { describe, expect, it } from 'vitest';

import { listOps } from '../lib/index.js';
import type { CaseRng as CaseRngType } from './helpers/case-rng.js';
import { CaseRng } from './helpers/case-rng.js';
import { gradcheck, type GradCase } from './helpers/gradcheck.js';

const cases: Record<string, (r: CaseRngType) => GradCase> = {
  silu: (r) => ({ inputs: { x: r.normal([r.int(1, 4), r.int(1, 30)], 2) } }),
  gelu_tanh: (r) => ({ inputs: { x: r.normal([r.int(1, 4), r.int(1, 30)], 2) } }),
  geglu: (r) => ({ inputs: { x: r.normal([r.int(1, 5), 2 * r.int(1, 12)], 1.5) } }),
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
