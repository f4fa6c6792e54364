/**
 * Statistics for success rates: Wilson score intervals, and the exact McNemar (sign) test for
 * paired comparisons of two policies on the same episodes.
 *
 * @example
 * ```ts
 * wilsonInterval(5, 10);        // [0.2366, 0.7634]
 * mcnemarExact(2, 10);          // two-sided p = 0.0386
 * ```
 */
import { ArgumentError } from '../errors.js';

/** The 0.975 quantile of the standard normal (95% two-sided). */
export const Z95 = 1.959963984540054;

function checkCount(v: number, field: string): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new ArgumentError('VLA_ARGUMENT', `${field} must be a non-negative integer, got ${String(v)}`);
}

/** Wilson score interval for `successes` out of `trials` (z = 1.96 by default). */
export function wilsonInterval(successes: number, trials: number, z = Z95): [number, number] {
  checkCount(successes, 'successes');
  checkCount(trials, 'trials');
  if (successes > trials) throw new ArgumentError('VLA_ARGUMENT', `successes (${successes}) exceed trials (${trials})`);
  if (trials === 0) return [0, 1];
  const p = successes / trials;
  const z2 = z * z;
  const denom = 1 + z2 / trials;
  const center = (p + z2 / (2 * trials)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials))) / denom;
  return [Math.max(0, center - half), Math.min(1, center + half)];
}

/** log(i!) for i = 0..n. */
function logFactorials(n: number): Float64Array {
  const out = new Float64Array(n + 1);
  for (let i = 2; i <= n; i++) out[i] = out[i - 1]! + Math.log(i);
  return out;
}

/**
 * Exact two-sided McNemar test (a sign test on the discordant pairs): `b` episodes flipped one
 * way, `c` the other. p = min(1, 2 * P[X <= min(b, c)]) for X ~ Binomial(b + c, 1/2).
 */
export function mcnemarExact(b: number, c: number): number {
  checkCount(b, 'b');
  checkCount(c, 'c');
  const n = b + c;
  if (n === 0) return 1;
  const k = Math.min(b, c);
  const lf = logFactorials(n);
  // Sum the binomial tail in log space (2^-n underflows for large n).
  const logs: number[] = [];
  for (let i = 0; i <= k; i++) logs.push(lf[n]! - lf[i]! - lf[n - i]! - n * Math.LN2);
  const m = Math.max(...logs);
  const tail = Math.exp(m) * logs.reduce((s, l) => s + Math.exp(l - m), 0);
  return Math.min(1, 2 * tail);
}
