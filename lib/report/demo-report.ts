/**
 * The demo report (`vla-ttt demo`): one self-contained HTML page (inline CSS, inline SVG charts,
 * PNG filmstrips as data: URIs; no script, no external request) from an offline LPO run's
 * summary: success per task before and after with 95% intervals, the flip table with the paired
 * test, the loss curve, one episode before and after, settings, timings, and a verdict computed
 * from the numbers.
 *
 * Everything here is pure (data in, string out), so it is tested without running anything.
 *
 * @example
 * ```ts
 * const html = demoReportHtml({ result: summarizeLpoResult(run), checkpoint: 'tabletop-small.safetensors', date: new Date().toISOString(), machine: 'AMD EPYC, 2 CPUs', ... });
 * writeFileSync('report.html', html);
 * ```
 */
import type { LpoResultSummary } from '../adapt/offline-lpo.js';
import type { EpisodeRecord, FlipRow } from '../tabletop/eval.js';
import { wilsonInterval } from '../util/stats.js';
import { lpoLossSvg, successBarsSvg } from './lpo-charts.js';

/** A filmstrip of one episode, as PNG bytes. */
export interface DemoFilmstrip {
  png: Uint8Array;
  width: number;
  height: number;
  /** What it shows, e.g. "before: failure". */
  caption: string;
}

export interface DemoReportInput {
  result: LpoResultSummary;
  /** The checkpoint as shown (a file name). */
  checkpoint: string;
  /** When the run started, ISO 8601. */
  date: string;
  /** The machine in words (CPU, threads, GEMM backend, load). */
  machine: string;
  /** Which settings ran, e.g. "quick", and the settings the command offers, described. */
  preset: string;
  presets: ReadonlyArray<{ name: string; description: string }>;
  /** The command line that reproduces the run. */
  command: string;
  /** One episode before and after adaptation, and why it was picked; null when none was drawn. */
  filmstrips: { episode: string; reason: string; before: DemoFilmstrip; after: DemoFilmstrip } | null;
  /** Wall time of the whole demo, seconds, and of what it did besides the run (e.g. filmstrips). */
  wallSeconds: number;
  extraSeconds: Record<string, number>;
}

/** p-values as the flip tables print them. */
export function formatP(p: number): string {
  return p >= 0.001 ? p.toFixed(3) : p.toExponential(1);
}

function signed(n: number): string {
  return n > 0 ? `+${n}` : String(n);
}

/**
 * One line saying what the paired comparison shows, at the 5% level of the exact McNemar test.
 * With fewer than 6 flips the test cannot reach 5% whatever their direction, and the line says so.
 */
export function demoVerdict(overall: FlipRow): string {
  const p = formatP(overall.pValue);
  const flips = overall.succToFail + overall.failToSucc;
  const counts = `${overall.base} -> ${overall.post} successes over ${overall.total} paired episodes`;
  if (overall.pValue < 0.05) {
    return `${overall.difference > 0 ? 'significant improvement' : 'significant decline'} (p=${p}): ${signed(overall.difference)} successes, ${counts}`;
  }
  const note = flips < 6 ? `; ${flips} flip${flips === 1 ? '' : 's'} cannot reach significance either way (more episodes needed)` : '';
  return `no significant change (p=${p}): ${counts}${note}`;
}

/**
 * The episode to show before and after: the first that went from failure to success, else the
 * first that went the other way, else the first episode. `after` must hold the same episodes.
 */
export function pickShowcaseEpisode(before: readonly EpisodeRecord[], after: readonly EpisodeRecord[]): { episode: EpisodeRecord; reason: string } {
  if (before.length === 0) throw new RangeError('pickShowcaseEpisode: no episodes');
  const key = (e: EpisodeRecord) => `${e.task}#${e.episodeIndex}/${e.seed}`;
  const post = new Map(after.map((e) => [key(e), e.success]));
  const gained = before.find((e) => !e.success && post.get(key(e)) === true);
  if (gained) return { episode: gained, reason: 'the first episode that went from failure to success' };
  const lost = before.find((e) => e.success && post.get(key(e)) === false);
  if (lost) return { episode: lost, reason: 'no episode went from failure to success; the first that went from success to failure' };
  return { episode: before[0]!, reason: 'no episode changed outcome; the first episode' };
}

/** Escapes text and attribute values. */
function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}

function interval([lo, hi]: readonly [number, number]): string {
  return `[${(100 * lo).toFixed(1)}, ${(100 * hi).toFixed(1)}]`;
}

