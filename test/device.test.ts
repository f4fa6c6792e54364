// `device` on the Policy API with the addon the package loads (build/): the CPU by default, and
// `device: 'cuda'` refused with the build's CUDA status reason where no CUDA device is usable
// (every CPU build: CI's, and the development machine's). On a machine where one is usable, the
// device's act is checked against the CPU instead. The full device path runs on the emulator in
// test/device-emulated.test.ts.
import { describe, expect, it } from 'vitest';

import { ArgumentError, DEVICES, Policy, UnsupportedError, buildInfo, cudaStatus } from '../lib/index.js';

import { observations, policyTokenizer } from './helpers/policy-inputs.js';

const status = cudaStatus();

describe('Policy device', () => {
  it('is the CPU by default; to() moves in place and checks its argument', () => {
    expect(DEVICES).toEqual(['cpu', 'cuda']);
    const policy = Policy.create({ preset: 'tiny', tokenizer: policyTokenizer(), seed: 1 });
    expect(policy.device).toBe('cpu');
    expect(policy.to('cpu')).toBe(policy);
    expect(policy.device).toBe('cpu');
    expect(() => policy.to('gpu' as 'cuda')).toThrow(ArgumentError);
    expect(() => policy.to('gpu' as 'cuda')).toThrow(/^Policy\.to: device must be 'cpu' or 'cuda', got 'gpu'$/);
    expect(() => Policy.create({ preset: 'tiny', tokenizer: policyTokenizer(), device: 'tpu' as 'cpu' })).toThrow(/^Policy\.create: device must be 'cpu' or 'cuda'/);
  });

  it.skipIf(status.available)("refuses 'cuda' with the reason cudaStatus() gives, in create, load and to", () => {
    expect(status.backend).toBe(buildInfo().hasCuda ? 'cuda' : 'none');
    expect(status.reason.length).toBeGreaterThan(0);
    const message = `device 'cuda' is not available: ${status.reason}`;
    const policy = Policy.create({ preset: 'tiny', tokenizer: policyTokenizer(), seed: 1 });
    for (const move of [() => policy.to('cuda'), () => Policy.create({ preset: 'tiny', tokenizer: policyTokenizer(), device: 'cuda' })]) {
      let error: unknown;
      try {
        move();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(UnsupportedError);
      expect((error as UnsupportedError).code).toBe('VLA_UNSUPPORTED');
      expect((error as Error).message).toBe(message);
    }
    // A refused move leaves the policy where it was, working.
    expect(policy.device).toBe('cpu');
    const batch = policy.pack(observations(policy, 1, 3));
    expect(policy.act(batch).data.every(Number.isFinite)).toBe(true);
  });

  it.runIf(status.available && status.backend === 'cuda')('acts on the CUDA device as the CPU does (within 1e-4)', () => {
    const cpu = Policy.create({ preset: 'tiny', tokenizer: policyTokenizer(), seed: 2 });
    const dev = cpu.clone().to('cuda');
    const batch = cpu.pack(observations(cpu, 3, 5));
    const a = dev.act(batch, { seed: 4 }).data;
    const b = cpu.act(batch, { seed: 4 }).data;
    const scale = Math.max(1e-3, ...Array.from(b, Math.abs));
    const worst = Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i]!)));
    expect(worst / scale).toBeLessThan(1e-4);
  });
});
