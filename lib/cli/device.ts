/**
 * `--device auto|cpu|cuda`, shared by every command that runs a model (a policy or a progress
 * critic): the option, its zod field, and its resolution to the device the model's ops run on.
 *
 * The device path (docs/cuda.md) runs a float32 policy's act, latent-prompt step and training
 * step; so the commands whose model work is only acting and prompt steps (eval, sweep,
 * collect-demos --policy, adapt --method lpo offline, demo) run it on the device with
 * `--device cuda`, and the others (train, train-critic, critic-quality, evolve, adapt --method
 * evolve, adapt --online, divergence, bench) run on the CPU only:
 *
 *   auto  the CPU kernels: the device path has not run on a GPU yet (docs/cuda.md), so it is
 *         never chosen for the user
 *   cpu   the CPU kernels
 *   cuda  the device, where the build has the CUDA backend and a device is usable; otherwise
 *         refused with a one-line error saying why (the reason `vla-ttt info` prints), and by the
 *         CPU-only commands with one naming the command
 *
 * Commands record the resolved device in the JSON they write.
 */
import type { Command } from 'commander';
import { z } from 'zod';

import { ArgumentError } from '../errors.js';
import type { Device } from '../model/device.js';
import { cudaStatus, type CudaStatus } from '../system.js';

export type { Device } from '../model/device.js';

export const DEVICE_CHOICES = ['auto', 'cpu', 'cuda'] as const;
export type DeviceChoice = (typeof DEVICE_CHOICES)[number];

/** The zod field of --device (errors read "--device Invalid option: expected one of ..."). */
export const deviceField = z.enum(DEVICE_CHOICES);

/** Adds --device to a command (default auto). */
export function addDeviceOption(cmd: Command): Command {
  return cmd.option('--device <device>', 'where the model runs: auto (the CPU kernels), cpu, or cuda (the CUDA device where the build has the backend and one is usable; refused with the reason otherwise, and by the commands that run on the CPU only)', 'auto');
}

/** `status` without the fields a caller's fake may leave out (tests pass plain objects). */
type Status = Pick<CudaStatus, 'available' | 'deviceName' | 'reason'>;

/**
 * The device the model's ops run on for `choice`, or an ArgumentError naming why `cuda` cannot
 * be used. `status` defaults to the loaded addon's (tests pass others).
 */
export function resolveDevice(choice: DeviceChoice, status: Status = cudaStatus()): Device {
  if (choice !== 'cuda') return 'cpu';
  if (!status.available) throw new ArgumentError('VLA_ARGUMENT', `--device cuda: no usable CUDA device: ${status.reason}; use --device cpu or auto`);
  return 'cuda';
}

/**
 * resolveDevice for a command (or mode) whose model work runs on the CPU only: `cuda` is refused
 * with the reason there is no device or, where one is usable, naming `what` and why.
 */
export function resolveCpuDevice(choice: DeviceChoice, what: string, why: string, status: Status = cudaStatus()): 'cpu' {
  if (resolveDevice(choice, status) === 'cpu') return 'cpu';
  throw new ArgumentError(
    'VLA_ARGUMENT',
    `--device cuda: ${status.deviceName || 'a CUDA device'} is usable, but ${what} runs on the CPU only: ${why} (the device runs a policy's act, prompt step and training step); use --device cpu or auto`,
  );
}
