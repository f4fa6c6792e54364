/**
 * The accumulative progress estimator's settings as command-line options (train-critic,
 * critic-quality, evolve): dm, dcheck and tau, with the tabletop defaults.
 */
import type { Command } from 'commander';

import { TABLETOP_PROGRESS_OPTIONS } from '../../evolve/critic-quality.js';
import { intOption, numberOption } from '../context.js';

/** Zod fields of the options below. */
export const estimatorOptionFields = {
  milestoneEvery: intOption(2),
  checkEvery: intOption(1),
  tau: numberOption(0, 1),
};

export function addEstimatorOptions(cmd: Command): Command {
  return cmd
    .option('--milestone-every <n>', 'dm: steps between milestones of the progress estimator', String(TABLETOP_PROGRESS_OPTIONS.milestoneEvery))
    .option('--check-every <n>', 'dcheck: steps between critic checks', String(TABLETOP_PROGRESS_OPTIONS.checkEvery))
    .option('--tau <x>', 'done threshold on v / 100', String(TABLETOP_PROGRESS_OPTIONS.tau));
}
