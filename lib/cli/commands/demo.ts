/**
 * `vla-ttt demo` (and `npm start`): the main job on the shipped checkpoint, end to end. Evaluate
 * models/tabletop-small.safetensors in a shifted world, fill a buffer with its own trajectories
 * there, optimize its latent prompt (lib/adapt/offline-lpo.ts), evaluate the same episodes again,
 * print a short summary, and write a report folder:
 *
 *   report.html            one self-contained page (lib/report/demo-report.ts)
 *   result.json, before.json, after.json, prompt.json, loss.svg   as `vla-ttt adapt` writes them
 *   filmstrip-before.png, filmstrip-after.png   one episode with the frozen and the adapted prompt
 *
 *   vla-ttt demo                    # full settings, shift 'camera', into runs/demo-camera
 *   vla-ttt demo --quick            # a few minutes on a 2-core CPU
 *   vla-ttt demo --shift lighting --episodes 20 --steps 100 --out runs/my-demo --json -
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';

import type { Command } from 'commander';
import { z } from 'zod';

import { runOfflineLpo, summarizeLpoResult, type OfflineLpoResult } from '../../adapt/offline-lpo.js';
import { describeMachine, machineFacts } from '../../bench/machine.js';
import { ArgumentError } from '../../errors.js';
import { packageRoot } from '../../native/loader.js';
import { tileImages } from '../../render/image-grid.js';
import { encodePng } from '../../render/png.js';
import { demoReportHtml, demoVerdict, pickShowcaseEpisode, type DemoFilmstrip } from '../../report/demo-report.js';
import { writeFileAtomic } from '../../tabletop/dataset.js';
import type { EpisodeRecord } from '../../tabletop/eval.js';
import { policyRollout } from '../../tabletop/pictures.js';
import { loadController } from '../../tabletop/policy-controller.js';
import { defaultWorkers } from '../../tabletop/rollout.js';
import { parseShift } from '../../tabletop/shifts.js';
import { parseTaskList } from '../../tabletop/tasks.js';
import { intOption, numberOption, parseOptions, writeOutput, type CliContext } from '../context.js';
import { addDeviceOption, deviceField, resolveDevice, type Device } from '../device.js';
import { writeLpoOutputs } from './adapt.js';

/** The checkpoint the package ships, found from the package, not from the working directory. */
export const SHIPPED_CHECKPOINT = join(packageRoot, 'models', 'tabletop-small.safetensors');

interface DemoSettings {
  tasks: string;
  episodes: number;
  bufferTrajectories: number;
  steps: number;
  batch: number;
}

/**
 * The two settings. quick: the two tasks the frozen policy fails least under 'camera', few
 * episodes; it shows the whole pipeline but the test has little power. full: every base task,
 * enough episodes for intervals of about +-7 points per task.
 */
export const DEMO_PRESETS: Record<'quick' | 'full', DemoSettings & { about: string }> = {
  quick: { tasks: 'carrot-on-plate,eggplant-in-basket', episodes: 12, bufferTrajectories: 24, steps: 60, batch: 32, about: 'about 2 min on a 2-core CPU shared with other jobs (measured: 128 and 136 s at load average 9 to 10)' },
  full: { tasks: 'base', episodes: 50, bufferTrajectories: 200, steps: 500, batch: 128, about: 'about 10 min at the stage rates of the runs in bench/results/lpo (not timed as a whole); longer on a loaded machine' },
};

function describeSettings(s: DemoSettings): string {
  const tasks = parseTaskList(s.tasks);
  return `${tasks.length} task${tasks.length === 1 ? '' : 's'} (${tasks.join(', ')}) x ${s.episodes} episodes, buffer ${s.bufferTrajectories} trajectories, ${s.steps} prompt steps of ${s.batch}`;
}

const DemoOptions = z.object({
  shift: z.string(),
  shiftSeed: intOption(0),
  quick: z.boolean().optional(),
  out: z.string().min(1).optional(),
  tasks: z.string().optional(),
  episodes: intOption(1).optional(),
  bufferTrajectories: intOption(1).optional(),
  steps: intOption(1).optional(),
  batch: intOption(1).optional(),
  lr: numberOption(1e-8, 0.999),
  seed: intOption(0),
  workers: intOption(1),
  envsPerWorker: intOption(1),
  json: z.string().min(1).optional(),
  device: deviceField,
});

/**
 * The report folder: created when missing; an earlier demo's folder (it has report.html) is
 * written over; any other non-empty folder is refused, so no one's files are overwritten.
 */
