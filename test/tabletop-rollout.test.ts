// Parallel rollouts: determinism across worker counts, the batched policy and renderer hooks,
// and failures that must be reported (bad actions, a worker that dies). The native images
// rollouts draw by default are checked against single-environment rendering in
// tabletop-images.test.ts.
import { Worker } from 'node:worker_threads';

import { describe, expect, it } from 'vitest';

import { ArgumentError, RangeValueError } from '../lib/errors.js';
import type { Scene } from '../lib/render/scene.js';
import { TabletopEnv } from '../lib/tabletop/env.js';
import { ScriptedExpert } from '../lib/tabletop/expert.js';
import { planEpisodes, RolloutWorkerError, runRollouts, type Transition } from '../lib/tabletop/rollout.js';

const plans = planEpisodes(['carrot-on-plate', 'stack-cube'], 4, 5);

/** Every episode's (state, action) sequence, keyed by task and index. */
function recorder(): { onTransition: (t: Transition) => void; traces: Map<string, number[]> } {
  const traces = new Map<string, number[]>();
  return {
    traces,
    onTransition: (t) => {
      const key = `${t.episode.task}#${t.episode.episodeIndex}`;
      if (!traces.has(key)) traces.set(key, []);
      traces.get(key)!.push(t.step, ...t.observation.state, ...t.action);
    },
  };
}

