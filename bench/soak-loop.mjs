// The soak loop shared by bench/soak.mjs (over dist/) and test/soak.test.ts (over lib/): a
// policy acts and takes prompt steps for many iterations, the way a control loop with test-time
// training does, and the process's memory is sampled every `sampleEvery` iterations. The library
// is passed in, so the same loop runs against the built package and against the sources.
//
// Each iteration: act on a packed batch (pack buffers reused) and one prompt step on a batch
// sampled from a trajectory buffer. Every 5th iteration a trajectory enters the buffer (a small
// ring, so old ones are evicted); every 25th, actAsync and promptStepAsync instead of the sync
// calls; every 20th a trainStep; every 50th a getPrompt/setPrompt round trip; every 100th a
// clone that is dropped (its native memory must come back when it is collected; the clone is
// made at iteration 60 of each hundred, so it is garbage, collected and finalized by the next
// sample, and a sample shows only what is really kept).
//
// `leakBytesPerIteration` retains that many bytes per iteration on purpose: the soak test uses it
// to show that its growth bound does catch a leak.

const MIB = 1024 * 1024;

/**
 * Memory now, in MiB: after a full collection (when gc is exposed) and one turn of the event loop,
 * so that the finalizers of collected native policies have run. `externalMiB` is
 * process.memoryUsage().external (ArrayBuffer backing stores on Node 20); `reportedExternalMiB` is
 * what native code reported with AdjustExternalMemory (the policies' native memory).
 */
