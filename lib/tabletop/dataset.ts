/**
 * Demonstration datasets: one binary file per episode plus a JSON manifest (docs/dataset.md).
 * The writer streams (only the episode being recorded is in memory) and writes every file
 * atomically (a temporary name, then rename), so a crash never leaves a half-written file under
 * a real name. The reader validates everything it reads and names what is wrong.
 *
 * Episode file layout (little-endian):
 *   bytes 0..7    magic "VLATTEP1"
 *   bytes 8..11   uint32: header length H
 *   bytes 12..    H bytes of UTF-8 JSON (EpisodeHeader), then zero padding to a multiple of 8
 *   data section  the arrays, each at its `offset` (relative to the data section), 8-aligned
 * The header's `dataCrc32` is the CRC-32 of the whole data section.
 *
 * @example
 * ```ts
 * const writer = await DatasetWriter.create('demos', { shift: 'source', ... });
 * await writer.append(episode);
 * await writer.close();
 * const reader = await DatasetReader.open('demos');
 * const ep = await reader.readEpisode(0);   // { header, state, action, image }
 * ```
 */
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { z } from 'zod';

import { ArgumentError, VlaError } from '../errors.js';
import { ACTION_DIM } from './actions.js';

export const DATASET_FORMAT = 'vla-ttt-tabletop-demos';
export const DATASET_VERSION = 1;
export const EPISODE_MAGIC = 'VLATTEP1';
export const STATE_DIM = 4;

/** A dataset file is missing, truncated, corrupt or not in this format. */
export class DatasetFormatError extends VlaError {
  constructor(message: string) {
    super('VLA_VALUE', message);
  }
}

/** One recorded episode, as the writer takes it. */
export interface DemoEpisode {
  task: string;
  instruction: string;
  episodeIndex: number;
  configuration: number;
  seed: number;
  embodimentId: number;
  success: boolean;
  stageSuccess: boolean[];
  /** [T, 4] float32: ee x, y, z, gripper opening (the observation each action was taken from). */
  state: Float32Array;
  /** [T, 7] float32 (actions.ts). */
  action: Float32Array;
  /** [T, H, W, 3] uint8 RGB, or null when recorded without a renderer. */
  image: Uint8Array | null;
  /**
   * [T] float32: ground-truth task progress (0..100, evolve/task-progress.ts) of each step's
   * observation, when the rollout computed it (labels for the progress critic).
   */
  progress?: Float32Array | null;
  /** Task progress after the last action (the episode's end), with `progress`. */
  finalProgress?: number | null;
}

const ArraySpec = z.object({
  name: z.enum(['state', 'action', 'image', 'progress']),
  dtype: z.enum(['float32', 'uint8']),
  shape: z.array(z.number().int().nonnegative()),
  offset: z.number().int().nonnegative(),
  byteLength: z.number().int().nonnegative(),
});

const EpisodeHeader = z.object({
  format: z.literal(DATASET_FORMAT),
  version: z.literal(DATASET_VERSION),
  task: z.string(),
  instruction: z.string(),
  episodeIndex: z.number().int().nonnegative(),
  configuration: z.number().int().nonnegative(),
  seed: z.number().int().nonnegative(),
  embodimentId: z.number().int().nonnegative(),
  success: z.boolean(),
  stageSuccess: z.array(z.boolean()),
  steps: z.number().int().nonnegative(),
  /** Task progress after the last action (datasets recorded with progress). */
  finalProgress: z.number().min(0).max(100).optional(),
  arrays: z.array(ArraySpec),
  dataCrc32: z.number().int().nonnegative(),
});
export type EpisodeHeader = z.infer<typeof EpisodeHeader>;

const ManifestEpisode = z.object({
  file: z.string().regex(/^episodes\/[0-9]{6}\.ep$/),
  task: z.string(),
  episodeIndex: z.number().int().nonnegative(),
  seed: z.number().int().nonnegative(),
  steps: z.number().int().nonnegative(),
  success: z.boolean(),
  bytes: z.number().int().positive(),
});

const Manifest = z.object({
  format: z.literal(DATASET_FORMAT),
  version: z.literal(DATASET_VERSION),
  tasks: z.array(z.string()),
  shift: z.string(),
  shiftSeed: z.number().int().nonnegative(),
  seed: z.number().int().nonnegative(),
  embodimentId: z.number().int().nonnegative(),
  controlHz: z.number().positive(),
  image: z.object({ width: z.number().int().positive(), height: z.number().int().positive() }).nullable(),
  stateLayout: z.array(z.string()),
  actionLayout: z.array(z.string()),
  episodes: z.array(ManifestEpisode),
});
export type Manifest = z.infer<typeof Manifest>;

