// Long calls run on worker threads: the event loop keeps turning while they compute, results
// equal the synchronous ones, and many calls in flight at once are all correct.
import { describe, expect, it } from 'vitest';

import { runOp, runOpAsync, Tensor } from '../lib/index.js';

describe('async op calls', () => {
  it('do not block the event loop', async () => {
    const x = Tensor.randn([4096, 2048], { seed: 3 }); // ~8M elements of tanh work per call
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const t0 = performance.now();
    await Promise.all([runOpAsync('geglu', { x }), runOpAsync('geglu', { x })]);
    const elapsed = performance.now() - t0;
    clearInterval(timer);
    // The timer fired while the work ran: at least a few ticks for a call of tens of ms.
    expect(elapsed).toBeGreaterThan(5);
    expect(ticks).toBeGreaterThan(0);
  });

  it('match the synchronous results exactly', async () => {
    const x = Tensor.randn([37, 64], { seed: 4, dtype: 'float64' });
    const sync = runOp('geglu', { x });
    const asyncOut = await runOpAsync('geglu', { x });
    expect(asyncOut.y.shape).toEqual(sync.y.shape);
    expect(Array.from(asyncOut.y.data)).toEqual(Array.from(sync.y.data));
  });

  it('stay correct with many calls in flight', async () => {
    const inputs = Array.from({ length: 32 }, (_, i) => Tensor.randn([64, 2 * (i + 1)], { seed: 100 + i }));
    const results = await Promise.all(inputs.map((x) => runOpAsync('geglu', { x })));
    results.forEach((r, i) => {
      const expected = runOp('geglu', { x: inputs[i]! });
      expect(Array.from(r.y.data)).toEqual(Array.from(expected.y.data));
    });
  });

  it('outputs are fresh buffers written by the kernel, inputs are read in place', () => {
    const x = Tensor.from([1, 2, 3, 4], [2, 2], 'float64');
    const a = runOp('silu', { x });
    x.data[0] = 0; // the input is the caller's own buffer: changing it changes the next result
    const b = runOp('silu', { x });
    expect(a.y.data[0]).toBeCloseTo(0.7310585786300049, 15);
    expect(b.y.data[0]).toBe(0);
    expect(a.y.data).not.toBe(b.y.data);
  });
});
