/**
 * What CLI commands share: where output goes, how observation images are drawn (the native
 * renderer unless a caller, e.g. a test, injects another), and option validation with zod that
 * turns every problem into a one-line error naming the option.
 */
import { z } from 'zod';

import { ArgumentError } from '../errors.js';
import { writeFileAtomic } from '../tabletop/dataset.js';
import type { BatchRenderer } from '../tabletop/observation-images.js';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export interface CliContext {
  io: CliIo;
  /**
   * How commands draw observation images: 'native' (the default: the native renderer, inside
   * the rollout workers) or a BatchRenderer (called on the main thread; tests inject doubles).
   * Commands skip images altogether with --no-images.
   */
  renderer?: 'native' | BatchRenderer;
}

/** Text for outputs: the image size, or that images are off. */
export function describeImages(images: { width: number; height: number } | null): string {
  return images ? `${images.width}x${images.height} images` : 'images off (--no-images)';
}

/** An integer option given as text (commander passes strings), at least `min` (and at most `max`). */
export function intOption(min: number, max = Number.MAX_SAFE_INTEGER) {
  return z.string().transform((s, ctx) => {
    const t = s.trim();
    const n = /^[0-9]+$/.test(t) ? Number(t) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      ctx.addIssue({ code: 'custom', message: max === Number.MAX_SAFE_INTEGER ? `must be an integer >= ${min}, got '${s}'` : `must be an integer in [${min}, ${max}], got '${s}'` });
      return z.NEVER;
    }
    return n;
  });
}

/** A decimal option in [min, max] ('3e-4', '0.5'). */
export function numberOption(min: number, max: number) {
  return z.string().transform((s, ctx) => {
    const n = Number(s);
    if (!/^[-+0-9.eE]+$/.test(s.trim()) || !Number.isFinite(n) || n < min || n > max) {
      ctx.addIssue({ code: 'custom', message: `must be a number in [${min}, ${max}], got '${s}'` });
      return z.NEVER;
    }
    return n;
  });
}

/** Validates commander's parsed options with a zod schema; errors name the option. */
export function parseOptions<S extends z.ZodType>(schema: S, raw: unknown): z.infer<S> {
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const key = String(issue.path[0] ?? '');
  const flag = key ? `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}` : 'options';
  throw new ArgumentError('VLA_ARGUMENT', `${flag} ${issue.message}`);
}

/**
 * The checkpoint of a command that takes `--policy FILE` and its alias `--checkpoint FILE`
 * (the CLI contract accepts either wherever a checkpoint file is meant): one of them, or both
 * naming the same file. `policyHelp` describes what --policy takes, for the error.
 */
export function policyOrCheckpoint(o: { policy?: string | undefined; checkpoint?: string | undefined }, policyHelp = 'FILE'): string {
  if (o.policy && o.checkpoint && o.policy !== o.checkpoint) throw new ArgumentError('VLA_ARGUMENT', '--policy and --checkpoint name different policies; give one');
  const which = o.policy ?? o.checkpoint;
  if (!which) throw new ArgumentError('VLA_ARGUMENT', `one of --policy ${policyHelp} or --checkpoint FILE is required`);
  return which;
}

/** Writes an output file atomically; a path that cannot be written is a one-line error naming the option. */
export async function writeOutput(flag: string, file: string, data: string | Uint8Array): Promise<void> {
  await writeFileAtomic(file, data).catch((e: Error) => {
    throw new ArgumentError('VLA_ARGUMENT', `${flag}: cannot write '${file}': ${e.message}`);
  });
}

/**
 * A command's report: with `--json -` its JSON on stdout instead of the text; otherwise the
 * text, and with `--json FILE` the JSON written there too.
 */
export async function emitReport(io: CliIo, json: string | undefined, value: unknown, text: () => string): Promise<void> {
  const body = JSON.stringify(value, null, 1) + '\n';
  if (json === '-') {
    io.stdout(body);
    return;
  }
  io.stdout(text());
  if (json) {
    await writeOutput('--json', json, body);
    io.stdout(`wrote ${json}\n`);
  }
}