/** What the manifest records about the collection, besides the episode list. */
export type DatasetMeta = Omit<Manifest, 'format' | 'version' | 'episodes' | 'stateLayout' | 'actionLayout'>;

export const STATE_LAYOUT = ['ee_x', 'ee_y', 'ee_z', 'gripper_opening'];
export const ACTION_LAYOUT = ['dx', 'dy', 'dz', 'droll', 'dpitch', 'dyaw', 'gripper'];

function pad8(n: number): number {
  return (n + 7) & ~7;
}

function describeZod(e: z.ZodError): string {
  const i = e.issues[0]!;
  return `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`;
}

/** Writes `data` to `path` atomically (a temporary file in the same folder, then rename). */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Serializes an episode into the episode file format. */
export function encodeEpisode(ep: DemoEpisode, image: { width: number; height: number } | null): Uint8Array {
  const T = ep.state.length / STATE_DIM;
  if (!Number.isInteger(T) || ep.action.length !== T * ACTION_DIM) {
    throw new ArgumentError('VLA_ARGUMENT', `episode ${ep.task}#${ep.episodeIndex}: ${ep.state.length} state values and ${ep.action.length} action values do not make T x ${STATE_DIM} and T x ${ACTION_DIM}`);
  }
  const arrays: { name: 'state' | 'action' | 'image' | 'progress'; dtype: 'float32' | 'uint8'; shape: number[]; bytes: Uint8Array }[] = [
    { name: 'state', dtype: 'float32', shape: [T, STATE_DIM], bytes: new Uint8Array(ep.state.buffer, ep.state.byteOffset, ep.state.byteLength) },
    { name: 'action', dtype: 'float32', shape: [T, ACTION_DIM], bytes: new Uint8Array(ep.action.buffer, ep.action.byteOffset, ep.action.byteLength) },
  ];
  if (ep.image) {
    if (!image || ep.image.length !== T * image.height * image.width * 3) {
      throw new ArgumentError('VLA_ARGUMENT', `episode ${ep.task}#${ep.episodeIndex}: ${ep.image.length} image bytes do not make ${T} frames of ${image?.height}x${image?.width}x3`);
    }
    arrays.push({ name: 'image', dtype: 'uint8', shape: [T, image.height, image.width, 3], bytes: ep.image });
  }
  if (ep.progress) {
    if (ep.progress.length !== T || !ep.progress.every((v) => Number.isFinite(v) && v >= 0 && v <= 100)) {
      throw new ArgumentError('VLA_ARGUMENT', `episode ${ep.task}#${ep.episodeIndex}: progress must hold ${T} values in [0, 100]`);
    }
    arrays.push({ name: 'progress', dtype: 'float32', shape: [T], bytes: new Uint8Array(ep.progress.buffer, ep.progress.byteOffset, ep.progress.byteLength) });
  }
  let offset = 0;
  const specs = arrays.map((a) => {
    const s = { name: a.name, dtype: a.dtype, shape: a.shape, offset, byteLength: a.bytes.byteLength };
    offset = pad8(offset + a.bytes.byteLength);
    return s;
  });
  const data = new Uint8Array(offset);
  arrays.forEach((a, i) => data.set(a.bytes, specs[i]!.offset));
  const header: EpisodeHeader = {
    format: DATASET_FORMAT,
    version: DATASET_VERSION,
    task: ep.task,
    instruction: ep.instruction,
    episodeIndex: ep.episodeIndex,
    configuration: ep.configuration,
    seed: ep.seed,
    embodimentId: ep.embodimentId,
    success: ep.success,
    stageSuccess: ep.stageSuccess,
    steps: T,
    ...(ep.progress && ep.finalProgress != null ? { finalProgress: ep.finalProgress } : {}),
    arrays: specs,
    dataCrc32: crc32(data),
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const dataStart = pad8(12 + json.length);
  const out = new Uint8Array(dataStart + data.length);
  out.set(new TextEncoder().encode(EPISODE_MAGIC), 0);
  new DataView(out.buffer).setUint32(8, json.length, true);
  out.set(json, 12);
  out.set(data, dataStart);
  return out;
}

export interface DecodedEpisode {
  header: EpisodeHeader;
  state: Float32Array;
  action: Float32Array;
  image: Uint8Array | null;
  /** [T] task progress of each step's observation, or null when not recorded. */
  progress: Float32Array | null;
}

/** Parses and validates an episode file's bytes; `what` names it in errors. */
export function decodeEpisode(bytes: Uint8Array, what: string): DecodedEpisode {
  const fail = (m: string): never => {
    throw new DatasetFormatError(`${what}: ${m}`);
  };
  if (bytes.length < 12) fail(`truncated: ${bytes.length} bytes, shorter than the 12-byte preamble`);
  if (new TextDecoder().decode(bytes.subarray(0, 8)) !== EPISODE_MAGIC) fail(`not an episode file (magic is not ${EPISODE_MAGIC})`);
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(8, true);
  if (12 + headerLength > bytes.length) fail(`truncated: the header needs ${12 + headerLength} bytes, the file has ${bytes.length}`);
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(12, 12 + headerLength)));
  } catch (e) {
    fail(`the header is not valid JSON (${(e as Error).message})`);
  }
  const parsed = EpisodeHeader.safeParse(raw);
  if (!parsed.success) fail(`bad header, ${describeZod(parsed.error)}`);
  const header = parsed.data!;
  const dataStart = pad8(12 + headerLength);
  const data = bytes.subarray(dataStart);
  const T = header.steps;
  const expected: Record<string, { dtype: string; shape: (s: number[]) => boolean }> = {
    state: { dtype: 'float32', shape: (s) => s.length === 2 && s[0] === T && s[1] === STATE_DIM },
    action: { dtype: 'float32', shape: (s) => s.length === 2 && s[0] === T && s[1] === ACTION_DIM },
    image: { dtype: 'uint8', shape: (s) => s.length === 4 && s[0] === T && s[3] === 3 },
    progress: { dtype: 'float32', shape: (s) => s.length === 1 && s[0] === T },
  };
  let end = 0;
  const out: DecodedEpisode = { header, state: new Float32Array(0), action: new Float32Array(0), image: null, progress: null };
  for (const a of header.arrays) {
    const exp = expected[a.name]!;
    if (a.dtype !== exp.dtype || !exp.shape(a.shape)) fail(`array '${a.name}' has dtype ${a.dtype} and shape [${a.shape.join(', ')}], which do not fit ${T} steps`);
    const elements = a.shape.reduce((x, y) => x * y, 1);
    const bytesPer = a.dtype === 'float32' ? 4 : 1;
    if (a.byteLength !== elements * bytesPer) fail(`array '${a.name}' declares ${a.byteLength} bytes for shape [${a.shape.join(', ')}]`);
    if (a.offset % 8 !== 0) fail(`array '${a.name}' is not 8-byte aligned`);
    if (a.offset + a.byteLength > data.length) fail(`truncated: array '${a.name}' ends at byte ${dataStart + a.offset + a.byteLength}, the file has ${bytes.length}`);
    end = Math.max(end, pad8(a.offset + a.byteLength));
    const slice = data.slice(a.offset, a.offset + a.byteLength);
    if (a.name === 'image') out.image = slice;
    else out[a.name] = new Float32Array(slice.buffer, slice.byteOffset, elements);
  }
  if (!header.arrays.some((a) => a.name === 'state') || !header.arrays.some((a) => a.name === 'action')) fail(`the header lists no state or no action array`);
  if (data.length !== end) fail(`${data.length - end > 0 ? `${data.length - end} unexpected trailing bytes` : 'truncated'} (data section of ${data.length} bytes, expected ${end})`);
  if (crc32(data) !== header.dataCrc32) fail(`checksum mismatch: the data section is corrupt`);
  return out;
}

