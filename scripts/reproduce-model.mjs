#!/usr/bin/env node
/**
 * Reproduces a checkpoint from its recipe in models/recipes.json: collects the demonstrations
 * (vla-ttt collect-demos), trains (vla-ttt train, float32 checkpoint and optimizer state in
 * runs/), exports the float16 checkpoint (vla-ttt export; shipped ones into models/) and
 * evaluates it in source and under the shifts (vla-ttt sweep).
 *
 *   node scripts/reproduce-model.mjs tabletop-small            # all stages
 *   node scripts/reproduce-model.mjs tabletop-small --stage train
 *   node scripts/reproduce-model.mjs --list
 *
 * Every stage can be interrupted and rerun: a dataset folder that already has its manifest is
 * kept, training resumes from its last checkpoint (--resume), and a sweep skips the shifts its
 * file holds. Datasets go to demos/ (not in git); checkpoints, training summaries and sweeps to
 * models/. Then `npm run gen:models` rewrites docs/models.md from them.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const recipes = JSON.parse(readFileSync(join(root, 'models', 'recipes.json'), 'utf8')).models;
const cli = join(root, 'dist', 'cli', 'main.js');

const args = process.argv.slice(2);
if (args.includes('--list') || args.length === 0) {
  for (const [name, r] of Object.entries(recipes)) console.log(`${name.padEnd(24)} ${r.summary}`);
  process.exit(args.length === 0 ? 1 : 0);
}
const name = args[0];
const stageAt = args.indexOf('--stage');
const only = stageAt >= 0 ? args[stageAt + 1] : null;
const recipe = recipes[name];
if (!recipe) {
  console.error(`reproduce-model: no recipe '${name}' in models/recipes.json (have: ${Object.keys(recipes).join(', ')})`);
  process.exit(1);
}
if (only && !['data', 'train', 'export', 'sweep'].includes(only)) {
  console.error(`reproduce-model: --stage '${only}': expected data, train, export or sweep`);
  process.exit(1);
}
if (!existsSync(cli)) {
  console.error('reproduce-model: dist/cli/main.js is missing; run `npm run compile` first');
  process.exit(1);
}

function run(argv) {
  console.log(`$ vla-ttt ${argv.join(' ')}`);
  const r = spawnSync(process.execPath, [cli, ...argv], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`reproduce-model: 'vla-ttt ${argv[0]}' failed with exit code ${r.status ?? r.signal}`);
    process.exit(1);
  }
}

function optionValue(argv, flag) {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : undefined;
}

if (!only || only === 'data') {
  for (const step of recipe.data) {
    const out = optionValue(step, '--out');
    if (out && existsSync(join(root, out, 'manifest.json'))) {
      console.log(`${out}: already collected`);
      continue;
    }
    run(step);
  }
}
if (!only || only === 'train') {
  const out = optionValue(recipe.train, '--out');
  run(out && existsSync(join(root, `${out}.optimizer.bin`)) ? [...recipe.train, '--resume'] : recipe.train);
}
if (!only || only === 'export') {
  run(recipe.export);
  // The loss curve travels with the exported checkpoint (the model card links it).
  const trained = optionValue(recipe.train, '--out');
  const exported = optionValue(recipe.export, '--out');
  if (existsSync(join(root, `${trained}.loss.svg`))) copyFileSync(join(root, `${trained}.loss.svg`), join(root, `${exported}.loss.svg`));
}
if (!only || only === 'sweep') run(recipe.sweep);
