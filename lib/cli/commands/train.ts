/**
 * `vla-ttt train`: supervised pretraining on demonstration datasets (lib/train/trainer.ts).
 *
 *   vla-ttt train --data demos/base --out models/tabletop-small.safetensors --steps 20000 \
 *                 --batch 64 --lr 3e-4 --seed 0 --variant sglp
 *
 * Writes the checkpoint (atomically), its optimizer state for --resume, and the loss curve
 * (OUT.loss.svg, OUT.loss.json). A progress bar shows the step, loss and speed.
 */
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';

import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { z } from 'zod';

import { cpuInfo, gemmBackend } from '../../system.js';
import { train, type TrainResult, type Variant } from '../../train/trainer.js';
import { intOption, numberOption, parseOptions, type CliContext } from '../context.js';
import { addDeviceOption, deviceField, resolveCpuDevice } from '../device.js';


const TrainOptionsSchema = z.object({
  data: z.string().min(1),
  out: z.string().min(1),
  preset: z.enum(['tiny', 'small', 'base', 'pi0']),
  variant: z.enum(['sglp', 'nodrop', 'baseline']),
  steps: intOption(1),
  batch: intOption(1),
  lr: numberOption(0, 1),
  warmup: intOption(0).optional(),
  weightDecay: numberOption(0, 10),
  stateWeight: numberOption(0, 1000),
  dropP1: numberOption(0, 1),
  dropP2: numberOption(0, 1),
  dropSwitch: numberOption(0, 1),
  augment: z.boolean(),
  actionState: z.boolean(),
  obsAttendsPrompt: z.boolean().optional(),
  init: z.string().min(1).optional(),
  seed: intOption(0),
  checkpointEvery: intOption(1),
  maxEpisodesPerTask: intOption(1).optional(),
  resume: z.boolean().optional(),
  json: z.string().min(1).optional(),
  progress: z.boolean(),
  device: deviceField,
});

export function registerTrain(program: Command, ctx: CliContext): Command {
  const cmd = program
    .command('train')
    .description('pretrain a policy on demonstrations (joint action + state-grounding loss, latent prompts)')
    .requiredOption('--data <dirs>', 'comma-separated dataset folders (vla-ttt collect-demos)')
    .requiredOption('--out <file>', 'checkpoint to write (.safetensors)')
    .option('--preset <name>', 'model size: tiny, small, base, pi0', 'small')
    .option('--variant <name>', 'sglp (state-grounded latent prompt), nodrop (no prompt-edge drop), baseline (no prompt, no state expert)', 'sglp')
    .option('--steps <n>', 'training steps', '10000')
    .option('--batch <n>', 'batch size', '64')
    .option('--lr <x>', 'peak learning rate (AdamW; warmup then cosine decay)', '3e-4')
    .option('--warmup <n>', 'warmup steps (default: min(200, steps / 10))')
    .option('--weight-decay <x>', 'AdamW weight decay', '0.01')
    .option('--state-weight <x>', 'lambda: weight of the state-grounding loss', '1')
    .option('--drop-p1 <p>', 'probability of dropping the prompt -> action edge in the first stage', '0.5')
    .option('--drop-p2 <p>', 'the same in the second stage', '0.1')
    .option('--drop-switch <f>', 'fraction of the steps after which the second stage starts', '0.5')
    .option('--no-augment', 'no random shifts or color jitter')
    .option('--obs-attends-prompt', 'observation rows also attend the latent prompt, so it can steer perception (its gradient then runs through them)')
    .option('--init <checkpoint>', 'start from these weights (fine-tune); the switches above may change, the shapes may not')
    .option('--no-action-state', "the action expert gets no robot state: it must find the gripper in the image (and in the state-grounded prompt)")
    .option('--seed <n>', 'seed of the weights, batches and flow draws', '0')
    .option('--checkpoint-every <n>', 'steps between checkpoints', '500')
    .option('--max-episodes-per-task <n>', 'use at most this many demonstrations per task')
    .option('--resume', 'continue from OUT and OUT.optimizer.bin')
    .option('--json <file>', 'also write a summary as JSON')
    .option('--no-progress', 'no progress bar');
  return addDeviceOption(cmd)
    .addHelpText('after', '\nExample:\n  vla-ttt train --data demos/base --out runs/mine.safetensors --steps 5000 --lr 1e-3 --json runs/mine.train.json')
    .action(async (raw: unknown) => {
      const o = parseOptions(TrainOptionsSchema, raw);
      const device = resolveCpuDevice(o.device, 'vla-ttt train', 'the trainer is not wired to the device path yet');
      const bar = o.progress && process.stderr.isTTY ? new SingleBar({ format: 'train {bar} {value}/{total} | loss {loss} | {speed} samples/s | {eta_formatted} left', hideCursor: true }) : null;
      bar?.start(o.steps, 0, { loss: '-', speed: '-' });
      let lastLine = 0;
      const result: TrainResult = await train({
        data: o.data.split(',').map((s) => s.trim()).filter(Boolean),
        out: o.out,
        preset: o.preset,
        ...(o.actionState && !o.obsAttendsPrompt
          ? {}
          : { config: { ...(o.actionState ? {} : { action_sees_state: false }), ...(o.obsAttendsPrompt ? { obs_attends_prompt: true } : {}) } }),
        ...(o.init ? { init: o.init } : {}),
        variant: o.variant as Variant,
        steps: o.steps,
        batch: o.batch,
        lr: o.lr,
        ...(o.warmup !== undefined ? { warmupSteps: o.warmup } : {}),
        weightDecay: o.weightDecay,
        stateWeight: o.stateWeight,
        dropP1: o.dropP1,
        dropP2: o.dropP2,
        dropSwitch: o.dropSwitch,
        augment: o.augment,
        seed: o.seed,
        checkpointEvery: o.checkpointEvery,
        ...(o.maxEpisodesPerTask !== undefined ? { maxEpisodesPerTask: o.maxEpisodesPerTask } : {}),
        resume: o.resume === true,
        onProgress: (p) => {
          if (bar) {
            bar.update(p.step, { loss: p.loss.toFixed(4), speed: p.samplesPerSecond.toFixed(0) });
          } else if (p.step === p.steps || performance.now() - lastLine > 10_000) {
            lastLine = performance.now();
            ctx.io.stderr(`train: step ${p.step}/${p.steps} loss ${p.loss.toFixed(4)} (action ${p.actionLoss.toFixed(4)}, state ${p.stateLoss.toFixed(4)}) lr ${p.lr.toExponential(2)} ${p.samplesPerSecond.toFixed(0)} samples/s\n`);
          }
        },
      });
      bar?.stop();
      ctx.io.stdout(
        `trained ${result.checkpoint}: ${result.steps} steps${result.resumedFrom ? ` (resumed at ${result.resumedFrom})` : ''} on ${result.episodes} episodes (${result.samples} samples) in ${result.seconds.toFixed(0)} s, final loss ${result.finalLoss.toFixed(4)}; loss curve ${result.checkpoint}.loss.svg\n`,
      );
      if (o.json) {
        // The settings and the machine beside the result, so a model card can say how it was made.
        const { progress: _progress, json: _json, ...settings } = o;
        const cpu = cpuInfo();
        const machine = { cpu: cpus()[0]?.model.trim() ?? 'unknown', threads: cpu.threads, isa: cpu.activeIsa, gemm: gemmBackend() };
        writeFileSync(o.json, JSON.stringify({ ...result, lossCurve: undefined, samplesPerSecond: (result.steps * o.batch) / Math.max(result.seconds, 1e-9), settings: { ...settings, device }, machine }, null, 2) + '\n');
      }
    });
}
