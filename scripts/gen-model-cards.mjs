#!/usr/bin/env node
/**
 * Writes docs/models.md, the model cards of the shipped checkpoints, from what reproducing them
 * left in models/: the recipe (models/recipes.json), the training summary (NAME.train.json,
 * written by `vla-ttt train --json`) and the sweep (NAME.sweep.json, `vla-ttt sweep`). Nothing
 * in the cards is typed by hand: rerun after reproducing a model.
 *
 *   npm run compile && npm run gen:models
 */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { pooled } from './lib/pooled.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { comparePaired } = await import(join(root, 'dist', 'tabletop', 'eval.js'));
const { models: recipes, comparisons = [] } = JSON.parse(readFileSync(join(root, 'models', 'recipes.json'), 'utf8'));

const readJson = (rel) => (rel && existsSync(join(root, rel)) ? JSON.parse(readFileSync(join(root, rel), 'utf8')) : null);
const optionValue = (argv, flag) => {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : undefined;
};
const pct = (x) => `${(100 * x).toFixed(1)}`;
const interval = ([lo, hi]) => `[${pct(lo)}, ${pct(hi)}]`;

/** Parameters of a safetensors checkpoint, from its header. */
function parameterCount(file) {
  const buf = readFileSync(file);
  const headerLength = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLength).toString('utf8'));
  let n = 0;
  for (const [k, v] of Object.entries(header)) if (k !== '__metadata__') n += v.shape.reduce((a, b) => a * b, 1);
  return n;
}


function sweepTable(sweep) {
  const tasks = sweep.tasks;
  const source = sweep.results.source;
  const lines = [
    `| shift | ${tasks.join(' | ')} | mean | 95% CI (pooled) | vs source |`,
    `|---|${tasks.map(() => '---:').join('|')}|---:|---|---:|`,
  ];
  for (const [shift, r] of Object.entries(sweep.results)) {
    const p = pooled(r);
    const drop = source && shift !== 'source' ? `${r.mean >= source.mean ? '+' : '-'}${pct(Math.abs(r.mean - source.mean))}` : '';
    lines.push(`| \`${shift}\` | ${tasks.map((t) => pct(r.tasks[t].rate)).join(' | ')} | **${pct(r.mean)}** | ${interval(p.ci)} | ${drop} |`);
  }
  return lines.join('\n');
}

function card(name, recipe) {
  const train = readJson(optionValue(recipe.train, '--json'));
  const sweep = readJson(optionValue(recipe.sweep, '--out'));
  const checkpoint = optionValue(recipe.export, '--out');
  const out = [`## ${name}`, '', recipe.summary, ''];
  if (checkpoint && existsSync(join(root, checkpoint))) {
    out.push(`- File: \`${checkpoint}\` (${(statSync(join(root, checkpoint)).size / 2 ** 20).toFixed(1)} MiB, ${(parameterCount(join(root, checkpoint)) / 1e6).toFixed(2)} M parameters).`);
  } else {
    out.push(`- File: \`${checkpoint}\` (not built yet: \`node scripts/reproduce-model.mjs ${name}\`).`);
  }
  out.push(`- Reproduce: \`node scripts/reproduce-model.mjs ${name}\` (seeds are in the commands below).`);
  out.push('- Data:');
  for (const step of recipe.data) out.push(`  - \`vla-ttt ${step.join(' ')}\``);
  out.push(`- Training: \`vla-ttt ${recipe.train.join(' ')}\``, `- Export (float16 weights): \`vla-ttt ${recipe.export.join(' ')}\``);
  if (train) {
    const m = train.machine ?? {};
    out.push(
      `- Training time: ${(train.seconds / 60).toFixed(1)} min for ${train.steps} steps of ${train.settings?.batch ?? '?'} samples ` +
        `(${train.samplesPerSecond?.toFixed(0) ?? '?'} samples/s) on ${train.episodes} episodes / ${train.samples} samples; ` +
        `${m.cpu ?? 'unknown CPU'}, ${m.threads ?? '?'} thread(s), ${m.isa ?? '?'}, GEMM ${m.gemm ?? '?'}. No GPU was lent to this project's sessions so far, so there is no GPU time.` +
        (train.note ? ` ${train.note}` : ''),
    );
    out.push(`- Final training loss: ${train.finalLoss.toFixed(4)}; loss curve: [\`${checkpoint}.loss.svg\`](../${checkpoint}.loss.svg).`);
  }
  if (sweep) {
    out.push(
      `- Evaluation: \`vla-ttt ${recipe.sweep.join(' ')}\`: ${sweep.episodesPerTask} episodes per task cycling the 24 configurations, ` +
        `protocol seed ${sweep.seed}, shift seed ${sweep.shiftSeed}, shift strength ${sweep.strength}, ${sweep.executeSteps} actions executed per chunk. Success rates in %:`,
    );
    out.push('', sweepTable(sweep));
  } else {
    out.push('- Evaluation: not run yet.');
  }
  return out.join('\n') + '\n';
}