/** Streams episodes into a dataset folder; see the module comment. */
export class DatasetWriter {
  private readonly episodes: Manifest['episodes'] = [];
  private closed = false;

  private constructor(
    readonly dir: string,
    private readonly meta: DatasetMeta,
  ) {}

  /** Creates `dir` (it must not exist, or be empty) and its episodes/ folder. */
  static async create(dir: string, meta: DatasetMeta): Promise<DatasetWriter> {
    const existing = await readdir(dir).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return null;
      throw new ArgumentError('VLA_ARGUMENT', `cannot use '${dir}' as the dataset folder: ${e.message}`);
    });
    if (existing && existing.length > 0) throw new ArgumentError('VLA_ARGUMENT', `the dataset folder '${dir}' is not empty; choose a new folder`);
    await mkdir(join(dir, 'episodes'), { recursive: true });
    return new DatasetWriter(dir, meta);
  }

  get count(): number {
    return this.episodes.length;
  }

  /** Writes one episode file (atomically); only the manifest entry stays in memory. */
  async append(ep: DemoEpisode): Promise<void> {
    if (this.closed) throw new ArgumentError('VLA_ARGUMENT', 'the dataset writer is closed');
    const bytes = encodeEpisode(ep, this.meta.image);
    if ((ep.image === null) !== (this.meta.image === null)) {
      throw new ArgumentError('VLA_ARGUMENT', `episode ${ep.task}#${ep.episodeIndex} ${ep.image ? 'has' : 'lacks'} images but the dataset is declared ${this.meta.image ? 'with' : 'without'} images`);
    }
    const file = `episodes/${String(this.episodes.length).padStart(6, '0')}.ep`;
    await writeFileAtomic(join(this.dir, file), bytes);
    this.episodes.push({ file, task: ep.task, episodeIndex: ep.episodeIndex, seed: ep.seed, steps: ep.state.length / STATE_DIM, success: ep.success, bytes: bytes.length });
  }

  /** Writes the manifest (atomically). The dataset is readable from then on. */
  async close(): Promise<Manifest> {
    if (this.closed) throw new ArgumentError('VLA_ARGUMENT', 'the dataset writer is already closed');
    this.closed = true;
    const manifest: Manifest = { format: DATASET_FORMAT, version: DATASET_VERSION, ...this.meta, stateLayout: STATE_LAYOUT, actionLayout: ACTION_LAYOUT, episodes: this.episodes };
    await writeFileAtomic(join(this.dir, 'manifest.json'), JSON.stringify(manifest, null, 1) + '\n');
    return manifest;
  }
}

