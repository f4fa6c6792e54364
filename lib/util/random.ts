/**
 * A small seeded pseudo-random generator for everything random in the tabletop world (initial
 * placements, expert noise, shift draws). It is pure TypeScript so that worker threads need no
 * native addon, and it is fully determined by its seed: the same seed gives the same sequence on
 * every machine and in every thread.
 *
 * The generator is xoshiro128** (Blackman & Vigna), seeded through splitmix32. Seeds derived
 * from several parts (`deriveSeed(base, 'carrot-on-plate', 17)`) let every episode own an
 * independent stream regardless of which worker runs it.
 *
 * @example
 * ```ts
 * const rng = new Rng(deriveSeed(7, 'carrot-on-plate', 3));
 * rng.uniform(-1, 1);   // a float in [-1, 1)
 * rng.normal(0, 0.01);  // a Gaussian draw
 * rng.int(24);          // an integer in [0, 24)
 * ```
 */
import { ArgumentError } from '../errors.js';

/** splitmix32 step: a well-mixed 32-bit value from a 32-bit state. */
function splitmix32(state: number): [number, number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [next, z >>> 0];
}

/** FNV-1a over the UTF-16 code units of a string, 32 bits. */
function hashString(s: string, h = 0x811c9dc5): number {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Checks that a seed is a non-negative safe integer and names the field when it is not. */
export function checkSeed(seed: unknown, field = 'seed'): number {
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) {
    throw new ArgumentError('VLA_ARGUMENT', `${field} must be a non-negative safe integer, got ${String(seed)}`);
  }
  return seed;
}

/**
 * A 32-bit seed determined by the parts, in order. Parts are numbers (non-negative safe
 * integers) or strings; different part lists give unrelated seeds.
 */
export function deriveSeed(...parts: ReadonlyArray<number | string>): number {
  let h = 0x243f6a88;
  for (const part of parts) {
    if (typeof part === 'string') {
      h = hashString(part, h ^ 0x5bd1e995);
    } else {
      checkSeed(part, 'seed part');
      // Mix both 32-bit halves so seeds above 2^32 stay distinct.
      h = hashString(String(Math.floor(part / 0x100000000)) + ':' + String(part >>> 0), h ^ 0x27d4eb2f);
    }
    h = splitmix32(h)[1];
  }
  return h >>> 0;
}

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spareNormal: number | undefined;

  /** A generator on `seed` (a non-negative safe integer). */
  constructor(seed: number) {
    checkSeed(seed);
    let state = (seed >>> 0) ^ Math.floor(seed / 0x100000000);
    let v: number;
    [state, v] = splitmix32(state);
    this.s0 = v;
    [state, v] = splitmix32(state);
    this.s1 = v;
    [state, v] = splitmix32(state);
    this.s2 = v;
    [, v] = splitmix32(state);
    this.s3 = v;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** The next raw 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A float in [0, 1) with 53 random bits. */
  next(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** A float in [lo, hi). */
  uniform(lo = 0, hi = 1): number {
    return lo + (hi - lo) * this.next();
  }

  /** An integer in [0, n). */
  int(n: number): number {
    if (!Number.isSafeInteger(n) || n <= 0) throw new ArgumentError('VLA_ARGUMENT', `Rng.int: n must be a positive integer, got ${n}`);
    return Math.min(n - 1, Math.floor(this.next() * n));
  }

  /** A Gaussian draw (Box-Muller, the spare value is kept for the next call). */
  normal(mean = 0, std = 1): number {
    if (this.spareNormal !== undefined) {
      const z = this.spareNormal;
      this.spareNormal = undefined;
      return mean + std * z;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return mean + std * r * Math.cos(2 * Math.PI * v);
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** A shuffled copy (Fisher-Yates). */
  shuffled<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