function comparison(c) {
  const sweeps = c.models.map((m) => ({ name: m, sweep: recipes[m] ? readJson(optionValue(recipes[m].sweep, '--out')) : null })).filter((x) => x.sweep);
  const out = [`## ${c.title}`, '', c.summary, ''];
  if (sweeps.length < 2) return out.concat(['Not measured yet.', '']).join('\n');
  // Every shift the reference measured and at least one other variant did; '-' where a variant's sweep has not reached it.
  const shifts = Object.keys(sweeps[0].sweep.results).filter((s) => sweeps.slice(1).some((x) => x.sweep.results[s]));
  out.push(`| model | ${shifts.map((s) => `\`${s}\``).join(' | ')} |`, `|---|${shifts.map(() => '---:').join('|')}|`);
  for (const { name, sweep } of sweeps) {
    out.push(`| ${name} | ${shifts.map((s) => { if (!sweep.results[s]) return '-'; const p = pooled(sweep.results[s]); return `${pct(sweep.results[s].mean)} ${interval(p.ci)}`; }).join(' | ')} |`);
  }
  const [ref, ...others] = sweeps;
  out.push('', `Paired on the same episodes against ${ref.name} (flips and exact McNemar p over all tasks):`, '');
  out.push(`| model | shift | ${ref.name} | model | ${ref.name} only | model only | p |`, '|---|---|---:|---:|---:|---:|---:|');
  for (const o of others) {
    for (const s of shifts) {
      if (!o.sweep.results[s]) continue;
      const f = comparePaired(ref.sweep.results[s], o.sweep.results[s]).overall;
      out.push(`| ${o.name} | \`${s}\` | ${f.base}/${f.total} | ${f.post}/${f.total} | ${f.succToFail} | ${f.failToSucc} | ${f.pValue < 0.001 ? f.pValue.toExponential(1) : f.pValue.toFixed(3)} |`);
    }
  }
  return out.join('\n') + '\n';
}

const doc = [
  '# Shipped models',
  '',
  '<!-- Generated by scripts/gen-model-cards.mjs from models/recipes.json and the files reproducing each model wrote; do not edit. -->',
  '',
  'Pretrained flow-matching policies for the tabletop benchmark (docs/benchmark.md), trained on the',
  "scripted expert's demonstrations by `vla-ttt train` (joint action and state-grounding losses, latent",
  'prompts with the two-stage prompt-edge drop; methods digest section 2). Each is meant to work in',
  '`source` and to lose ground under some shifts: that loss is what test-time training recovers.',
  'Success rates come from `vla-ttt sweep`; the 95% intervals are Wilson intervals on the pooled episodes.',
  '',
  ...Object.entries(recipes).filter(([, r]) => r.shipped !== false).map(([n, r]) => card(n, r)),
  ...comparisons.map(comparison),
].join('\n');
writeFileSync(join(root, 'docs', 'models.md'), doc);
console.log(`wrote docs/models.md (${Object.keys(recipes).length} recipes, ${comparisons.length} comparisons)`);
