// The demo report (lib/report/demo-report.ts) on a synthetic run: every task and number is on the
// page, nothing is fetched from elsewhere, the document is well formed, the verdict follows the
// paired test; the bar chart; and the page as headless Chromium renders it (skipped, saying so,
// where chromium is not installed: apt-get install chromium).
import { execFile } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

import { describe, expect, it } from 'vitest';

import type { LpoResultSummary } from '../lib/adapt/offline-lpo.js';
import { tileImages } from '../lib/render/image-grid.js';
import { encodePng } from '../lib/render/png.js';
import { demoReportHtml, demoVerdict, pickShowcaseEpisode, type DemoFilmstrip, type DemoReportInput } from '../lib/report/demo-report.js';
import { barChartSvg } from '../lib/report/svg-chart.js';
import { comparePaired, flipRow, type EpisodeRecord } from '../lib/tabletop/eval.js';
import { wilsonInterval } from '../lib/util/stats.js';
import { htmlProblems } from './helpers/html-check.js';
import { readPng } from './helpers/png-read.js';

const run = promisify(execFile);

/** Outcomes per task, before and after, episode by episode (1 = success). */
const OUTCOMES: Record<string, { before: string; after: string }> = {
  'carrot-on-plate': { before: '1100000000', after: '1111100000' },
  'eggplant-in-basket': { before: '1110000000', after: '0110000001' },
  'stack-cube': { before: '0000000000', after: '0000000000' },
};

function records(which: 'before' | 'after'): EpisodeRecord[] {
  return Object.entries(OUTCOMES).flatMap(([task, o]) =>
    [...o[which]].map((c, i) => ({ task, episodeIndex: i, configuration: i, seed: 1000 + i, success: c === '1', stages: [c === '1'], grasped: c === '1', clippedSteps: 0 })),
  );
}

function summary(episodes: EpisodeRecord[]): LpoResultSummary['before'] {
  const tasks = Object.fromEntries(
    Object.keys(OUTCOMES).map((task) => {
      const mine = episodes.filter((e) => e.task === task);
      const successes = mine.filter((e) => e.success).length;
      return [task, { successes, episodes: mine.length, rate: successes / mine.length, ci95: wilsonInterval(successes, mine.length) }];
    }),
  );
  const rates = Object.values(tasks).map((t) => t.rate);
  return { mean: rates.reduce((a, b) => a + b, 0) / rates.length, tasks };
}

function syntheticResult(): LpoResultSummary {
  const before = records('before');
  const after = records('after');
  return {
    checkpoint: '/pkg/models/tabletop-small.safetensors',
    shift: 'camera:1',
    shiftSeed: 0,
    mode: 'joint',
    online: null,
    initPromptFrom: null,
    settings: { episodesPerTask: 10, seed: 0, bufferTrajectories: 12, bufferSeed: 1, steps: 40, batch: 16, lr: 1e-3, weightDecay: 0, optimizationSeed: 0, executeSteps: 2 },
    before: summary(before),
    after: summary(after),
    comparison: comparePaired({ episodes: before }, { episodes: after }),
    buffer: { trajectories: 12, transitions: 720, successes: 3, seconds: 12.5 },
    optimizations: [{ task: null, steps: 40, stopped: false, lossCurve: Array.from({ length: 40 }, (_, i) => ({ step: i + 1, loss: 1 / (1 + 0.1 * i) })), seconds: 4.2, embodiments: [0], promptShift: { 0: 0.3 } }],
    promptShape: [8, 128],
    seconds: { before: 20.25, buffer: 12.5, optimize: 4.2, after: 19.75, total: 56.7 },
  };
}

/** A small striped filmstrip, so the page has real PNG bytes to carry. */
function fakeFilmstrip(caption: string, shade: number): DemoFilmstrip {
  const frames = [0, 1, 2].map((k) => {
    const data = new Uint8Array(16 * 16 * 3);
    for (let i = 0; i < data.length; i++) data[i] = (shade + 40 * k + (i % 48)) & 0xff;
    return { width: 16, height: 16, data };
  });
  const strip = tileImages(frames, { columns: 3, scale: 2, labels: ['t=0', 't=6', 't=12'] });
  return { png: encodePng(strip.data, strip.width, strip.height), width: strip.width, height: strip.height, caption };
}

function reportInput(): DemoReportInput {
  return {
    result: syntheticResult(),
    checkpoint: 'tabletop-small.safetensors',
    date: '2026-11-21T12:00:00.000Z',
    machine: 'Test CPU, 2 CPUs, GEMM own-avx2, no GPU',
    preset: 'quick settings: 3 tasks x 10 episodes',
    presets: [
      { name: '--quick', description: 'few episodes' },
      { name: 'default', description: 'more episodes' },
    ],
    command: 'vla-ttt demo --shift camera --quick',
    filmstrips: { episode: 'carrot-on-plate#2', reason: 'the first episode that went from failure to success', before: fakeFilmstrip('before (frozen prompt): failure', 10), after: fakeFilmstrip('after (adapted prompt): success', 90) },
    wallSeconds: 63.5,
    extraSeconds: { 'replay and draw the filmstrips': 6.8 },
  };
}

