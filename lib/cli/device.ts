/**
 * `--device auto|cpu|cuda`, shared by every command that runs a model (a policy or a progress
 * critic): the option, its zod field, and its resolution to the device the model's ops run on.
 *
 * The native layer has no runtime device switch: every policy and critic op runs on the CPU
 * kernels (own AVX2/AVX-512 GEMM or OpenBLAS), in CPU and CUDA builds alike; a CUDA build adds
 * CUDA twins of the activation kernels, checked against the CPU by the native tests, and nothing
 * the model calls. So:
 *
 *   auto  the default: what the build runs the model on, the CPU
 *   cpu   the CPU kernels
 *   cuda  refused with a one-line error saying why: that the build has no usable CUDA device
 *         (the reason `vla-ttt info` prints), or, where one is usable, that the model's ops have
 *         no CUDA kernels to run on it yet
 *
 * Commands record the resolved device ('cpu') in the JSON they write.
 */
import type { Command } from 'commander';
import { z } from 'zod';

import { ArgumentError } from '../errors.js';
import { cudaStatus, type CudaStatus } from '../system.js';

export const DEVICE_CHOICES = ['auto', 'cpu', 'cuda'] as const;
export type DeviceChoice = (typeof DEVICE_CHOICES)[number];

/** Where a model's ops run. Only 'cpu' today (see the module comment). */
export type Device = 'cpu' | 'cuda';

/** The zod field of --device (errors read "--device Invalid option: expected one of ..."). */
export const deviceField = z.enum(DEVICE_CHOICES);

/** Adds --device to a command (default auto). */
export function addDeviceOption(cmd: Command): Command {
  return cmd.option('--device <device>', 'where the model runs: auto (the build\'s choice: the CPU kernels), cpu, or cuda (refused with the reason: no model op has CUDA kernels in this build)', 'auto');
}

/**
 * The device the model's ops run on for `choice`, or an ArgumentError naming why `cuda` cannot
 * be used. `status` defaults to the loaded addon's (tests pass others).
 */
export function resolveDevice(choice: DeviceChoice, status: CudaStatus = cudaStatus()): Device {
  if (choice !== 'cuda') return 'cpu';
  if (!status.available) throw new ArgumentError('VLA_ARGUMENT', `--device cuda: no usable CUDA device: ${status.reason}; use --device cpu or auto`);
  throw new ArgumentError(
    'VLA_ARGUMENT',
    `--device cuda: ${status.deviceName || 'a CUDA device'} is usable, but the policy and critic ops have no CUDA kernels in this build (its CUDA kernels are the activation twins the native tests check); use --device cpu or auto`,
  );
}
