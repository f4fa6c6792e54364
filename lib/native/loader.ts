/**
 * The one place that loads the native addon.
 *
 * Order of attempts:
 *   1. `VLA_TTT_ADDON_PATH`, when set: a specific `.node` file (a debug or CUDA build, say).
 *   2. node-gyp-build's choice for this package: build/Release, build/Debug, then a prebuilt
 *      binary in prebuilds/<platform>-<arch>/.
 *   3. Every other of those candidates that exists, in case the first one is broken (a
 *      build against a library that is gone, say).
 * If none loads, the error lists every attempt with its reason, then what to do.
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { VlaError } from '../errors.js';
import type { NativeAddon } from './addon-types.js';

const require = createRequire(import.meta.url);

/** The package root: lib/native/ (sources) and dist/native/ (compiled) are both two levels down. */
export const packageRoot: string = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** One try at loading a binary. */
export interface LoadAttempt {
  /** What was tried: a path, or the resolver's name. */
  source: string;
  /** Why it failed. */
  error: string;
}

/** Thrown when no binary loads. `attempts` holds every try in order. */
export class AddonLoadError extends VlaError {
  readonly attempts: LoadAttempt[];
  constructor(attempts: LoadAttempt[]) {
    const lines = attempts.map((a, i) => `  ${i + 1}. ${a.source}\n     ${a.error.split('\n')[0]}`);
    super(
      'VLA_ADDON_LOAD',
      [
        `vla-ttt: could not load the native addon for ${process.platform}-${process.arch}, Node ${process.versions.node}. Tried:`,
        ...lines,
        'What to do:',
        '  - build it from source: `npm rebuild vla-ttt` (or `npx cmake-js compile` in the package folder);',
        '    this needs CMake >= 3.18 and a C++17 compiler (Debian/Ubuntu: `apt-get install cmake g++`);',
        '  - a build that links a library that is now missing (OpenBLAS, CUDA): rebuild, or build without it with',
        '    `VLA_TTT_BLAS=OFF VLA_TTT_CUDA=0 npm rebuild vla-ttt`;',
        '  - to use a binary built elsewhere, set VLA_TTT_ADDON_PATH=/path/to/vla_ttt.node.',
      ].join('\n'),
    );
    this.attempts = attempts;
  }
}

const requiredExports: (keyof NativeAddon)[] = ['runOp', 'runOpAsync', 'listOps', 'buildInfo', 'cpu', 'fillRandom', 'renderBatch', 'renderBatchAsync'];

function tryLoad(path: string): NativeAddon {
  const mod = require(path) as Partial<NativeAddon>;
  const missing = requiredExports.filter((k) => typeof mod[k] !== 'function');
  if (missing.length > 0) {
    throw new Error(`stale or foreign binary: it lacks ${missing.join(', ')}; rebuild with \`npm rebuild vla-ttt\``);
  }
  return mod as NativeAddon;
}

function candidatesOnDisk(root: string): string[] {
  const out: string[] = [];
  for (const dir of ['build/Release', 'build/Debug']) {
    const p = join(root, dir, 'vla_ttt.node');
    if (existsSync(p)) out.push(p);
  }
  const prebuildDir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  if (existsSync(prebuildDir)) {
    for (const f of readdirSync(prebuildDir)) if (f.endsWith('.node')) out.push(join(prebuildDir, f));
  }
  return out;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Loads the addon from `root` (the package root by default), or throws AddonLoadError. */
export function loadAddon(root: string = packageRoot): { addon: NativeAddon; path: string; attempts: LoadAttempt[] } {
  const attempts: LoadAttempt[] = [];
  const tried = new Set<string>();

  const explicit = process.env['VLA_TTT_ADDON_PATH'];
  if (explicit) {
    const p = resolve(explicit);
    tried.add(p);
    try {
      return { addon: tryLoad(p), path: p, attempts };
    } catch (e) {
      attempts.push({ source: `VLA_TTT_ADDON_PATH=${p}`, error: message(e) });
    }
  }

  let chosen: string | undefined;
  try {
    const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };
    chosen = nodeGypBuild.resolve(root);
  } catch (e) {
    attempts.push({ source: `node-gyp-build in ${root}`, error: message(e).trim() });
  }
  for (const p of [...(chosen ? [chosen] : []), ...candidatesOnDisk(root)]) {
    if (tried.has(p)) continue;
    tried.add(p);
    try {
      return { addon: tryLoad(p), path: p, attempts };
    } catch (e) {
      attempts.push({ source: p, error: message(e) });
    }
  }
  if (attempts.length === 0) attempts.push({ source: root, error: 'no binary found' });
  throw new AddonLoadError(attempts);
}

let cached: { addon: NativeAddon; path: string } | undefined;

/** The loaded addon (loaded on first use, then cached). */
export function addon(): NativeAddon {
  if (!cached) cached = loadAddon();
  return cached.addon;
}

/** The path of the loaded binary. */
export function addonPath(): string {
  addon();
  return cached!.path;
}