/** The cells of the row whose header cell is `name`, in the table with this id. */
function rowCells(html: string, table: string, name: string): string[] {
  const start = html.indexOf(`<table id="${table}"`);
  if (start < 0) throw new Error(`no table '${table}'`);
  html = html.slice(start, html.indexOf('</table>', start));
  const row = new RegExp(`<tr(?: class="[^"]*")?><th scope="row">${name}</th>(.*?)</tr>`).exec(html);
  if (!row) throw new Error(`no table row '${name}'`);
  return [...row[1]!.matchAll(/<td>(.*?)<\/td>/g)].map((m) => m[1]!);
}

describe('demo report HTML', () => {
  const input = reportInput();
  const html = demoReportHtml(input);

  it('is one well-formed document with every section', () => {
    expect(htmlProblems(html)).toEqual([]);
    for (const heading of ['Summary', 'Success per task', 'Flip table (paired episodes)', 'Prompt optimization loss', 'One episode, before and after', 'Settings', 'Timings']) {
      expect(html).toContain(`<h2>${heading}</h2>`);
    }
    expect(html).toContain("<title>vla-ttt demo: tabletop-small.safetensors under 'camera:1'</title>");
    expect(html).toContain('2026-11-21T12:00:00.000Z');
    expect(html).toContain('Test CPU, 2 CPUs');
  });

  it('shows every task with the flip table numbers of the run', () => {
    const r = input.result;
    for (const [task, row] of [...Object.entries(r.comparison.tasks), ['overall', r.comparison.overall] as const]) {
      expect(rowCells(html, 'flips', task)).toEqual([`${row.base}/${row.total}`, `${row.post}/${row.total}`, String(row.succToFail), String(row.failToSucc), String(row.alwaysSucc), String(row.alwaysFail), row.pValue.toFixed(3)]);
    }
    // Hand-checked against OUTCOMES: carrot gains 3, eggplant loses 1 and gains 1.
    expect(rowCells(html, 'flips', 'carrot-on-plate').slice(0, 4)).toEqual(['2/10', '5/10', '0', '3']);
    expect(rowCells(html, 'flips', 'eggplant-in-basket').slice(0, 4)).toEqual(['3/10', '3/10', '1', '1']);
    expect(rowCells(html, 'flips', 'overall')).toEqual(['5/30', '8/30', '1', '4', '4', '21', '0.375']);
    // Per task rates and Wilson intervals, in percent.
    const [lo, hi] = wilsonInterval(5, 10);
    expect(rowCells(html, 'per-task', 'carrot-on-plate')).toEqual(['2/10 (20.0%)', `[${(100 * wilsonInterval(2, 10)[0]).toFixed(1)}, ${(100 * wilsonInterval(2, 10)[1]).toFixed(1)}]`, '5/10 (50.0%)', `[${(100 * lo).toFixed(1)}, ${(100 * hi).toFixed(1)}]`]);
    // Summary: means and pooled intervals.
    const pooled = wilsonInterval(8, 30);
    expect(rowCells(html, 'summary', 'after \\(adapted prompt\\)')).toEqual(['26.7%', `[${(100 * pooled[0]).toFixed(1)}, ${(100 * pooled[1]).toFixed(1)}]`, '8/30']);
    expect(html).toContain('no significant change (p=0.375)');
  });

  it('carries its pictures inline and asks for nothing from elsewhere', () => {
    expect(html).not.toMatch(/\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?\/\//i);
    expect(html).not.toMatch(/url\(|@import|<link\b|<script\b|<iframe\b/i);
    const sources = [...html.matchAll(/<img src="([^"]*)"/g)].map((m) => m[1]!);
    expect(sources).toHaveLength(2);
    const want = [input.filmstrips!.before.png, input.filmstrips!.after.png];
    sources.forEach((src, i) => {
      expect(src.startsWith('data:image/png;base64,')).toBe(true);
      expect(Buffer.from(src.slice('data:image/png;base64,'.length), 'base64').equals(Buffer.from(want[i]!))).toBe(true);
    });
    // Charts are inline SVG: the bars, a line per loss curve.
    expect(html.match(/<svg /g)).toHaveLength(2);
    expect(html).toContain('Success per task under');
    expect(html).toContain('Latent prompt optimization under');
  });

  it('escapes what it is given', () => {
    const odd = demoReportHtml({ ...input, machine: '<b>"x" & y</b>' });
    expect(odd).toContain('&lt;b&gt;&quot;x&quot; &amp; y&lt;/b&gt;');
    expect(htmlProblems(odd)).toEqual([]);
  });

  it('works without filmstrips', () => {
    const none = demoReportHtml({ ...input, filmstrips: null });
    expect(none).toContain('No filmstrip was drawn.');
    expect(htmlProblems(none)).toEqual([]);
  });
});

describe('verdict and showcase episode', () => {
  const flips = (before: string, after: string) => flipRow([...before].map((c) => c === '1'), [...after].map((c) => c === '1'));

  it('says what the exact McNemar test says', () => {
    expect(demoVerdict(flips('0000000000', '1111111000'))).toMatch(/^significant improvement \(p=0\.016\): \+7 successes, 0 -> 7 successes over 10 paired episodes$/);
    expect(demoVerdict(flips('1111111000', '0000000000'))).toMatch(/^significant decline \(p=0\.016\): -7 successes/);
    expect(demoVerdict(flips('0011', '1100'))).toBe('no significant change (p=1.000): 2 -> 2 successes over 4 paired episodes; 4 flips cannot reach significance either way (more episodes needed)');
    const many = flips('1'.repeat(10) + '0'.repeat(10), '0'.repeat(6) + '1'.repeat(4) + '1'.repeat(8) + '0'.repeat(2));
    expect(demoVerdict(many)).toMatch(/^no significant change \(p=0\.\d+\): 10 -> 12 successes over 20 paired episodes$/);
  });

  it('picks an episode that gained, else one that lost, else the first', () => {
    const ep = (task: string, i: number, success: boolean): EpisodeRecord => ({ task, episodeIndex: i, configuration: i, seed: i, success, stages: [success], grasped: false, clippedSteps: 0 });
    const before = [ep('a', 0, true), ep('a', 1, true), ep('a', 2, false)];
    expect(pickShowcaseEpisode(before, [ep('a', 0, true), ep('a', 1, false), ep('a', 2, true)]).episode.episodeIndex).toBe(2);
    const lost = pickShowcaseEpisode(before, [ep('a', 0, true), ep('a', 1, false), ep('a', 2, false)]);
    expect(lost.episode.episodeIndex).toBe(1);
    expect(lost.reason).toMatch(/success to failure/);
    expect(pickShowcaseEpisode(before, before).episode.episodeIndex).toBe(0);
  });
});

describe('bar chart', () => {
  it('draws a bar and a whisker per series and group, and refuses ragged groups', () => {
    const svg = barChartSvg(
      [
        { label: 'a', bars: [{ value: 20, interval: [10, 35], label: '2/10' }, { value: 50, interval: [24, 76] }] },
        { label: 'b', bars: [{ value: 0 }, { value: 100, interval: [72, 100] }] },
      ],
      { title: 'T', yLabel: '%', series: ['before', 'after'], yMin: 0, yMax: 100 },
    );
    expect(svg).toMatch(/^<svg/);
    expect(svg.match(/<rect [^>]*fill-opacity="0.8"><title>/g)).toHaveLength(4);
    // Three whiskers of three lines each.
    expect(svg.match(/stroke="#222"/g)).toHaveLength(9);
    expect(svg).toContain('>2/10<');
    expect(() => barChartSvg([{ label: 'a', bars: [{ value: 1 }] }], { title: 'T', yLabel: '%', series: ['x', 'y'] })).toThrow(/group 'a' has 1 bars for 2 series/);
  });
});

/** The first of these browsers on PATH, or null. */
function findChromium(): string | null {
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
      try {
        accessSync(join(dir, name), constants.X_OK);
        return join(dir, name);
      } catch {
        // not here
      }
    }
  }
  return null;
}