/** Reads a dataset folder written by DatasetWriter, validating as it goes. */
export class DatasetReader {
  private constructor(
    readonly dir: string,
    readonly manifest: Manifest,
  ) {}

  static async open(dir: string): Promise<DatasetReader> {
    let text: string;
    try {
      text = await readFile(join(dir, 'manifest.json'), 'utf8');
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ENOENT') {
        const files = await readdir(join(dir, 'episodes')).catch(() => null);
        throw new DatasetFormatError(
          files === null ? `'${dir}' is not a dataset folder (no manifest.json)` : `'${dir}' has no manifest.json: the collection did not finish (${files.filter((f) => f.endsWith('.ep')).length} episode files present)`,
        );
      }
      throw new DatasetFormatError(`cannot read ${join(dir, 'manifest.json')}: ${err.message}`);
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw new DatasetFormatError(`${join(dir, 'manifest.json')} is not valid JSON (${(e as Error).message})`);
    }
    const parsed = Manifest.safeParse(raw);
    if (!parsed.success) throw new DatasetFormatError(`${join(dir, 'manifest.json')}: bad manifest, ${describeZod(parsed.error)}`);
    return new DatasetReader(dir, parsed.data);
  }

  get count(): number {
    return this.manifest.episodes.length;
  }

  /** Reads and validates episode `i` (its size, header, arrays and checksum). */
  async readEpisode(i: number): Promise<DecodedEpisode> {
    const entry = this.manifest.episodes[i];
    if (!Number.isSafeInteger(i) || !entry) throw new ArgumentError('VLA_ARGUMENT', `episode index must be in [0, ${this.count - 1}], got ${String(i)}`);
    const path = join(this.dir, entry.file);
    const info = await stat(path).catch(() => null);
    if (!info) throw new DatasetFormatError(`${path}: missing (listed in the manifest)`);
    if (info.size !== entry.bytes) throw new DatasetFormatError(`${path}: ${info.size} bytes, the manifest says ${entry.bytes} (truncated or replaced)`);
    const fh = await open(path, 'r');
    try {
      const bytes = new Uint8Array(info.size);
      await fh.read(bytes, 0, info.size, 0);
      const ep = decodeEpisode(bytes, path);
      if (ep.header.task !== entry.task || ep.header.episodeIndex !== entry.episodeIndex || ep.header.seed !== entry.seed) {
        throw new DatasetFormatError(`${path}: holds ${ep.header.task}#${ep.header.episodeIndex}, the manifest lists ${entry.task}#${entry.episodeIndex}`);
      }
      const hasImage = ep.image !== null;
      if (hasImage !== (this.manifest.image !== null)) throw new DatasetFormatError(`${path}: ${hasImage ? 'has' : 'lacks'} images, unlike the manifest`);
      return ep;
    } finally {
      await fh.close();
    }
  }
}