function seconds(s: number): string {
  return s >= 120 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(1)} s`;
}

/** Mean over tasks with the pooled Wilson interval (all episodes of all tasks). */
function pooled(e: LpoResultSummary['before']): { successes: number; episodes: number; ci95: [number, number] } {
  const tasks = Object.values(e.tasks);
  const successes = tasks.reduce((s, t) => s + t.successes, 0);
  const episodes = tasks.reduce((s, t) => s + t.episodes, 0);
  return { successes, episodes, ci95: wilsonInterval(successes, episodes) };
}

function table(id: string, head: readonly string[], rows: ReadonlyArray<readonly string[]>, className = ''): string {
  const th = head.map((h) => `<th>${esc(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c, i) => (i === 0 ? `<th scope="row">${esc(c)}</th>` : `<td>${esc(c)}</td>`)).join('')}</tr>`).join('\n');
  return `<table id="${id}"${className ? ` class="${className}"` : ''}>\n<thead><tr>${th}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>`;
}

function dataUri(png: Uint8Array): string {
  return `data:image/png;base64,${Buffer.from(png.buffer, png.byteOffset, png.byteLength).toString('base64')}`;
}

function filmstripFigure(f: DemoFilmstrip, which: string): string {
  return `<figure class="filmstrip ${which}">\n<img src="${dataUri(f.png)}" width="${f.width}" height="${f.height}" alt="${esc(f.caption)}">\n<figcaption>${esc(f.caption)}</figcaption>\n</figure>`;
}

const CSS = `
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; max-width: 1100px; padding: 16px 24px 48px; color: #1b1b1b; line-height: 1.4; }
h1 { font-size: 1.6em; margin: 0.4em 0 0.2em; }
h2 { font-size: 1.2em; margin: 1.6em 0 0.5em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
.meta { color: #555; font-size: 0.92em; }
.verdict { font-size: 1.15em; padding: 10px 14px; border-left: 5px solid #888; background: #f4f4f4; margin: 1em 0; }
.verdict.up { border-color: #2a8a2a; background: #eef8ee; }
.verdict.down { border-color: #c0392b; background: #fbeeee; }
.summary { font-size: 1.05em; }
.summary td, .summary th { padding: 3px 14px 3px 0; text-align: left; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.95em; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e3e3e3; text-align: right; font-variant-numeric: tabular-nums; }
thead th { border-bottom: 2px solid #bbb; }
tbody th, thead th:first-child { text-align: left; font-weight: normal; }
thead th:first-child { font-weight: bold; }
table.kv td { text-align: left; }
.row { display: flex; flex-wrap: wrap; gap: 8px 28px; align-items: center; }
tr.overall th, tr.overall td { font-weight: bold; border-top: 2px solid #bbb; }
svg { max-width: 100%; height: auto; }
figure { margin: 0.6em 0 1.2em; }
figure img { max-width: 100%; height: auto; image-rendering: pixelated; border: 1px solid #ddd; }
figcaption { color: #444; font-size: 0.92em; }
code { background: #f2f2f2; padding: 1px 4px; border-radius: 3px; }
.small { color: #555; font-size: 0.9em; }
`;

/** The report as one HTML document (see the module comment). */
export function demoReportHtml(input: DemoReportInput): string {
  const r = input.result;
  const overall = r.comparison.overall;
  const verdict = demoVerdict(overall);
  const tone = overall.pValue < 0.05 ? (overall.difference > 0 ? 'up' : 'down') : 'flat';
  const tasks = Object.keys(r.before.tasks);
  const b = pooled(r.before);
  const a = pooled(r.after);
  const title = `vla-ttt demo: ${input.checkpoint} under '${r.shift}'`;

  const summary = table(
    'summary',
    ['', 'mean success', '95% CI (pooled Wilson)', 'successes'],
    [
      ['before (frozen prompt)', pct(r.before.mean), interval(b.ci95), `${b.successes}/${b.episodes}`],
      ['after (adapted prompt)', pct(r.after.mean), interval(a.ci95), `${a.successes}/${a.episodes}`],
    ],
    'summary',
  );

  const flipHead = ['task', 'base successes', 'post successes', 'succ->fail', 'fail->succ', 'always succ', 'always fail', 'McNemar p'];
  const flipCells = (name: string, f: FlipRow) => [name, `${f.base}/${f.total}`, `${f.post}/${f.total}`, String(f.succToFail), String(f.failToSucc), String(f.alwaysSucc), String(f.alwaysFail), formatP(f.pValue)];
  const flipRows = tasks.map((t) => r.comparison.tasks[t]).map((f, i) => (f ? flipCells(tasks[i]!, f) : [tasks[i]!, 'n/a', 'n/a', '', '', '', '', '']));
  const flips = table('flips', flipHead, [...flipRows, flipCells('overall', overall)]).replace(/<tr><th scope="row">overall<\/th>/, '<tr class="overall"><th scope="row">overall</th>');

  const perTask = table(
    'per-task',
    ['task', 'before', 'before 95% CI', 'after', 'after 95% CI'],
    tasks.map((t) => {
      const x = r.before.tasks[t]!;
      const y = r.after.tasks[t];
      return [t, `${x.successes}/${x.episodes} (${pct(x.rate)})`, interval(x.ci95), y ? `${y.successes}/${y.episodes} (${pct(y.rate)})` : 'n/a', y ? interval(y.ci95) : ''];
    }),
  );

  const s = r.settings;
  const settings = table(
    'settings',
    ['setting', 'value'],
    [
      ['settings', input.preset],
      ['checkpoint', input.checkpoint],
      ['shift (shift seed)', `${r.shift} (${r.shiftSeed})`],
      ['tasks', tasks.join(', ')],
      ['evaluation', `${s.episodesPerTask} episodes per task, protocol seed ${s.seed}, ${s.executeSteps ?? 'default'} actions executed per chunk`],
      ['buffer', `${r.buffer.trajectories} trajectories (seed ${s.bufferSeed}): ${r.buffer.successes} successes, ${r.buffer.transitions} transitions`],
      ['prompt optimization', `${r.mode}, ${s.steps} AdamW steps of ${s.batch} transitions, lr ${s.lr}, weight decay ${s.weightDecay}, seed ${s.optimizationSeed}`],
      ['prompt block', `${r.promptShape[0]} x ${r.promptShape[1]}`],
    ],
    'kv',
  );
  const timings = table(
    'timings',
    ['stage', 'wall time'],
    [
      ['evaluate the frozen policy', seconds(r.seconds.before)],
      ['fill the buffer', seconds(r.seconds.buffer)],
      ['optimize the prompt', seconds(r.seconds.optimize)],
      ['evaluate the adapted policy', seconds(r.seconds.after)],
      ...Object.entries(input.extraSeconds).map(([k, v]) => [k, seconds(v)]),
      ['whole demo', seconds(input.wallSeconds)],
    ],
  );
  const presets = `<ul>\n${input.presets.map((p) => `<li><b>${esc(p.name)}</b>: ${esc(p.description)}</li>`).join('\n')}\n</ul>`;
  const lossNote = r.optimizations
    .map((o) => {
      const first = o.lossCurve[0];
      const last = o.lossCurve[o.lossCurve.length - 1];
      return first && last ? `${o.task ?? 'all tasks'}: ${first.loss.toFixed(4)} at step ${first.step} -> ${last.loss.toFixed(4)} at step ${last.step}` : `${o.task ?? 'all tasks'}: no steps`;
    })
    .join('; ');

  const film = input.filmstrips
    ? `<p>Episode ${esc(input.filmstrips.episode)} (${esc(input.filmstrips.reason)}): the same episode (configuration, seed and per-step noise) with the frozen and with the adapted prompt, as the policy sees it.</p>\n${filmstripFigure(input.filmstrips.before, 'before')}\n${filmstripFigure(input.filmstrips.after, 'after')}`
    : '<p>No filmstrip was drawn.</p>';

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>${esc(title)}</h1>
<p class="meta">checkpoint <code>${esc(input.checkpoint)}</code> &middot; shift <code>${esc(r.shift)}</code> (shift seed ${r.shiftSeed}) &middot; ${esc(input.date)} &middot; ${esc(input.machine)}</p>
<p class="meta">Test-time training by latent prompt optimization (TTT-VLA): the frozen policy is evaluated in the shifted world, fills a buffer with its own trajectories there, only its latent prompt is optimized on the self-supervised state-grounding loss (no reward, no demonstration), and the same episodes are evaluated again.</p>
<p class="verdict ${tone}" id="verdict"><b>Verdict:</b> ${esc(verdict)}</p>

<h2>Summary</h2>
${summary}

<h2>Success per task</h2>
<div class="row">
${successBarsSvg(r, 540)}
${perTask}
</div>

<h2>Flip table (paired episodes)</h2>
<p class="small">Each evaluation episode ran twice, with the frozen and with the adapted prompt, from the same configuration, seed and noise. The p-values are exact two-sided McNemar (sign) tests on the flips.</p>
${flips}

<h2>One episode, before and after</h2>
${film}

<h2>Prompt optimization loss</h2>
${lpoLossSvg(r)}
<p class="small">${esc(lossNote)}</p>

<h2>Settings</h2>
${settings}
<p class="small">Settings of <code>vla-ttt demo</code>:</p>
${presets}

<h2>Timings</h2>
${timings}

<h2>Reproduce</h2>
<p><code>${esc(input.command)}</code></p>
</body>
</html>
`;
}