async function prepareDemoOut(dir: string): Promise<void> {
  const existing = await readdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return null;
    throw new ArgumentError('VLA_ARGUMENT', `--out '${dir}': ${e.message}`);
  });
  if (existing && existing.length > 0 && !existing.includes('report.html')) {
    throw new ArgumentError('VLA_ARGUMENT', `--out '${dir}' holds files that are not a demo report; choose a new folder`);
  }
  await mkdir(dir, { recursive: true });
}

/** Frames every this many control steps (and the last) in a filmstrip. */
const FILMSTRIP_EVERY = 6;

/**
 * Replays `episode` with the checkpoint, with its trained prompt ('before') or the run's adapted
 * prompt ('after'), in this thread with every frame kept, and draws the frames as a filmstrip. The
 * replay is the evaluated episode (same plan, noise and prompt); its outcome is checked against the
 * evaluation's (`recorded`) and any difference is written in the caption.
 */
async function episodeFilmstrip(
  r: OfflineLpoResult,
  episode: EpisodeRecord,
  which: 'before' | 'after',
  recorded: boolean,
  device: Device,
): Promise<DemoFilmstrip & { replayed: boolean }> {
  // On the evaluation's device, so the replay samples the chunks the evaluation did.
  const controller = loadController(r.checkpoint, { ...(r.settings.executeSteps !== null ? { executeSteps: r.settings.executeSteps } : {}), device });
  if (which === 'after') {
    const prompts = r.prompts[r.mode === 'joint' ? 'all' : episode.task] ?? {};
    for (const [embodiment, values] of Object.entries(prompts)) controller.policy.setPrompt(Number(embodiment), values);
  }
  const side = controller.policy.config.image_size;
  const rollout = await policyRollout({
    policy: controller.batchPolicy,
    task: episode.task,
    episode: episode.episodeIndex,
    seed: r.settings.seed,
    shift: r.shift,
    shiftSeed: r.shiftSeed,
    imageSize: { width: side, height: side },
  });
  const last = rollout.frames.length - 1;
  const steps = rollout.frames.map((_, t) => t).filter((t) => t % FILMSTRIP_EVERY === 0 || t === last);
  const replayed = rollout.outcome.success;
  const outcome = (s: boolean) => (s ? 'success' : 'failure');
  const label = which === 'before' ? 'before (frozen prompt)' : 'after (adapted prompt)';
  const mismatch = replayed === recorded ? '' : ` (the evaluation recorded ${outcome(recorded)} for this episode)`;
  const caption = `${label}: ${outcome(replayed)}${mismatch}; ${episode.task}#${episode.episodeIndex} (configuration ${episode.configuration}, seed ${episode.seed}) under ${r.shift}, every ${FILMSTRIP_EVERY} steps and the last`;
  const strip = tileImages(
    steps.map((t) => rollout.frames[t]!),
    { columns: steps.length, scale: 2, fontScale: 2, padding: 4, labels: steps.map((t) => `t=${t}`), title: `${label}: ${outcome(replayed)}` },
  );
  return { png: encodePng(strip.data, strip.width, strip.height), width: strip.width, height: strip.height, caption, replayed };
}

/** `label` then `text` folded at word boundaries to `width` columns, aligned under its start. */
function wrapHelp(label: string, text: string, width = 100): string {
  const indent = ' '.repeat(label.length);
  const lines: string[] = [];
  let line = label;
  for (const word of text.split(' ')) {
    if (line.length > indent.length && line.length + 1 + word.length > width) {
      lines.push(line);
      line = indent;
    }
    line += (line.length > indent.length ? ' ' : '') + word;
  }
  return [...lines, line].join('\n');
}

