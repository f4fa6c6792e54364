/**
 * `vla-ttt export`: rewrites a checkpoint for shipping, by default with float16 weights (half
 * the size; `load` widens them back to float32). Config, vocabulary, normalization and training
 * facts (the metadata) are kept as they are.
 *
 *   vla-ttt export --checkpoint runs/tabletop-small.safetensors --out models/tabletop-small.safetensors
 *
 * Training keeps writing float32 checkpoints: resuming needs the exact weights.
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';

import type { Command } from 'commander';
import { z } from 'zod';

import { ArgumentError } from '../../errors.js';
import { ProgressCritic } from '../../evolve/progress-critic.js';
import { carriedMetadata } from '../../model/model-io.js';
import { Policy } from '../../model/policy.js';
import { parseOptions, type CliContext } from '../context.js';

const ExportOptions = z.object({
  checkpoint: z.string().min(1),
  out: z.string().min(1),
  weights: z.enum(['float32', 'float16']),
});

/** Metadata keys the checkpoint writer sets itself (native/model/checkpoint.h, and the vocabulary). */

export function registerExport(program: Command, ctx: CliContext): Command {
  return program
    .command('export')
    .description('rewrite a checkpoint (policy or progress critic) with float16 (or float32) weights, keeping its config, vocabulary and metadata')
    .requiredOption('--checkpoint <file>', 'the checkpoint to read (vla-ttt train)')
    .requiredOption('--out <file>', 'the checkpoint to write (atomically)')
    .option('--weights <dtype>', 'float16 or float32', 'float16')
    .addHelpText('after', '\nExample:\n  vla-ttt export --checkpoint runs/mine.safetensors --out mine.safetensors')
    .action((raw: unknown) => {
      const o = parseOptions(ExportOptions, raw);
      if (resolve(o.checkpoint) === resolve(o.out)) throw new ArgumentError('VLA_ARGUMENT', '--out must differ from --checkpoint (the source is kept)');
      // Policies and progress critics share the checkpoint format; Policy.load names a critic.
      let model: Policy | ProgressCritic;
      try {
        model = Policy.load(o.checkpoint);
      } catch (e) {
        if (!(e instanceof ArgumentError && e.message.includes('this is a progress critic'))) throw e;
        model = ProgressCritic.load(o.checkpoint);
      }
      model.save(o.out, carriedMetadata(model.metadata), { weights: o.weights });
      const before = statSync(o.checkpoint).size;
      const after = statSync(o.out).size;
      ctx.io.stdout(`wrote ${o.out} (${o.weights} weights, ${(after / 2 ** 20).toFixed(2)} MiB; ${o.checkpoint} is ${(before / 2 ** 20).toFixed(2)} MiB)\n`);
    });
}
