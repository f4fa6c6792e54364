/**
 * The model's configuration, as the native core reads it (native/model/config.h states the
 * token layout and attention rules). Policy presets: `tiny` (tests), `small` (the CPU default and
 * the shipped checkpoints), `base`, `pi0` (pi0-scale shapes for GPU benchmarks). Progress critic
 * presets (head 'progress', ProgressCritic): `critic-tiny` (tests), `critic-small`.
 *
 * @example
 * ```ts
 * const cfg = presetConfig('critic-small', tokenizer.size); // { head: 'progress', frames: 2, ... }
 * ```
 */
import { addon } from '../native/loader.js';
import { fromNativeError } from '../errors.js';

export type PresetName = 'tiny' | 'small' | 'base' | 'pi0';
/** Presets of the pairwise progress critic (ProgressCritic). */
export type CriticPresetName = 'critic-tiny' | 'critic-small';

/** What the model's output head is: the flow-matching policy, or the pairwise progress critic. */
export type ModelHead = 'policy' | 'progress';

export interface ExpertDims {
  width: number;
  mlp_dim: number;
}

/** Field names follow the native JSON (snake case), as stored in checkpoints. */
export interface ModelConfig {
  preset: string;
  image_size: number;
  patch_size: number;
  max_text_len: number;
  vocab_size: number;
  depth: number;
  num_heads: number;
  num_kv_heads: number;
  head_dim: number;
  backbone: ExpertDims;
  action: ExpertDims;
  state: ExpertDims;
  num_prompt_tokens: number;
  num_embodiments: number;
  use_prompt: boolean;
  use_state_expert: boolean;
  /** false: the action expert gets no robot state (only the image, the instruction and the prompt). Default true. */
  action_sees_state?: boolean;
  /**
   * true: observation rows also attend the prompt, so the prompt can steer perception (and the
   * prompt's gradient runs back through them; observation encodings cannot be cached). Default false.
   */
  obs_attends_prompt?: boolean;
  horizon: number;
  action_dim: number;
  state_dim: number;
  time_min_period: number;
  time_max_period: number;
  sample_steps: number;
  rope_theta: number;
  rms_eps: number;
  /**
   * Images per observation, 1 to 4 (images are [B, frames, S, S, 3]); default 1. The position
   * embedding covers every frame's patches, which tells the frames apart. A progress critic has 2
   * (before, after); the TypeScript Policy takes 1.
   */
  frames?: number;
  /**
   * 'policy' (default) or 'progress': a pairwise progress critic on the same backbone (no prompt,
   * no action or state expert; use ProgressCritic). Absent from JSON when 'policy'.
   */
  head?: ModelHead;
}

/** A preset's configuration for a vocabulary of `vocabSize` words, with `overrides` applied. */
export function presetConfig(name: PresetName | CriticPresetName, vocabSize: number, overrides: Partial<ModelConfig> = {}): ModelConfig {
  try {
    const base = JSON.parse(addon().NativePolicy.preset(name, vocabSize)) as ModelConfig;
    return { ...base, ...overrides };
  } catch (e) {
    throw fromNativeError(e);
  }
}
