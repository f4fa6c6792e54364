// Gathers the LPO diagnostic runs (scripts/experiments/lpo-probe.mjs outputs and paired evals
// under runs/probe) into bench/results/lpo/diagnostics.json. Every figure is read from a file
// written by a run; missing runs are listed, not invented.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { comparePaired } from '../../dist/tabletop/eval.js';

const dir = 'runs/probe';
const read = (f) => (existsSync(`${dir}/${f}`) ? JSON.parse(readFileSync(`${dir}/${f}`, 'utf8')) : null);
const out = { about: 'Diagnostics of latent prompt optimization on models/tabletop-small.safetensors. Losses: mean flow-matching losses on scripted-expert demonstrations collected in the target world (12 episodes per base task, seed 21), fixed batches and draws (8 x 128 samples). Paired evals: 50 episodes per base task, protocol seed 0, against the frozen policy on the same episodes (taken from models/tabletop-small.sweep.json).', probes: {}, pairedEvals: {}, missing: [] };
for (const name of ['lighting-oracle-1e-2', 'lighting-oracle-120', 'lighting-selfimit-120', 'lighting-online-naive', 'lighting-online-stabilized']) {
  const p = read(`${name}.json`);
  if (!p) {
    out.missing.push(`${name}.json`);
    continue;
  }
  out.probes[name] = { args: p.args.join(' '), start: p.start, promptDropped: p.dropped, curve: p.curve };
}
// The offline LPO probe on lighting was stopped after 250 of 300 steps (its JSON was never
// written); its log lines are the measurement.
if (existsSync(`${dir}/lighting-lpo-1e-2.log`)) {
  const lines = readFileSync(`${dir}/lighting-lpo-1e-2.log`, 'utf8').split('\n');
  const curve = lines.map((l) => /^lpo step (\d+): action ([\d.]+) state ([\d.]+)/.exec(l)).filter(Boolean).map((m) => ({ step: Number(m[1]), action: Number(m[2]), state: Number(m[3]) }));
  out.probes['lighting-lpo-1e-2 (state loss, buffer of the frozen policy)'] = { args: '--mode lpo --buffer runs/lpo-lighting-lr1e-2/buffer --lr 1e-2 --batch 128 (stopped at step 250)', curve };
} else out.missing.push('lighting-lpo-1e-2.log');
for (const [name, shift, file] of [['oracle-120', 'lighting', 'eval-lighting-oracle-120.json'], ['selfimit-120', 'lighting', 'eval-lighting-selfimit-120.json'], ['wrist-offset block from source', 'wrist-offset', 'eval-wrist-init0.json'], ['wrist-offset block from source + lpo lr 1e-3', 'wrist-offset', 'lpo-wrist-init0-lr1e-3/after.json']]) {
  const post = read(file);
  const base = read(`frozen-${shift}-50.json`);
  if (!post || !base) {
    out.missing.push(file);
    continue;
  }
  const c = comparePaired(base, post);
  out.pairedEvals[name] = { shift, before: base.episodes.filter((e) => e.success).length / base.episodes.length, after: post.mean, overall: c.overall, tasks: c.tasks };
}
writeFileSync('bench/results/lpo/diagnostics.json', JSON.stringify(out, null, 1) + '\n');
console.log(JSON.stringify({ probes: Object.keys(out.probes), pairedEvals: Object.fromEntries(Object.entries(out.pairedEvals).map(([k, v]) => [k, `${(100 * v.before).toFixed(1)} -> ${(100 * v.after).toFixed(1)} (+${v.overall.failToSucc}/-${v.overall.succToFail}, p=${v.overall.pValue.toFixed(3)})`])), missing: out.missing }, null, 1));
