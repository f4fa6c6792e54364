/**
 * Helpers shared by the models on the native core (Policy, ProgressCritic): native calls with
 * typed errors, and the checkpoint metadata that carries the tokenizer next to the weights.
 */
import { ArgumentError, RangeValueError, fromNativeError } from '../errors.js';
import { Tokenizer } from './tokenizer.js';

/** Runs a native call, converting its error into the matching VlaError subclass. */
export function callNative<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw fromNativeError(e);
  }
}

/** callNative for calls that return a Promise (a rejection is converted too). */
export async function callNativeAsync<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw fromNativeError(e);
  }
}

/**
 * The metadata a checkpoint is written with: the caller's entries plus the tokenizer's words under
 * 'vocab' (reserved here; the native writer reserves 'format', 'format_version' and 'config').
 */
export function checkpointMetadata(metadata: Record<string, string>, tokenizer: Tokenizer, where: string): Record<string, string> {
  if ('vocab' in metadata) throw new ArgumentError('VLA_ARGUMENT', `${where}: metadata key 'vocab' is reserved`);
  return { ...metadata, vocab: JSON.stringify(tokenizer.vocabulary) };
}

/** The tokenizer saved in a checkpoint's metadata ('vocab': the words as a JSON array, in id order). */
export function tokenizerFromMetadata(metadata: Record<string, string>, source: string): Tokenizer {
  const raw = metadata['vocab'];
  if (raw === undefined) throw new RangeValueError('VLA_VALUE', `${source}: metadata 'vocab' (the tokenizer vocabulary) is missing`);
  let words: unknown;
  try {
    words = JSON.parse(raw);
  } catch {
    throw new RangeValueError('VLA_VALUE', `${source}: metadata 'vocab' is not JSON`);
  }
  if (!Array.isArray(words) || !words.every((w) => typeof w === 'string')) {
    throw new RangeValueError('VLA_VALUE', `${source}: metadata 'vocab' must be a JSON array of strings`);
  }
  return new Tokenizer(words as string[]);
}

/** Keys the checkpoint writer sets itself ('format', 'format_version', 'config', 'vocab'). */
export const WRITER_METADATA_KEYS: ReadonlySet<string> = new Set(['format', 'format_version', 'config', 'vocab']);

/** A loaded checkpoint's metadata without the writer's own keys: what a re-save carries over. */
export function carriedMetadata(metadata: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(metadata).filter(([k]) => !WRITER_METADATA_KEYS.has(k)));
}

/** The dtype a checkpoint's weights are written in: 'float32' (default) or 'float16' (shipping; loading widens). */
export function checkpointWeights(options: { weights?: 'float32' | 'float16' }, where: string): 'float32' | 'float16' {
  const weights = options.weights ?? 'float32';
  if (weights !== 'float32' && weights !== 'float16') throw new ArgumentError('VLA_ARGUMENT', `${where}: weights must be 'float32' or 'float16', got '${String(weights)}'`);
  return weights;
}
