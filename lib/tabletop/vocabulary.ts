/**
 * The instruction vocabulary of the tabletop benchmark: every word of every task's instruction
 * (training, long-horizon and held-out suites), so one tokenizer serves all checkpoints.
 */
import { Tokenizer } from '../model/tokenizer.js';
import { TASK_NAMES, getTask } from './tasks.js';

export function benchmarkTokenizer(): Tokenizer {
  return Tokenizer.fromTexts(TASK_NAMES.map((n) => getTask(n).instruction));
}