const chromium = findChromium();
if (!chromium) console.warn('demo-report.test: chromium is not installed (apt-get install chromium); the headless browser check is skipped');

describe('in a browser', () => {
  it.skipIf(!chromium)(
    `renders in headless Chromium: the DOM has the summary and the screenshot is a real page${chromium ? '' : ' (skipped: chromium is not installed; apt-get install chromium)'}`,
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'vla-ttt-report-'));
      const page = join(dir, 'report.html');
      writeFileSync(page, demoReportHtml(reportInput()));
      const shot = join(dir, 'shot.png');
      const common = ['--headless=new', '--disable-gpu', '--no-sandbox', '--no-first-run', '--no-default-browser-check', '--hide-scrollbars', `--user-data-dir=${join(dir, 'profile')}`];
      const url = pathToFileURL(page).href;
      const dom = await run(chromium!, [...common, '--dump-dom', url], { timeout: 60_000, maxBuffer: 16 << 20 });
      expect(dom.stdout).toContain('id="verdict"');
      expect(dom.stdout).toContain('no significant change (p=0.375)');
      expect(dom.stdout).toMatch(/<th scope="row">overall<\/th><td>5\/30<\/td><td>8\/30<\/td>/);
      await run(chromium!, [...common, '--window-size=1200,1600', `--screenshot=${shot}`, url], { timeout: 60_000 });
      const png = readPng(readFileSync(shot));
      expect([png.width, png.height]).toEqual([1200, 1600]);
      // A real page: many colors (text, bars, filmstrip) and a fair share of non-white pixels.
      const colors = new Set<number>();
      let inked = 0;
      for (let i = 0; i < png.rgb.length; i += 3) {
        colors.add((png.rgb[i]! << 16) | (png.rgb[i + 1]! << 8) | png.rgb[i + 2]!);
        if (png.rgb[i]! + png.rgb[i + 1]! + png.rgb[i + 2]! < 600) inked++;
      }
      expect(colors.size).toBeGreaterThan(100);
      expect(inked / (png.width * png.height)).toBeGreaterThan(0.02);
    },
    120_000,
  );
});
