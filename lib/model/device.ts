/**
 * Where a policy's ops run: `'cpu'` (the native CPU kernels, every build) or `'cuda'` (the CUDA
 * backend: act, the latent-prompt step and the training step of a float32 policy; see
 * docs/cuda.md). A build without the backend, or a machine without a usable device, refuses
 * `'cuda'` with the reason cudaStatus() reports.
 *
 * @example
 * ```ts
 * import { Policy, cudaStatus } from 'vla-ttt';
 * const device = cudaStatus().available ? 'cuda' : 'cpu';
 * const policy = Policy.load('models/tabletop-small.safetensors', { device });
 * ```
 */
import { ArgumentError } from '../errors.js';

export const DEVICES = ['cpu', 'cuda'] as const;
export type Device = (typeof DEVICES)[number];

/** Checks a device given at run time (JavaScript callers, parsed options). */
export function checkDevice(device: unknown, where: string): asserts device is Device {
  if (!(DEVICES as readonly unknown[]).includes(device)) {
    throw new ArgumentError('VLA_ARGUMENT', `${where}: device must be 'cpu' or 'cuda', got ${typeof device === 'string' ? `'${device}'` : String(device)}`);
  }
}
