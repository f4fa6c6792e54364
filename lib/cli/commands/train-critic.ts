/**
 * `vla-ttt train-critic`: trains the pairwise progress critic (EVOLVE-VLA) on episodes recorded
 * with task progress, then reports its quality on held-out episodes.
 *
 *   vla-ttt collect-demos --progress --tasks base,long --episodes 60 --seed 11 --out critic-data/expert
 *   vla-ttt collect-demos --progress --tasks base,long --episodes 60 --seed 12 --expert-noise 4 --out critic-data/noisy
 *   vla-ttt train-critic --data critic-data/expert,critic-data/noisy --out runs/critic.safetensors \
 *                        --eval-data critic-data/eval-base,critic-data/eval-heldout --json runs/critic.quality.json
 *
 *   vla-ttt critic-quality --critic runs/critic.safetensors --data critic-data/eval-heldout
 *
 * The quality report (evolve/critic-quality.ts), per task: pair error, value-order correlation
 * on successful episodes (beside the ground-truth ceiling) and the done/not-done F-score of the
 * accumulative estimator on a balanced set of successes and failures (false positives are reward
 * hacking). Tasks absent from the training data are marked "unseen".
 */
import { writeFileSync } from 'node:fs';

import type { Command } from 'commander';
import { z } from 'zod';

import { loadCriticEpisodes, type CriticEpisode } from '../../evolve/critic-data.js';
import { criticQuality, TABLETOP_PROGRESS_OPTIONS, type CriticQualityReport } from '../../evolve/critic-quality.js';
import { trainCritic } from '../../evolve/critic-trainer.js';
import { ProgressCritic } from '../../evolve/progress-critic.js';
import { benchmarkTokenizer } from '../../tabletop/vocabulary.js';
import { intOption, numberOption, parseOptions, type CliContext } from '../context.js';
import { addDeviceOption, deviceField, resolveCpuDevice } from '../device.js';
import { addEstimatorOptions, estimatorOptionFields } from './estimator-options.js';

const splitList = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);

const QualityOptions = estimatorOptionFields;

const TrainCriticOptions = z.object({
  data: z.string().min(1),
  out: z.string().min(1),
  preset: z.enum(['critic-tiny', 'critic-small']),
  patchSize: intOption(1).optional(),
  steps: intOption(1),
  batch: intOption(1),
  lr: numberOption(0, 1),
  weightDecay: numberOption(0, 10),
  seed: intOption(0),
  maxGap: intOption(1),
  reversed: numberOption(0, 1),
  fromStart: numberOption(0, 1),
  checkpointEvery: intOption(1),
  resume: z.boolean().optional(),
  evalData: z.string().min(1).optional(),
  json: z.string().min(1).optional(),
  device: deviceField,
  ...QualityOptions,
});

const CriticQualityOptions = z.object({ critic: z.string().min(1), data: z.string().min(1), seed: intOption(0), json: z.string().min(1).optional(), device: deviceField, ...QualityOptions });

/** The per-task table of a quality report. */
export function formatCriticQuality(r: CriticQualityReport, seenTasks: ReadonlySet<string> | null): string {
  const names = Object.keys(r.tasks);
  const w = Math.max(4, ...names.map((n) => n.length));
  const f = (x: number | null, d = 3) => (x === null ? '  -  ' : x.toFixed(d));
  const lines = [`${'task'.padEnd(w)}  episodes  succ  pair-MAE   VOC    (oracle)  balanced  F1     precision  recall  hacked`];
  for (const n of names) {
    const t = r.tasks[n]!;
    const unseen = seenTasks && !seenTasks.has(n) ? '  (unseen)' : '';
    lines.push(
      `${n.padEnd(w)}  ${String(t.episodes).padStart(8)}  ${String(t.successes).padStart(4)}  ${t.pairMae.toFixed(2).padStart(8)}  ${f(t.voc)}  (${f(t.vocOracle)})   ${String(t.balanced).padStart(8)}  ${f(t.f1)}  ${f(t.precision)}      ${f(t.recall)}   ${t.done.falsePositive}${unseen}`,
    );
  }
  lines.push(
    `mean: pair MAE ${r.mean.pairMae.toFixed(2)}, VOC ${f(r.mean.voc)} (ground truth ${f(r.mean.vocOracle)}), done F1 ${f(r.mean.f1)}; ` +
      `estimator dm ${r.estimator.milestoneEvery}, dcheck ${r.estimator.checkEvery}, tau ${r.estimator.tau}; ${r.criticCalls} critic calls`,
  );
  return lines.join('\n') + '\n';
}

async function qualityOf(critic: ProgressCritic, episodes: CriticEpisode[], o: { seed: number; milestoneEvery: number; checkEvery: number; tau: number }): Promise<CriticQualityReport> {
  return criticQuality((pairs) => critic.scoreAsync(pairs), episodes, {
    seed: o.seed,
    estimator: { ...TABLETOP_PROGRESS_OPTIONS, milestoneEvery: o.milestoneEvery, checkEvery: o.checkEvery, tau: o.tau },
  });
}

