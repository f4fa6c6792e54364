/**
 * The instruction tokenizer: word level, over a vocabulary built from the benchmark's
 * instructions. Words are lower-cased runs of letters and digits; punctuation separates words
 * and is dropped. Ids 0 and 1 are reserved for padding and unknown words.
 *
 * @example
 * ```ts
 * const tok = Tokenizer.fromTexts(['put the carrot on the plate', 'stack the green cube on the yellow cube']);
 * tok.encode('put the cube on the plate', 16); // Int32Array(16): ids, then zeros
 * ```
 */
import { ArgumentError } from '../errors.js';

export const PAD_ID = 0;
export const UNK_ID = 1;
const SPECIAL = ['<pad>', '<unk>'];

/** Splits an instruction into lower-case words. */
export function words(text: string): string[] {
  return text.toLowerCase().match(/[a-z0-9]+/g) ?? [];
}

export class Tokenizer {
  /** Every word by id; ids 0 and 1 are '<pad>' and '<unk>'. */
  readonly vocabulary: readonly string[];
  private readonly ids: Map<string, number>;

  constructor(vocabulary: readonly string[]) {
    if (vocabulary[0] !== SPECIAL[0] || vocabulary[1] !== SPECIAL[1]) {
      throw new ArgumentError('VLA_ARGUMENT', "Tokenizer: the vocabulary must start with '<pad>', '<unk>'");
    }
    this.ids = new Map();
    vocabulary.forEach((w, i) => {
      if (this.ids.has(w)) throw new ArgumentError('VLA_ARGUMENT', `Tokenizer: the word '${w}' appears twice in the vocabulary`);
      this.ids.set(w, i);
    });
    this.vocabulary = [...vocabulary];
  }

  /** A vocabulary of every word in `texts`, sorted (so the same texts give the same ids). */
  static fromTexts(texts: Iterable<string>): Tokenizer {
    const all = new Set<string>();
    for (const t of texts) for (const w of words(t)) all.add(w);
    return new Tokenizer([...SPECIAL, ...[...all].sort()]);
  }

  get size(): number {
    return this.vocabulary.length;
  }

  /** Token ids of `text`, truncated or padded with 0 to `length`. Unknown words map to 1. */
  encode(text: string, length: number, out?: Int32Array): Int32Array {
    const ids = out ?? new Int32Array(length);
    if (ids.length !== length) throw new ArgumentError('VLA_ARGUMENT', `Tokenizer.encode: out has length ${ids.length}, expected ${length}`);
    ids.fill(PAD_ID);
    const ws = words(text);
    for (let i = 0; i < Math.min(length, ws.length); i++) ids[i] = this.ids.get(ws[i]!) ?? UNK_ID;
    return ids;
  }

  /** The number of words of `text` that are not in the vocabulary. */
  unknownWords(text: string): string[] {
    return words(text).filter((w) => !this.ids.has(w));
  }
}
