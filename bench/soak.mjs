// Soak: a policy acts and takes prompt steps for thousands of iterations (bench/soak-loop.mjs
// says what each iteration does) while the process's memory is sampled; RSS must stay flat after
// the warm-up, and so must the native memory the policies report to V8 (parameters, optimizer
// state, workspaces; reportedExternalMemory()). process.memoryUsage().external is recorded too,
// but on Node 20 it counts ArrayBuffer backing stores only, not memory reported that way.
//
//   npm run compile && node --expose-gc bench/soak.mjs [--iterations N] [--sample-every K]
//        [--preset tiny|small] [--bound MiB] [--out FILE]
//
// (`npm run bench:soak` does both.)
//
// Writes bench/results/reliability/soak.json: { iterations, seconds, rss: [{ iteration, rssMiB,
// externalMiB, ... }], startRssMiB, endRssMiB, growthMiB, verdict, ... }. Without --expose-gc the
// samples include garbage not yet collected (the run says so in `gcForced`).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as vla from '../dist/index.js';
import { runSoak } from './soak-loop.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const positiveInteger = (name, fallback) => {
  const v = Number(arg(name, String(fallback)));
  if (!Number.isSafeInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${arg(name)}`);
  return v;
};
// Defaults: the committed run (tiny: about 2 ms an iteration here, so 20000 take well under a
// minute; the small preset takes about 150 ms an iteration, see docs/reliability.md).
const iterations = positiveInteger('--iterations', 20000);
const sampleEvery = positiveInteger('--sample-every', 100);
const preset = arg('--preset', 'tiny');
const boundMiB = Number(arg('--bound', '24'));
const out = arg('--out', join(root, 'bench', 'results', 'reliability', 'soak.json'));

if (typeof globalThis.gc !== 'function') console.warn('soak: run with node --expose-gc for samples after a full collection');
console.log(`soak: ${iterations} iterations of the ${preset} policy, memory every ${sampleEvery}`);
const result = await runSoak(vla, {
  iterations,
  sampleEvery,
  preset,
  boundMiB,
  onSample: (s) => {
    if (s.iteration % (sampleEvery * 10) === 0 || s.iteration === iterations) {
      console.log(`  ${String(s.iteration).padStart(6)}  rss ${s.rssMiB.toFixed(1)} MiB  native (reported) ${s.reportedExternalMiB.toFixed(2)} MiB  external ${s.externalMiB.toFixed(2)} MiB  heap ${s.heapUsedMiB.toFixed(1)} MiB`);
    }
  },
});
// glibc malloc settings change how much freed memory RSS keeps; record them when set.
const mallocEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('MALLOC_')));
const report = { ...result, node: process.version, mallocEnv, date: new Date().toISOString() };
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
console.log(
  `soak: ${result.seconds.toFixed(1)} s; RSS ${result.startRssMiB.toFixed(1)} -> ${result.rssAfterWarmupMiB.toFixed(1)} (after warm-up) -> ${result.endRssMiB.toFixed(1)} MiB, ` +
    `growth ${result.growthMiB.toFixed(2)} MiB (bound ${boundMiB}): ${result.verdict}; native (reported) ${result.startReportedExternalMiB.toFixed(2)} -> ${result.endReportedExternalMiB.toFixed(2)} MiB; ` +
    `external ${result.startExternalMiB.toFixed(2)} -> ${result.endExternalMiB.toFixed(2)} MiB`,
);
console.log(`wrote ${out}`);
if (result.verdict !== 'flat') process.exitCode = 1;