/** The command-line flag of an option key ('bufferTrajectories' -> '--buffer-trajectories'). */
function flagOf(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

function pctWithInterval(e: OfflineLpoResult['before'], task: string): string {
  const t = e.tasks[task];
  return t ? `${(100 * t.rate).toFixed(1)}% [${(100 * t.ci95[0]).toFixed(1)}, ${(100 * t.ci95[1]).toFixed(1)}]` : 'n/a';
}

export function registerDemo(program: Command, ctx: CliContext): Command {
  const cmd = program
    .command('demo')
    .description(
      'the main job (npm start): evaluate the shipped checkpoint in a shifted world, adapt its latent prompt, evaluate the same episodes again, and write an HTML report',
    )
    .option('--shift <preset>', 'the shifted world (a visual shift with a large drop by default)', 'camera')
    .option('--shift-seed <n>', 'seed of the shift realization', '0')
    .option('--quick', 'the quick settings (a few minutes; see below) instead of the full ones')
    .option('--out <dir>', 'report folder (default runs/demo-SHIFT; an earlier demo report there is replaced)')
    .option('--tasks <list>', 'comma-separated task names or suites (overrides the settings)')
    .option('--episodes <n>', 'evaluation episodes per task, before and after (overrides the settings)')
    .option('--buffer-trajectories <n>', 'trajectories the frozen policy collects in the shifted world (overrides the settings)')
    .option('--steps <n>', 'prompt optimization steps (overrides the settings)')
    .option('--batch <n>', 'transitions per optimization step (overrides the settings)')
    .option('--lr <x>', 'AdamW learning rate of the prompt', '1e-3')
    .option('--seed <n>', 'evaluation protocol seed (the buffer uses seed + 1)', '0')
    .option('--workers <n>', 'worker threads', String(defaultWorkers()))
    .option('--envs-per-worker <n>', 'environments per worker', '8')
    .option('--json <file>', "also write the result (result.json plus the demo's facts) to FILE ('-' for stdout instead of the summary)");
  return addDeviceOption(cmd)
    .addHelpText(
      'after',
      [
        '',
        'Settings (--tasks, --episodes, --buffer-trajectories, --steps and --batch override them):',
        wrapHelp('  default  ', `${describeSettings(DEMO_PRESETS.full)}; ${DEMO_PRESETS.full.about}`),
        wrapHelp('  --quick  ', `${describeSettings(DEMO_PRESETS.quick)}; ${DEMO_PRESETS.quick.about}`),
        '',
        'The report folder holds report.html (one self-contained page), result.json, before.json, after.json,',
        'prompt.json and loss.svg (as vla-ttt adapt writes them), filmstrip-before.png and filmstrip-after.png.',
        '',
        'Examples:',
        '  vla-ttt demo --quick',
        '  vla-ttt demo --shift lighting --out runs/my-demo --json -',
      ].join('\n'),
    )
    .action(async (raw: unknown) => {
      const started = performance.now();
      const date = new Date().toISOString();
      const o = parseOptions(DemoOptions, raw);
      const device = resolveDevice(o.device);
      // Everything that can be wrong with the options is reported before anything runs.
      const shift = parseShift(o.shift);
      const presetName = o.quick ? 'quick' : 'full';
      const preset = DEMO_PRESETS[presetName];
      const settings: DemoSettings = {
        tasks: o.tasks ?? preset.tasks,
        episodes: o.episodes ?? preset.episodes,
        bufferTrajectories: o.bufferTrajectories ?? preset.bufferTrajectories,
        steps: o.steps ?? preset.steps,
        batch: o.batch ?? preset.batch,
      };
      const tasks = parseTaskList(settings.tasks);
      const overridden = (['tasks', 'episodes', 'bufferTrajectories', 'steps', 'batch'] as const).filter((k) => o[k] !== undefined);
      const presetLabel = `${presetName} settings${overridden.length ? ` with ${overridden.map(flagOf).join(', ')} given` : ''}: ${describeSettings(settings)}, lr ${o.lr}`;
      if (!existsSync(SHIPPED_CHECKPOINT)) throw new ArgumentError('VLA_ARGUMENT', `the shipped checkpoint is missing: ${SHIPPED_CHECKPOINT}`);
      const out = o.out ?? join('runs', `demo-${o.shift.trim().replace(/[^A-Za-z0-9._-]+/g, '_')}`);
      await prepareDemoOut(out);
      // The machine in words, with the load when the demo started (timings depend on it).
      const machine = `${describeMachine(machineFacts())} at start`;
      const checkpoint = basename(SHIPPED_CHECKPOINT);
      const log = (line: string) => ctx.io.stderr(`demo: ${line}\n`);
      log(`${checkpoint} under '${shift.text}', ${presetLabel}`);

      let lastLine = 0;
      const r = await runOfflineLpo({
        checkpoint: SHIPPED_CHECKPOINT,
        device,
        shift: shift.text,
        shiftSeed: o.shiftSeed,
        tasks,
        episodesPerTask: settings.episodes,
        seed: o.seed,
        bufferTrajectories: settings.bufferTrajectories,
        bufferSeed: o.seed + 1,
        mode: 'joint',
        steps: settings.steps,
        batch: settings.batch,
        lr: o.lr,
        workers: o.workers,
        envsPerWorker: o.envsPerWorker,
        render: ctx.renderer ?? 'native',
        onStage: (_stage, detail) => log(`${detail} (${((performance.now() - started) / 1000).toFixed(0)} s)`),
        onProgress: (p) => {
          if (p.step === p.steps || performance.now() - lastLine > 10_000) {
            lastLine = performance.now();
            log(`step ${p.step}/${p.steps} state loss ${p.loss.toFixed(4)} (${p.seconds.toFixed(0)} s)`);
          }
        },
      });

      // One episode before and after, replayed in this thread with every frame kept.
      const filmStart = performance.now();
      const { episode, reason } = pickShowcaseEpisode(r.before.episodes, r.after.episodes);
      const afterRecord = r.after.episodes.find((e) => e.task === episode.task && e.episodeIndex === episode.episodeIndex && e.seed === episode.seed)!;
      log(`drawing ${episode.task}#${episode.episodeIndex} before and after (${reason})`);
      const before = await episodeFilmstrip(r, episode, 'before', episode.success, device);
      const after = await episodeFilmstrip(r, afterRecord, 'after', afterRecord.success, device);
      const filmSeconds = (performance.now() - filmStart) / 1000;

      await writeLpoOutputs(out, r, { policy: SHIPPED_CHECKPOINT, saveBuffer: false });
      await writeFileAtomic(join(out, 'filmstrip-before.png'), before.png);
      await writeFileAtomic(join(out, 'filmstrip-after.png'), after.png);
      const command = ['vla-ttt demo', `--shift ${o.shift}`, ...(o.quick ? ['--quick'] : []), ...overridden.map((k) => `${flagOf(k)} ${String(o[k])}`), ...(o.lr !== 1e-3 ? [`--lr ${o.lr}`] : []), ...(o.seed !== 0 ? [`--seed ${o.seed}`] : []), ...(o.shiftSeed !== 0 ? [`--shift-seed ${o.shiftSeed}`] : [])].join(' ');
      const wallSeconds = () => (performance.now() - started) / 1000;
      const summary = summarizeLpoResult(r);
      const html = demoReportHtml({
        result: summary,
        checkpoint,
        date,
        machine,
        preset: presetLabel,
        presets: (['quick', 'full'] as const).map((k) => ({ name: k === 'quick' ? '--quick' : 'default', description: `${describeSettings(DEMO_PRESETS[k])} (${DEMO_PRESETS[k].about})` })),
        command,
        filmstrips: { episode: `${episode.task}#${episode.episodeIndex}`, reason, before, after },
        wallSeconds: wallSeconds(),
        extraSeconds: { 'replay and draw the filmstrips': filmSeconds },
      });
      await writeFileAtomic(join(out, 'report.html'), html);
      const total = wallSeconds();

      const replayMismatch = [before, after].some((f, i) => f.replayed !== (i === 0 ? episode.success : afterRecord.success));
      if (o.json) {
        const json = JSON.stringify({ ...summary, demo: { settings: presetLabel, command, date, machine, device, report: join(out, 'report.html'), filmstripEpisode: { ...episode, reason, replayMatchesEvaluation: !replayMismatch }, wallSeconds: total, filmstripSeconds: filmSeconds } }, null, 1) + '\n';
        if (o.json === '-') {
          ctx.io.stdout(json);
          return;
        }
        await writeOutput('--json', o.json, json);
      }
      const f = r.comparison.overall;
      const w = Math.max(4, ...tasks.map((t) => t.length));
      const lines = [
        `vla-ttt demo: ${checkpoint} under '${r.shift}' (${presetLabel})`,
        `${'task'.padEnd(w)}  ${'before (95% CI)'.padEnd(22)}  after (95% CI)`,
        ...tasks.map((t) => `${t.padEnd(w)}  ${pctWithInterval(r.before, t).padEnd(22)}  ${pctWithInterval(r.after, t)}`),
        `${'mean'.padEnd(w)}  ${`${(100 * r.before.mean).toFixed(1)}%`.padEnd(22)}  ${(100 * r.after.mean).toFixed(1)}%`,
        `flips: ${f.failToSucc} fail->succ, ${f.succToFail} succ->fail, ${f.alwaysSucc} always succ, ${f.alwaysFail} always fail over ${f.total} paired episodes`,
        `verdict: ${demoVerdict(f)}`,
        `wall time: before ${r.seconds.before.toFixed(0)} s, buffer ${r.seconds.buffer.toFixed(0)} s, optimize ${r.seconds.optimize.toFixed(0)} s, after ${r.seconds.after.toFixed(0)} s, filmstrips ${filmSeconds.toFixed(0)} s; total ${total.toFixed(0)} s`,
        ...(replayMismatch ? ['warning: a filmstrip replay ended differently from its evaluation episode (its caption says so)'] : []),
        `report: ${join(out, 'report.html')} (and result.json, before.json, after.json, prompt.json, loss.svg, filmstrip-before.png, filmstrip-after.png)${o.json ? `; wrote ${o.json}` : ''}`,
      ];
      ctx.io.stdout(lines.join('\n') + '\n');
    });
}