describe('rollouts', () => {
  it('plans episodes cycling the 24 configurations with seeds from (seed, task, index)', () => {
    const p = planEpisodes(['carrot-on-plate'], 30, 7);
    expect(p.map((e) => e.configuration)).toEqual([...Array(24).keys(), 0, 1, 2, 3, 4, 5]);
    expect(new Set(p.map((e) => e.seed)).size).toBe(30);
    expect(planEpisodes(['carrot-on-plate'], 30, 7)).toEqual(p);
    expect(planEpisodes(['carrot-on-plate'], 30, 8)[0]!.seed).not.toBe(p[0]!.seed);
    expect(() => planEpisodes(['carrot-on-plate'], 0, 7)).toThrow(/episodes per task must be a positive integer/);
    expect(() => planEpisodes(['nope'], 1, 7)).toThrow(/unknown task 'nope'/);
  });

  it('gives identical episodes whatever the number of workers and environments', async () => {
    const a = recorder();
    const b = recorder();
    // Trajectories only: no images needed.
    const one = await runRollouts({ policy: 'expert', episodes: plans, workers: 1, envsPerWorker: 1, onTransition: a.onTransition, render: false });
    const two = await runRollouts({ policy: 'expert', episodes: plans, workers: 2, envsPerWorker: 3, onTransition: b.onTransition, render: false });
    expect(one.images).toBeNull();
    expect(two.workers).toBe(2);
    expect(two.envs).toBe(6);
    expect(one.envSteps).toBe(8 * 60);
    expect(two.episodes.map((e) => e.outcome)).toEqual(one.episodes.map((e) => e.outcome));
    expect(a.traces.size).toBe(8);
    for (const [key, trace] of a.traces) expect(b.traces.get(key), key).toEqual(trace);
    // And the same as running the environment in this thread.
    const env = await TabletopEnv.create({ images: false });
    const p = plans[5]!;
    env.reset(p);
    const expert = new ScriptedExpert(p.seed);
    const local: number[] = [];
    for (let step = 0; step < 60; step++) {
      const state = env.privileged();
      const obs = Array.from(env.step(expert.act(state)).info.action);
      local.push(...obs);
    }
    const remote = a.traces.get(`${p.task}#${p.episodeIndex}`)!;
    const remoteActions = Array.from({ length: 60 }, (_, s) => remote.slice(s * 12 + 5, s * 12 + 12)).flat();
    expect(Float32Array.from(local)).toEqual(Float32Array.from(remoteActions));
    env.dispose();
  }, 180_000);

  it('feeds a batched policy every observation, with its 64x64 image, and applies its actions', async () => {
    const batches: number[] = [];
    const result = await runRollouts({
      policy: async (obs, ctx) => {
        batches.push(obs.length);
        expect(ctx.episodes).toHaveLength(obs.length);
        for (const o of obs) {
          expect(o.image!.width).toBe(64);
          expect(o.image!.height).toBe(64);
          expect(o.image!.data.length).toBe(64 * 64 * 3);
          expect(o.state).toBeInstanceOf(Float32Array);
          expect(o.instruction).toMatch(/^(put the carrot on the plate|stack the green cube on the yellow cube)$/);
        }
        // Go up, out of range: the environment clips and reports it.
        return obs.map(() => [0, 0, 0.2, 0, 0, 0, 1]);
      },
      episodes: plans.slice(0, 3),
      workers: 2,
      envsPerWorker: 2,
      env: { episodeCaps: { singleStage: 5, twoStage: 10 } },
    });
    expect(batches[0]).toBe(3);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(15);
    expect(result.images).toEqual({ width: 64, height: 64 });
    for (const e of result.episodes) {
      expect(e.outcome.steps).toBe(5);
      expect(e.outcome.clippedSteps).toBe(5);
      expect(e.outcome.success).toBe(false);
    }
  });

  it('renders every observation through the injected batched renderer', async () => {
    const calls: Scene[][] = [];
    const seen: Array<{ count: number; first: number }> = [];
    await runRollouts({
      policy: (obs) => {
        for (const o of obs) seen.push({ count: o.image!.data.length, first: o.image!.data[0]! });
        return obs.map(() => [0, 0, 0, 0, 0, 0, 1]);
      },
      // A test double that writes each scene's geom count into its pixels, to check routing.
      render: async (scenes, { width, height }) => {
        calls.push(scenes);
        const out = new Uint8Array(scenes.length * width * height * 3);
        scenes.forEach((s, i) => out.fill(s.geoms.count, i * width * height * 3, (i + 1) * width * height * 3));
        return out;
      },
      imageSize: { width: 8, height: 6 },
      episodes: [plans[0]!, { ...plans[0]!, episodeIndex: 1 }],
      env: { shift: 'distractors:0.34', episodeCaps: { singleStage: 3, twoStage: 3 } },
      workers: 1,
    });
    expect(calls).toHaveLength(3);
    expect(calls[0]).toHaveLength(2);
    expect(seen).toHaveLength(6);
    // One distractor: more geoms than the bare carrot-on-plate scene.
    for (const s of seen) expect(s).toEqual({ count: 8 * 6 * 3, first: calls[0]![0]!.geoms.count });
    // A renderer that returns the wrong number of bytes is named.
    await expect(
      runRollouts({ policy: (obs) => obs.map(() => [0, 0, 0, 0, 0, 0, 1]), render: async () => new Uint8Array(5), episodes: plans.slice(0, 1), workers: 1 }),
    ).rejects.toThrow(/the renderer returned 5 bytes; expected 1 x 64 x 64 x 3 = 12288 bytes/);
    await expect(runRollouts({ policy: 'expert', episodes: plans, imageSize: { width: 64, height: 0 } })).rejects.toThrow(/imageSize\.height must be an integer in \[1, 4096\], got 0/);
  });

  it('rejects bad policy output with an error naming the episode and index', async () => {
    await expect(runRollouts({ policy: (obs) => obs.map(() => [0, 0, NaN, 0, 0, 0, 1]), episodes: plans.slice(0, 1), workers: 1 })).rejects.toThrow(RangeValueError);
    await expect(runRollouts({ policy: (obs) => obs.map(() => [0, 0, NaN, 0, 0, 0, 1]), episodes: plans.slice(0, 1), workers: 1 })).rejects.toThrow(
      /policy action 0 \(episode carrot-on-plate#0, step 0\)\[2\] must be a finite number, got NaN/,
    );
    await expect(runRollouts({ policy: (obs) => obs.map(() => [0, 0, 0]), episodes: plans.slice(0, 1), workers: 1 })).rejects.toThrow(/must have 7 numbers/);
    await expect(runRollouts({ policy: () => [], episodes: plans.slice(0, 1), workers: 1 })).rejects.toThrow(ArgumentError);
    await expect(runRollouts({ policy: 'expert', episodes: plans, workers: 0 })).rejects.toThrow(/workers must be a positive integer/);
  });

  it('validates environment options and plans before starting any worker', async () => {
    const workers: Worker[] = [];
    const createWorker = (entry: URL | string, options: object): Worker => {
      const w = new Worker(entry, options);
      workers.push(w);
      return w;
    };
    await expect(runRollouts({ policy: 'expert', episodes: plans, env: { jitter: { position: 0.5, yaw: 0 } }, createWorker })).rejects.toThrow(/jitter must have position in \[0, 0.01\] m/);
    await expect(runRollouts({ policy: 'expert', episodes: plans, env: { shift: 'fog' }, createWorker })).rejects.toThrow(/unknown shift preset 'fog'/);
    await expect(runRollouts({ policy: 'expert', episodes: plans, env: { physicsHz: 333 }, createWorker })).rejects.toThrow(/physicsHz \(333\) must be a multiple of controlHz \(5\)/);
    await expect(runRollouts({ policy: 'expert', episodes: [{ ...plans[0]!, configuration: 24 }], createWorker })).rejects.toThrow(/episodes\[0\]\.configuration must be an integer in \[0, 23\], got 24/);
    await expect(runRollouts({ policy: 'expert', episodes: plans, expertNoise: -1, createWorker })).rejects.toThrow(/expertNoise must be a finite number >= 0/);
    expect(workers).toHaveLength(0);
  });

  it('reports a worker that dies with the episodes it was running', async () => {
    const workers: Worker[] = [];
    let calls = 0;
    const run = runRollouts({
      policy: (obs) => {
        if (++calls === 3) void workers[1]!.terminate();
        return obs.map(() => [0, 0, 0, 0, 0, 0, 1]);
      },
      episodes: plans,
      workers: 2,
      envsPerWorker: 1,
      createWorker: (entry, options) => {
        const w = new Worker(entry, options);
        workers.push(w);
        return w;
      },
    });
    await expect(run).rejects.toThrow(RolloutWorkerError);
    await expect(run).rejects.toThrow(/rollout worker 1 failed while running carrot-on-plate#1 \(configuration 1, seed \d+\): the worker thread exited/);
  });
});
