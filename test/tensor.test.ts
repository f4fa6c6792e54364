import { describe, expect, it } from 'vitest';

import { Tensor } from '../lib/index.js';

describe('Tensor', () => {
  it('wraps, reshapes without copying, and clones with copying', () => {
    const t = Tensor.from([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(t.dtype).toBe('float32');
    expect(t.rank).toBe(2);
    const r = t.reshape([3, 2]);
    r.data[0] = 9;
    expect(t.data[0]).toBe(9);
    const c = t.clone();
    c.data[0] = 1;
    expect(t.data[0]).toBe(9);
    expect(Tensor.zeros([], 'float64').size).toBe(1);
  });

  it('draws the same seeded numbers every time, different ones for other seeds and streams', () => {
    const a = Tensor.randn([1000], { seed: 5, dtype: 'float64' });
    const b = Tensor.randn([1000], { seed: 5, dtype: 'float64' });
    const c = Tensor.randn([1000], { seed: 6, dtype: 'float64' });
    const d = Tensor.randn([1000], { seed: 5, stream: 1, dtype: 'float64' });
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(a.data[0]).not.toBe(c.data[0]);
    expect(a.data[0]).not.toBe(d.data[0]);
    // Offsets index into the same stream.
    const tail = Tensor.randn([10], { seed: 5, offset: 990, dtype: 'float64' });
    expect(Array.from(tail.data)).toEqual(Array.from(a.data.slice(990)));
    let mean = 0;
    for (const v of a.data) mean += v / a.size;
    expect(Math.abs(mean)).toBeLessThan(0.1);
    const u = Tensor.rand([1000], { seed: 1, scale: 2 });
    expect(Math.min(...u.data)).toBeGreaterThan(0);
    expect(Math.max(...u.data)).toBeLessThan(2);
  });
});
