/**
 * Timing helpers shared by `vla-ttt bench` and the benchmark scripts in bench/: quantiles, and
 * wall-clock times of repeated synchronous calls with the process CPU time beside them.
 *
 * @example
 * ```ts
 * const t = timeCalls(() => policy.act(batch), { warmup: 3, calls: 10 });
 * console.log(median(t.ms), t.cpuMsPerCall);
 * ```
 */
import { ArgumentError } from '../errors.js';

/** The q-quantile of `xs` (linear interpolation between order statistics). */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) throw new ArgumentError('VLA_ARGUMENT', 'quantile: no values');
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

export function median(xs: readonly number[]): number {
  return quantile(xs, 0.5);
}

export interface CallTimes {
  /** Wall time of each timed call, milliseconds. */
  ms: number[];
  /** CPU time of the whole process (every thread, user + system) per timed call, milliseconds. */
  cpuMsPerCall: number;
}

/** Runs `fn` `warmup` times untimed, then `calls` times, each timed alone. */
export function timeCalls(fn: () => unknown, o: { warmup: number; calls: number }): CallTimes {
  if (!Number.isSafeInteger(o.calls) || o.calls < 1) throw new ArgumentError('VLA_ARGUMENT', `timeCalls: calls must be a positive integer, got ${String(o.calls)}`);
  for (let i = 0; i < o.warmup; i++) fn();
  const ms: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < o.calls; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const cpu = process.cpuUsage(cpu0);
  return { ms, cpuMsPerCall: (cpu.user + cpu.system) / 1e3 / o.calls };
}
