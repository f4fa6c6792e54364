/**
 * A dependency-free SVG line chart (loss curves, learning curves), readable in any browser and
 * embeddable in HTML reports.
 *
 * @example
 * ```ts
 * writeFileSync('loss.svg', lineChartSvg([{ name: 'train loss', points: [[0, 1.2], [100, 0.4]] }], { title: 'Loss', xLabel: 'step', yLabel: 'loss', logY: true }));
 * ```
 */
export interface Series {
  name: string;
  points: ReadonlyArray<readonly [number, number]>;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  logY?: boolean;
  width?: number;
  height?: number;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function niceTicks(lo: number, hi: number, n: number): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

// Ticks for a log axis spanning log10 range [l0, l1]: 1-2-5 steps, or every integer mantissa
// when the range is under a decade.
function logTicks(l0: number, l1: number): number[] {
  for (const mantissas of [[1], [1, 2, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9]]) {
    const out: number[] = [];
    for (let e = Math.floor(l0); e <= Math.ceil(l1); e++)
      for (const m of mantissas) {
        const v = m * 10 ** e;
        if (Math.log10(v) >= l0 - 1e-9 && Math.log10(v) <= l1 + 1e-9) out.push(Number(v.toPrecision(6)));
      }
    if (out.length >= 3 || mantissas.length === 9) return out;
  }
  return [];
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-3 ? v.toExponential(1) : String(Number(v.toPrecision(3)));
}

/** The opening of every chart: the svg element, a white background and the title. */
function svgOpening(W: number, H: number, title: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`,
  ];
}

export function lineChartSvg(series: readonly Series[], opts: ChartOptions): string {
  const W = opts.width ?? 720;
  const H = opts.height ?? 420;
  const m = { left: 70, right: 20, top: 40, bottom: 50 };
  const fy = (y: number) => (opts.logY ? Math.log10(Math.max(y, 1e-12)) : y);
  const pts = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!opts.logY || y > 0));
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => fy(p[1]));
  const x0 = xs.length ? Math.min(...xs) : 0;
  const x1 = xs.length ? Math.max(...xs) : 1;
  let y0 = ys.length ? Math.min(...ys) : 0;
  let y1 = ys.length ? Math.max(...ys) : 1;
  if (y1 - y0 < 1e-12) {
    y0 -= 0.5;
    y1 += 0.5;
  }
  const px = (x: number) => m.left + ((x - x0) / (x1 - x0 || 1)) * (W - m.left - m.right);
  const py = (y: number) => H - m.bottom - ((fy(y) - y0) / (y1 - y0)) * (H - m.top - m.bottom);
  const parts: string[] = svgOpening(W, H, opts.title);
  for (const t of niceTicks(x0, x1, 6)) {
    const x = px(t);
    parts.push(`<line x1="${x}" y1="${m.top}" x2="${x}" y2="${H - m.bottom}" stroke="#eee"/>`, `<text x="${x}" y="${H - m.bottom + 16}" text-anchor="middle">${fmt(t)}</text>`);
  }
  const yTicks = opts.logY ? logTicks(y0, y1) : niceTicks(y0, y1, 6);
  for (const t of yTicks) {
    const value = t;
    if (fy(value) < y0 - 1e-9 || fy(value) > y1 + 1e-9) continue;
    const y = py(value);
    parts.push(`<line x1="${m.left}" y1="${y}" x2="${W - m.right}" y2="${y}" stroke="#eee"/>`, `<text x="${m.left - 6}" y="${y + 4}" text-anchor="end">${fmt(value)}</text>`);
  }
  parts.push(
    `<rect x="${m.left}" y="${m.top}" width="${W - m.left - m.right}" height="${H - m.top - m.bottom}" fill="none" stroke="#444"/>`,
    `<text x="${W / 2}" y="${H - 12}" text-anchor="middle">${esc(opts.xLabel)}</text>`,
    `<text x="16" y="${H / 2}" text-anchor="middle" transform="rotate(-90 16 ${H / 2})">${esc(opts.yLabel)}${opts.logY ? ' (log)' : ''}</text>`,
  );
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length]!;
    const d = s.points
      .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!opts.logY || y > 0))
      .map(([x, y], k) => `${k === 0 ? 'M' : 'L'}${px(x).toFixed(1)},${py(y).toFixed(1)}`)
      .join(' ');
    parts.push(`<path d="${d}" fill="none" stroke="${c}" stroke-width="1.5"/>`);
    parts.push(`<rect x="${m.left + 10}" y="${m.top + 8 + i * 16}" width="12" height="3" fill="${c}"/>`, `<text x="${m.left + 28}" y="${m.top + 13 + i * 16}">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** One bar: its height, an optional interval drawn as a whisker (e.g. a 95% CI), a label above it. */
export interface Bar {
  value: number;
  interval?: readonly [number, number];
  label?: string;
}

/** Bars side by side under one x label (e.g. a task: before and after). */
export interface BarGroup {
  label: string;
  /** One bar per series, in the order of `series`. */
  bars: readonly Bar[];
}

export interface BarChartOptions {
  title: string;
  yLabel: string;
  /** Names of the bars of each group (the legend), in order. */
  series: readonly string[];
  /** y range (default: 0 to the largest value or interval end). */
  yMin?: number;
  yMax?: number;
  width?: number;
  height?: number;
}

/** A grouped bar chart with whiskers, in the style of lineChartSvg. */
export function barChartSvg(groups: readonly BarGroup[], opts: BarChartOptions): string {
  groups.forEach((g) => {
    if (g.bars.length !== opts.series.length) throw new RangeError(`barChartSvg: group '${g.label}' has ${g.bars.length} bars for ${opts.series.length} series`);
  });
  const W = opts.width ?? 720;
  const H = opts.height ?? 400;
  const m = { left: 60, right: 20, top: 60, bottom: 50 };
  const tops = groups.flatMap((g) => g.bars.flatMap((b) => [b.value, b.interval?.[1] ?? b.value])).filter(Number.isFinite);
  const y0 = opts.yMin ?? 0;
  let y1 = opts.yMax ?? Math.max(y0 + 1e-9, ...tops);
  if (!(y1 > y0)) y1 = y0 + 1;
  const plotW = W - m.left - m.right;
  const plotH = H - m.top - m.bottom;
  const py = (y: number) => H - m.bottom - ((Math.min(Math.max(y, y0), y1) - y0) / (y1 - y0)) * plotH;
  const groupW = plotW / Math.max(1, groups.length);
  // Bars fill 70% of their group; the rest separates groups.
  const barW = (groupW * 0.7) / Math.max(1, opts.series.length);
  const parts: string[] = svgOpening(W, H, opts.title);
  for (const t of niceTicks(y0, y1, 5)) {
    const y = py(t);
    parts.push(`<line x1="${m.left}" y1="${y.toFixed(1)}" x2="${W - m.right}" y2="${y.toFixed(1)}" stroke="#eee"/>`, `<text x="${m.left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end">${fmt(t)}</text>`);
  }
  parts.push(
    `<text x="16" y="${H / 2}" text-anchor="middle" transform="rotate(-90 16 ${H / 2})">${esc(opts.yLabel)}</text>`,
    `<line x1="${m.left}" y1="${H - m.bottom}" x2="${W - m.right}" y2="${H - m.bottom}" stroke="#444"/>`,
    `<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${H - m.bottom}" stroke="#444"/>`,
  );
  groups.forEach((g, gi) => {
    const gx = m.left + gi * groupW + groupW * 0.15;
    g.bars.forEach((b, bi) => {
      const c = COLORS[bi % COLORS.length]!;
      const x = gx + bi * barW;
      const top = py(Number.isFinite(b.value) ? b.value : y0);
      parts.push(`<rect x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${(barW * 0.92).toFixed(1)}" height="${(H - m.bottom - top).toFixed(1)}" fill="${c}" fill-opacity="0.8"><title>${esc(`${g.label}, ${opts.series[bi]}: ${b.label ?? fmt(b.value)}`)}</title></rect>`);
      const cx = x + barW * 0.46;
      let labelY = top - 4;
      if (b.interval) {
        const [lo, hi] = [py(b.interval[0]), py(b.interval[1])];
        const cap = Math.min(6, barW * 0.25);
        parts.push(
          `<line x1="${cx.toFixed(1)}" y1="${lo.toFixed(1)}" x2="${cx.toFixed(1)}" y2="${hi.toFixed(1)}" stroke="#222" stroke-width="1.5"/>`,
          `<line x1="${(cx - cap).toFixed(1)}" y1="${lo.toFixed(1)}" x2="${(cx + cap).toFixed(1)}" y2="${lo.toFixed(1)}" stroke="#222" stroke-width="1.5"/>`,
          `<line x1="${(cx - cap).toFixed(1)}" y1="${hi.toFixed(1)}" x2="${(cx + cap).toFixed(1)}" y2="${hi.toFixed(1)}" stroke="#222" stroke-width="1.5"/>`,
        );
        labelY = Math.min(labelY, hi - 4);
      }
      if (b.label) parts.push(`<text x="${cx.toFixed(1)}" y="${labelY.toFixed(1)}" text-anchor="middle" font-size="11">${esc(b.label)}</text>`);
    });
    parts.push(`<text x="${(m.left + (gi + 0.5) * groupW).toFixed(1)}" y="${H - m.bottom + 18}" text-anchor="middle">${esc(g.label)}</text>`);
  });
  opts.series.forEach((name, i) => {
    const x = m.left + 10 + i * 200;
    parts.push(`<rect x="${x}" y="${m.top - 26}" width="12" height="12" fill="${COLORS[i % COLORS.length]!}" fill-opacity="0.8"/>`, `<text x="${x + 18}" y="${m.top - 16}">${esc(name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
