// Observations for policy tests: random images and states, the tokenizer's instructions (one
// padded more than the others), embodiments cycling through the policy's.
import { Tensor, Tokenizer, type Policy, type PolicyObservation } from '../../lib/index.js';

export const INSTRUCTIONS = ['put the carrot on the plate', 'stack the green cube on the yellow cube', 'put the cube on the plate please'];
export const policyTokenizer = (): Tokenizer => Tokenizer.fromTexts(INSTRUCTIONS.slice(0, 2));

export function observations(policy: Policy, B: number, seed: number): PolicyObservation[] {
  const S = policy.config.image_size;
  const px = Tensor.rand([B * S * S * 3], { seed, scale: 255 });
  const st = Tensor.randn([B * 4], { seed, stream: 1 });
  return Array.from({ length: B }, (_, b) => ({
    image: { width: S, height: S, data: Uint8Array.from(px.data.subarray(b * S * S * 3, (b + 1) * S * S * 3), (v) => Math.floor(v)) },
    instruction: INSTRUCTIONS[b % INSTRUCTIONS.length]!,
    state: st.data.subarray(b * 4, b * 4 + 4),
    embodimentId: b % policy.config.num_embodiments,
  }));
}
