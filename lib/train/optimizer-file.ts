/**
 * AdamW state files for resumable training (`OUT.optimizer.bin` beside a checkpoint): the
 * magic 'VLATTOPT', a little-endian uint32 header length, a JSON header (the trainer's resume
 * facts plus adamStep and n), then m and v as float32 [n] each.
 */
import { readFile } from 'node:fs/promises';

import { RangeValueError } from '../errors.js';
import type { OptimizerState } from '../model/policy.js';
import { writeFileAtomic } from '../tabletop/dataset.js';

const OPTIM_MAGIC = 'VLATTOPT';

/** A model whose AdamW state can be saved and restored (Policy, ProgressCritic). */
export interface OptimizerHolder {
  readonly numParams: number;
  getOptimizerState(): OptimizerState;
  setOptimizerState(state: OptimizerState): void;
}

/** Writes `model`'s AdamW state and the trainer's `facts` (JSON) atomically. */
export async function writeOptimizerFile(path: string, model: OptimizerHolder, facts: object): Promise<void> {
  const opt = model.getOptimizerState();
  const header = new TextEncoder().encode(JSON.stringify({ ...facts, adamStep: opt.step, n: opt.m.length }));
  const buf = new Uint8Array(8 + 4 + header.length + 8 * opt.m.length);
  buf.set(new TextEncoder().encode(OPTIM_MAGIC), 0);
  new DataView(buf.buffer).setUint32(8, header.length, true);
  buf.set(header, 12);
  const data = new Float32Array(2 * opt.m.length);
  data.set(opt.m, 0);
  data.set(opt.v, opt.m.length);
  buf.set(new Uint8Array(data.buffer), 12 + header.length);
  await writeFileAtomic(path, buf);
}

/** Restores `model`'s AdamW state from `path`; returns the trainer's facts stored with it. */
export async function readOptimizerFile<Facts>(path: string, model: OptimizerHolder): Promise<Facts> {
  const bytes = new Uint8Array(await readFile(path));
  const bad = (why: string): never => {
    throw new RangeValueError('VLA_VALUE', `${path}: ${why}`);
  };
  if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== OPTIM_MAGIC) bad('not a vla-ttt optimizer state file');
  const hl = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  if (12 + hl > bytes.length) bad('truncated header');
  let header: Facts & { adamStep: number; n: number };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + hl))) as Facts & { adamStep: number; n: number };
  } catch (e) {
    return bad(`the header is not valid JSON (${(e as Error).message})`);
  }
  if (header.n !== model.numParams) bad(`holds ${header.n} parameters, the checkpoint has ${model.numParams}`);
  if (bytes.length !== 12 + hl + 8 * header.n) bad('truncated data');
  const data = new Float32Array(bytes.slice(12 + hl).buffer);
  model.setOptimizerState({ m: data.subarray(0, header.n), v: data.subarray(header.n), step: header.adamStep });
  return header;
}
