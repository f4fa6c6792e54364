/**
 * Charts of an offline LPO run (lib/adapt/offline-lpo.ts) as SVG strings: the state-grounding
 * loss per step (`vla-ttt adapt` writes it as loss.svg) and the success rate per task before and
 * after adaptation with 95% Wilson whiskers (the demo report).
 */
import type { LpoResultSummary } from '../adapt/offline-lpo.js';
import { barChartSvg, lineChartSvg } from './svg-chart.js';

/** The state-grounding loss per step of every optimized prompt. */
export function lpoLossSvg(r: Pick<LpoResultSummary, 'optimizations' | 'shift'>): string {
  const series = r.optimizations.map((x) => ({ name: x.task ?? 'all tasks', points: x.lossCurve.map((p) => [p.step, p.loss] as const) }));
  return lineChartSvg(series, { title: `Latent prompt optimization under '${r.shift}'`, xLabel: 'step', yLabel: 'state-grounding loss' });
}

/** Success rate (%) per task, frozen vs adapted prompt, with the Wilson 95% interval of each. */
export function successBarsSvg(r: Pick<LpoResultSummary, 'before' | 'after' | 'shift'>, width = 720): string {
  const pct = (x: number) => 100 * x;
  const groups = Object.keys(r.before.tasks).map((task) => ({
    label: task,
    bars: [r.before.tasks[task]!, r.after.tasks[task]].map((t) =>
      t ? { value: pct(t.rate), interval: [pct(t.ci95[0]), pct(t.ci95[1])] as const, label: `${t.successes}/${t.episodes}` } : { value: Number.NaN, label: 'n/a' },
    ),
  }));
  return barChartSvg(groups, {
    title: `Success per task under '${r.shift}' (whiskers: 95% Wilson intervals)`,
    yLabel: 'success rate (%)',
    series: ['before (frozen prompt)', 'after (adapted prompt)'],
    yMin: 0,
    yMax: 100,
    width,
  });
}
