/**
 * Pooled successes over the tasks of an eval report ({ tasks: { NAME: { successes, episodes } } }),
 * with the Wilson 95% interval; shared by the doc generators (gen-model-cards, gen-results).
 * Needs the compiled library (npm run compile).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { wilsonInterval } = await import(join(root, 'dist', 'util', 'stats.js'));

export function pooled(report) {
  let s = 0;
  let n = 0;
  for (const t of Object.values(report.tasks)) {
    s += t.successes;
    n += t.episodes;
  }
  return { s, n, rate: s / n, ci: wilsonInterval(s, n) };
}
