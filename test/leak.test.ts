// Repeated native calls must not grow the process: outputs are ordinary typed arrays that the
// garbage collector reclaims, and nothing native is kept per call.
import { describe, expect, it } from 'vitest';

import { runOp, runOpAsync, Tensor } from '../lib/index.js';

const gc = (globalThis as { gc?: () => void }).gc;

function rssMiB(): number {
  return process.memoryUsage().rss / (1024 * 1024);
}

describe('no leaks over many calls', () => {
  it('keeps RSS flat over 20k sync and 2k async calls', async () => {
    expect(gc, 'vitest must run with --expose-gc (vitest.config.ts)').toBeTypeOf('function');
    const x = Tensor.randn([64, 256], { seed: 9 });
    const warm = async () => {
      for (let i = 0; i < 2000; i++) runOp('geglu', { x });
      for (let i = 0; i < 200; i++) await runOpAsync('geglu', { x });
      gc!();
    };
    await warm();
    const before = rssMiB();
    for (let round = 0; round < 10; round++) await warm();
    const after = rssMiB();
    // 22k calls each allocating 32 KiB of output (~700 MiB in all) must leave RSS within a few MiB.
    expect(after - before).toBeLessThan(24);
  });
});
