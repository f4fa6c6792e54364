/**
 * Inputs and calls of the model benchmarks (`vla-ttt bench`, bench/model.bench.mjs): a policy
 * of a preset on the benchmark instructions, seeded random observation batches, action chunks,
 * and the three timed operations (act, prompt step, train step) with their seeds advancing.
 *
 * @example
 * ```ts
 * const policy = benchPolicy('small', 7);
 * const act = modelOpCall(policy, 'act', benchObservations(policy, 1, 1, () => 0));
 * act(); // one Policy.act, a new noise seed each call
 * ```
 */
import { Policy, type ObservationBatch } from '../model/policy.js';
import type { PresetName } from '../model/config.js';
import { Tokenizer } from '../model/tokenizer.js';
import { Tensor } from '../tensor.js';

/** The instructions of the four base tasks, cycled over a batch. */
export const BENCH_INSTRUCTIONS = ['put the carrot on the plate', 'put the spoon on the towel', 'stack the green block on the yellow block', 'put the eggplant in the basket'] as const;

/** A new policy of `preset` over the benchmark instructions. */
export function benchPolicy(preset: PresetName, seed: number): Policy {
  return Policy.create({ preset, tokenizer: Tokenizer.fromTexts(BENCH_INSTRUCTIONS), seed });
}

/**
 * `batch` observations: uniform random pixels, the instructions cycled, N(0, 0.5) states, and the
 * embodiment `embodiment(b)` of sample b; the same for the same seed.
 */
export function benchObservations(policy: Policy, batch: number, seed: number, embodiment: (b: number) => number): ObservationBatch {
  const c = policy.config;
  const S = c.image_size;
  const px = Tensor.rand([batch * S * S * 3], { seed, stream: 1, scale: 256 }).data;
  const text = new Int32Array(batch * c.max_text_len);
  for (let b = 0; b < batch; b++) policy.tokenizer.encode(BENCH_INSTRUCTIONS[b % BENCH_INSTRUCTIONS.length]!, c.max_text_len, text.subarray(b * c.max_text_len, (b + 1) * c.max_text_len));
  return {
    batch,
    images: Uint8Array.from(px, (v) => Math.min(255, Math.floor(v))),
    text,
    state: Tensor.randn([batch * c.state_dim], { seed, stream: 2, scale: 0.5 }).data,
    embodiment: Int32Array.from({ length: batch }, (_, b) => embodiment(b)),
  };
}

/** N(0, 0.5) action chunks [batch * horizon * action_dim]. */
export function benchActions(policy: Policy, batch: number, seed: number): Float32Array {
  return Tensor.randn([batch * policy.config.horizon * policy.config.action_dim], { seed, scale: 0.5 }).data;
}

export type ModelOp = 'act' | 'promptStep' | 'trainStep';

/**
 * One call of `op` on `observations` per invocation: act with a new noise seed each time, prompt
 * and train steps (AdamW, default settings) with their step counter advancing. A train step
 * needs `actions` (benchActions).
 */
export function modelOpCall(policy: Policy, op: ModelOp, observations: ObservationBatch, actions?: Float32Array): () => void {
  let k = 0;
  if (op === 'act') return () => void policy.act(observations, { seed: k++ });
  if (op === 'promptStep') return () => void policy.promptStep(observations, { seed: 1, step: k++ });
  const batch = { observations, actions: actions ?? benchActions(policy, observations.batch, 4) };
  return () => void policy.trainStep(batch, { seed: 2, step: k++ });
}
