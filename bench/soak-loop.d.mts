// Types of bench/soak-loop.mjs for test/soak.test.ts.
import type * as vla from '../lib/index.js';

export interface SoakSample {
  iteration: number;
  rssMiB: number;
  externalMiB: number;
  reportedExternalMiB: number;
  arrayBuffersMiB: number;
  heapUsedMiB: number;
}

export interface SoakOptions {
  iterations?: number;
  sampleEvery?: number;
  preset?: vla.PresetName;
  actBatch?: number;
  promptBatch?: number;
  bufferCapacity?: number;
  warmupFraction?: number;
  boundMiB?: number;
  leakBytesPerIteration?: number;
  seed?: number;
  onSample?: (s: SoakSample) => void;
}

export interface SoakResult {
  iterations: number;
  seconds: number;
  preset: string;
  actBatch: number;
  promptBatch: number;
  sampleEvery: number;
  gcForced: boolean;
  leakBytesPerIteration: number;
  warmupIterations: number;
  boundMiB: number;
  startRssMiB: number;
  rssAfterWarmupMiB: number;
  endRssMiB: number;
  growthMiB: number;
  startExternalMiB: number;
  endExternalMiB: number;
  startReportedExternalMiB: number;
  reportedExternalAfterWarmupMiB: number;
  endReportedExternalMiB: number;
  reportedExternalGrowthMiB: number;
  verdict: 'flat' | 'growing';
  rss: SoakSample[];
  retainedBytes: number;
}

export function runSoak(library: typeof vla, options?: SoakOptions): Promise<SoakResult>;
