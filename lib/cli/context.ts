/**
 * What CLI commands share: where output goes, the optional batched renderer (attached by
 * main.ts once the native renderer is available), and option validation with zod that turns
 * every problem into a one-line error naming the option.
 */
import { z } from 'zod';

import { ArgumentError } from '../errors.js';
import type { BatchRenderer } from '../tabletop/rollout.js';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export interface CliContext {
  io: CliIo;
  /** The batched renderer for observation images; absent: commands run without images. */
  renderer?: BatchRenderer;
}

/** An integer option given as text (commander passes strings), at least `min`. */
export function intOption(min: number) {
  return z.string().transform((s, ctx) => {
    const t = s.trim();
    const n = /^[0-9]+$/.test(t) ? Number(t) : NaN;
    if (!Number.isSafeInteger(n) || n < min) {
      ctx.addIssue({ code: 'custom', message: `must be an integer >= ${min}, got '${s}'` });
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