async function sample(iteration, gc, reportedExternalMemory) {
  gc?.();
  await new Promise((resolve) => setImmediate(resolve));
  gc?.();
  const m = process.memoryUsage();
  return {
    iteration,
    rssMiB: m.rss / MIB,
    externalMiB: m.external / MIB,
    reportedExternalMiB: reportedExternalMemory() / MIB,
    arrayBuffersMiB: m.arrayBuffers / MIB,
    heapUsedMiB: m.heapUsed / MIB,
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * Runs the soak. `vla` is the library's namespace (dist/index.js or lib/index.js). Growth is
 * measured from the end of the warm-up (the first `warmupFraction` of the iterations, when
 * workspaces, buffers and the allocator's pools fill) to the end, each end taken as the median of
 * its last or first few samples so that one noisy reading does not decide.
 */
export async function runSoak(vla, options = {}) {
  const {
    iterations = 5000,
    sampleEvery = 50,
    preset = 'tiny',
    actBatch = 4,
    promptBatch = 8,
    bufferCapacity = 16,
    warmupFraction = 0.1,
    boundMiB = 24,
    leakBytesPerIteration = 0,
    seed = 0,
    onSample,
  } = options;
  const gc = globalThis.gc;
  const { Policy, Tokenizer, Normalization, TrajectoryBuffer, Rng, reportedExternalMemory } = vla;
  const instruction = 'put the carrot on the plate';
  const tokenizer = Tokenizer.fromTexts([instruction, 'stack the green cube on the yellow cube']);
  const policy = Policy.create({ preset, tokenizer, seed });
  const c = policy.config;
  const S = c.image_size;
  const frame = S * S * 3;
  const identity = (dim) => ({ mean: new Array(dim).fill(0), std: new Array(dim).fill(1) });
  const normalization = new Normalization(identity(c.state_dim), identity(c.action_dim));
  const rng = new Rng(seed + 1);

  const observation = (k) => {
    const data = new Uint8Array(frame);
    for (let i = 0; i < frame; i++) data[i] = (i * 31 + k * 7) & 255;
    return { image: { width: S, height: S, data }, instruction, state: [0.01 * k, -0.2, 0.3, 0.04], embodimentId: k % c.num_embodiments };
  };
  const trajectory = (index) => {
    const steps = 6;
    const image = new Uint8Array(steps * frame);
    for (let i = 0; i < image.length; i++) image[i] = (i + index * 13) & 255;
    const state = new Float32Array(steps * 4);
    for (let i = 0; i < state.length; i++) state[i] = 0.1 * rng.normal();
    return {
      task: 'carrot-on-plate', instruction, episodeIndex: index, configuration: 0, seed: index,
      embodimentId: index % c.num_embodiments, success: index % 2 === 0, stageSuccess: [index % 2 === 0],
      state, action: new Float32Array(steps * 7), image,
    };
  };

  const buffer = new TrajectoryBuffer({ capacity: bufferCapacity, imageSize: { width: S, height: S } });
  let added = 0;
  for (; added < bufferCapacity / 2; added++) buffer.add(trajectory(added));
  const observations = Array.from({ length: actBatch }, (_, k) => observation(k));
  let packed = policy.pack(observations);
  let sampled = undefined;
  const sampleOptions = { policy, normalization };
  const trainActions = new Float32Array(actBatch * c.horizon * c.action_dim);
  const retained = [];

  const samples = [];
  const start = await sample(0, gc, reportedExternalMemory);
  const t0 = performance.now();
  for (let i = 1; i <= iterations; i++) {
    packed = policy.pack(observations, packed);
    sampled = buffer.sample(promptBatch, rng, sampleOptions, sampled);
    const step = { lr: 1e-3, seed, step: i };
    if (i % 25 === 0) {
      await policy.actAsync(packed, { seed: i });
      await policy.promptStepAsync(sampled, step);
    } else {
      policy.act(packed, { seed: i });
      policy.promptStep(sampled, step);
    }
    if (i % 5 === 0) buffer.add(trajectory(added++));
    if (i % 20 === 0) policy.trainStep({ observations: packed, actions: trainActions }, { lr: 1e-4, seed, step: i });
    if (i % 50 === 0) {
      const e = i % c.num_embodiments;
      policy.setPrompt(e, policy.getPrompt(e));
    }
    if (i % 100 === 60) policy.clone().act(packed, { seed: i });
    if (leakBytesPerIteration > 0) retained.push(Buffer.alloc(leakBytesPerIteration, 1));
    if (i % sampleEvery === 0 || i === iterations) {
      const s = await sample(i, gc, reportedExternalMemory);
      samples.push(s);
      onSample?.(s);
    }
  }
  const seconds = (performance.now() - t0) / 1000;

  const warmupEnd = Math.ceil(iterations * warmupFraction);
  const settled = samples.filter((s) => s.iteration >= warmupEnd);
  const window = Math.max(1, Math.min(5, Math.floor(settled.length / 4)));
  const afterWarmup = median(settled.slice(0, window).map((s) => s.rssMiB));
  const atEnd = median(settled.slice(-window).map((s) => s.rssMiB));
  const reportedAfterWarmup = median(settled.slice(0, window).map((s) => s.reportedExternalMiB));
  const reportedAtEnd = median(settled.slice(-window).map((s) => s.reportedExternalMiB));
  const growthMiB = atEnd - afterWarmup;
  const last = samples[samples.length - 1];
  return {
    iterations,
    seconds,
    preset,
    actBatch,
    promptBatch,
    sampleEvery,
    gcForced: typeof gc === 'function',
    leakBytesPerIteration,
    warmupIterations: warmupEnd,
    boundMiB,
    startRssMiB: start.rssMiB,
    rssAfterWarmupMiB: afterWarmup,
    endRssMiB: last.rssMiB,
    growthMiB,
    startExternalMiB: start.externalMiB,
    endExternalMiB: last.externalMiB,
    startReportedExternalMiB: start.reportedExternalMiB,
    reportedExternalAfterWarmupMiB: reportedAfterWarmup,
    endReportedExternalMiB: last.reportedExternalMiB,
    reportedExternalGrowthMiB: reportedAtEnd - reportedAfterWarmup,
    verdict: growthMiB < boundMiB ? 'flat' : 'growing',
    rss: samples,
    retainedBytes: retained.reduce((n, b) => n + b.length, 0),
  };
}
