/**
 * What CLI commands share: where output goes, how observation images are drawn (the native
 * renderer unless a caller, e.g. a test, injects another), and option validation with zod that
 * turns every problem into a one-line error naming the option.
 */
import { z } from 'zod';

import { ArgumentError } from '../errors.js';
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
