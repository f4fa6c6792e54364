/**
 * The policy's configuration, as the native core reads it (native/model/config.h states the
 * token layout and attention rules). Presets: `tiny` (tests), `small` (the CPU default and the
 * shipped checkpoints), `base`, `pi0` (pi0-scale shapes for GPU benchmarks).
 */
import { addon } from '../native/loader.js';
import { fromNativeError } from '../errors.js';

export type PresetName = 'tiny' | 'small' | 'base' | 'pi0';

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
  horizon: number;
  action_dim: number;
  state_dim: number;
  time_min_period: number;
  time_max_period: number;
  sample_steps: number;
  rope_theta: number;
  rms_eps: number;
}

/** A preset's configuration for a vocabulary of `vocabSize` words, with `overrides` applied. */
export function presetConfig(name: PresetName, vocabSize: number, overrides: Partial<ModelConfig> = {}): ModelConfig {
  try {
    const base = JSON.parse(addon().NativePolicy.preset(name, vocabSize)) as ModelConfig;
    return { ...base, ...overrides };
  } catch (e) {
    throw fromNativeError(e);
  }
}