export function registerTrainCritic(program: Command, ctx: CliContext): Command {
  const cmd = program
    .command('train-critic')
    .description('train the pairwise progress critic (EVOLVE-VLA) on episodes recorded with --progress, then report its quality')
    .requiredOption('--data <dirs>', 'comma-separated dataset folders recorded with `collect-demos --progress`')
    .requiredOption('--out <file>', 'critic checkpoint to write (.safetensors)')
    .option('--preset <name>', 'critic size: critic-tiny, critic-small', 'critic-small')
    .option('--patch-size <n>', "override the preset's patch size (16 on 64px frames: 3x fewer tokens, about 3x faster)")
    .option('--steps <n>', 'training steps', '3000')
    .option('--batch <n>', 'pairs per step', '64')
    .option('--lr <x>', 'peak learning rate (AdamW; warmup then cosine decay)', '1e-3')
    .option('--weight-decay <x>', 'AdamW weight decay', '0.01')
    .option('--seed <n>', 'seed of the weights and of the pairs', '0')
    .option('--max-gap <n>', 'largest step gap between the two frames of a pair', '24')
    .option('--reversed <p>', 'fraction of pairs with the later frame first (negative labels)', '0.25')
    .option('--from-start <p>', 'fraction of forward pairs anchored at the first frame', '0.2')
    .option('--checkpoint-every <n>', 'steps between checkpoints', '500')
    .option('--resume', 'continue from OUT and OUT.optimizer.bin')
    .option('--eval-data <dirs>', 'held-out dataset folders for the quality report')
    .option('--json <file>', 'write the training summary and quality report as JSON');
  return addDeviceOption(addEstimatorOptions(cmd))
    .addHelpText('after', '\nExample:\n  vla-ttt train-critic --data critic-data/noisy --out runs/critic.safetensors --eval-data critic-data/eval --json runs/critic.json')
    .action(async (raw: unknown) => {
      const o = parseOptions(TrainCriticOptions, raw);
      const device = resolveCpuDevice(o.device, 'vla-ttt train-critic', 'the progress critic has no device path');
      const dirs = splitList(o.data);
      const episodes = await loadCriticEpisodes(dirs);
      const seen = new Set(episodes.map((e) => e.task));
      ctx.io.stderr(`train-critic: ${episodes.length} episodes (${episodes.filter((e) => e.success).length} successful) of ${seen.size} task(s) from ${dirs.join(', ')}\n`);
      const critic = o.resume ? ProgressCritic.load(o.out) : ProgressCritic.create({ preset: o.preset, vocabulary: benchmarkTokenizer().vocabulary, seed: o.seed, ...(o.patchSize ? { config: { patch_size: o.patchSize } } : {}) });
      let lastLine = 0;
      const result = await trainCritic({
        critic,
        episodes,
        out: o.out,
        steps: o.steps,
        batch: o.batch,
        lr: o.lr,
        weightDecay: o.weightDecay,
        seed: o.seed,
        sampling: { maxGap: o.maxGap, reversed: o.reversed, fromStart: o.fromStart },
        checkpointEvery: o.checkpointEvery,
        resume: o.resume === true,
        metadata: { data: dirs.join(',') },
        onProgress: (p) => {
          if (p.step === p.steps || performance.now() - lastLine > 10_000) {
            lastLine = performance.now();
            ctx.io.stderr(`train-critic: step ${p.step}/${p.steps} loss ${p.loss.toFixed(4)} lr ${p.lr.toExponential(2)} ${p.pairsPerSecond.toFixed(0)} pairs/s\n`);
          }
        },
      });
      ctx.io.stdout(`trained ${o.out}: ${result.steps} steps${result.resumedFrom ? ` (resumed at ${result.resumedFrom})` : ''} in ${result.seconds.toFixed(0)} s, final loss ${result.finalLoss.toFixed(4)} (MSE on c / 100); loss curve ${o.out}.loss.svg\n`);
      let quality: CriticQualityReport | null = null;
      if (o.evalData) {
        const evalEpisodes = await loadCriticEpisodes(splitList(o.evalData));
        quality = await qualityOf(critic, evalEpisodes, o);
        ctx.io.stdout(formatCriticQuality(quality, seen));
      }
      if (o.json) {
        const { json: _json, ...settings } = o;
        writeFileSync(o.json, JSON.stringify({ checkpoint: o.out, ...result, lossCurve: undefined, trainTasks: [...seen].sort(), episodes: episodes.length, settings: { ...settings, device }, quality }, null, 1) + '\n');
      }
    });
}

export function registerCriticQuality(program: Command, ctx: CliContext): Command {
  const cmd = program
    .command('critic-quality')
    .description("report a progress critic's quality on recorded episodes (pair error, value-order correlation, done F-score)")
    .requiredOption('--critic <file>', 'critic checkpoint (vla-ttt train-critic)')
    .requiredOption('--data <dirs>', 'comma-separated dataset folders recorded with `collect-demos --progress`')
    .option('--seed <n>', 'seed of the sampled pairs and the balanced set', '0')
    .option('--json <file>', 'write the report as JSON');
  return addDeviceOption(addEstimatorOptions(cmd))
    .addHelpText('after', '\nExample:\n  vla-ttt critic-quality --critic models/tabletop-critic.safetensors --data critic-data/eval --json quality.json')
    .action(async (raw: unknown) => {
      const o = parseOptions(CriticQualityOptions, raw);
      const device = resolveCpuDevice(o.device, 'vla-ttt critic-quality', 'the progress critic has no device path');
      const critic = ProgressCritic.load(o.critic);
      const episodes = await loadCriticEpisodes(splitList(o.data));
      const training = critic.metadata['training'];
      const seen = training ? new Set<string>((JSON.parse(training) as { tasks?: string[] }).tasks ?? []) : null;
      const report = await qualityOf(critic, episodes, o);
      ctx.io.stdout(formatCriticQuality(report, seen));
      if (o.json) writeFileSync(o.json, JSON.stringify({ critic: o.critic, device, ...report }, null, 1) + '\n');
    });
}
