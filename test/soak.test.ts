// A short soak (the full one is bench/soak.mjs): the act / prompt-step loop with buffer traffic,
// prompt swaps, train steps and dropped clones must keep RSS flat after its warm-up, and the
// native memory the policies report to V8 must come back when they are collected. The growth
// bound is checked against a deliberate leak of twice its size, so it is known to catch one.
import { describe, expect, it } from 'vitest';

import * as vla from '../lib/index.js';
import { runSoak } from '../bench/soak-loop.mjs';

const MIB = 1024 * 1024;
const gc = (globalThis as { gc?: () => void }).gc;
const ITERATIONS = 600;
const WARMUP_FRACTION = 0.2;
/** RSS may move by allocator noise after the warm-up, not by a leak of this size. */
const RSS_BOUND_MIB = 16;

/** V8's external-memory total is shared (the engine adjusts it for its own objects too): compare to within this. */
const ENGINE_SLACK_BYTES = 64 * 1024;

const settle = async () => {
  gc!();
  await new Promise((resolve) => setImmediate(resolve));
  gc!();
};

describe('soak', () => {
  it(`keeps RSS within ${RSS_BOUND_MIB} MiB and reported native memory flat over ${ITERATIONS} iterations`, async () => {
    expect(gc, 'vitest must run with --expose-gc (vitest.config.ts)').toBeTypeOf('function');
    const r = await runSoak(vla, { iterations: ITERATIONS, sampleEvery: 20, preset: 'tiny', boundMiB: RSS_BOUND_MIB, warmupFraction: WARMUP_FRACTION });
    expect(r.gcForced).toBe(true);
    expect(r.growthMiB).toBeLessThan(RSS_BOUND_MIB);
    expect(r.verdict).toBe('flat');
    // After the warm-up the workspaces exist and clones have come and gone: nothing native grows.
    expect(Math.abs(r.reportedExternalGrowthMiB)).toBeLessThan(0.01);
    expect(r.seconds).toBeLessThan(30);
  }, 60_000);

  it('the bound catches a leak twice its size', async () => {
    const leakBytesPerIteration = Math.ceil((2 * RSS_BOUND_MIB * MIB) / (ITERATIONS * (1 - WARMUP_FRACTION)));
    const r = await runSoak(vla, { iterations: ITERATIONS, sampleEvery: 20, preset: 'tiny', boundMiB: RSS_BOUND_MIB, warmupFraction: WARMUP_FRACTION, leakBytesPerIteration });
    expect(r.growthMiB).toBeGreaterThan(RSS_BOUND_MIB);
    expect(r.verdict).toBe('growing');
  }, 60_000);

  it('reports each policy to V8 and gives the bytes back when it is collected', async () => {
    const tokenizer = vla.Tokenizer.fromTexts(['put the carrot on the plate']);
    await settle();
    const before = vla.reportedExternalMemory();
    let policy: vla.Policy | null = vla.Policy.create({ preset: 'small', tokenizer, seed: 0 });
    const paramBytes = policy.numParams * 4 * 4; // parameters, gradients and two AdamW moments
    expect(policy.nativeBytes).toBe(paramBytes);
    expect(Math.abs(vla.reportedExternalMemory() - before - paramBytes)).toBeLessThan(ENGINE_SLACK_BYTES);
    const S = policy.config.image_size;
    const obs = [{ image: { width: S, height: S, data: new Uint8Array(S * S * 3) }, instruction: 'put the carrot', state: [0, 0, 0, 0], embodimentId: 0 }];
    policy.act(obs);
    // Acting built a workspace (activations for this batch size): reported too.
    expect(policy.nativeBytes).toBeGreaterThan(paramBytes);
    expect(Math.abs(vla.reportedExternalMemory() - before - policy.nativeBytes)).toBeLessThan(ENGINE_SLACK_BYTES);
    policy = null;
    await settle();
    expect(Math.abs(vla.reportedExternalMemory() - before)).toBeLessThan(ENGINE_SLACK_BYTES);
  });
});
