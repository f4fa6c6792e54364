#!/usr/bin/env node
/**
 * The `vla-ttt` command line. Each command lives in commands/ and registers itself on the
 * program; add new ones to COMMANDS. Exit code 0 on success, 1 with a one-line error on bad
 * input or failure (never a stack trace).
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { Command, CommanderError } from 'commander';

import { registerCollectDemos } from './commands/collect-demos.js';
import { registerAdapt } from './commands/adapt.js';
import { registerBench } from './commands/bench.js';
import { registerCompare } from './commands/compare.js';
import { registerDemo } from './commands/demo.js';
import { registerDivergence } from './commands/divergence.js';
import { registerEval } from './commands/eval.js';
import { registerEvolve } from './commands/evolve.js';
import { registerExport } from './commands/export.js';
import { registerInfo } from './commands/info.js';
import { registerRender } from './commands/render.js';
import { registerSweep } from './commands/sweep.js';
import { registerTrain } from './commands/train.js';
import { registerCriticQuality, registerTrainCritic } from './commands/train-critic.js';
import type { CliContext } from './context.js';

const COMMANDS: Array<(program: Command, ctx: CliContext) => Command> = [registerInfo, registerEval, registerCompare, registerCollectDemos, registerRender, registerTrain, registerSweep, registerExport, registerAdapt, registerDivergence, registerDemo, registerTrainCritic, registerCriticQuality, registerEvolve, registerBench];

/** The program with every command registered; output goes through `ctx.io`. */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command('vla-ttt')
    .description('test-time training of flow-matching robot policies: native core, tabletop benchmark, evaluation, demonstrations')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.io.stdout(s),
      writeErr: (s) => ctx.io.stderr(s),
      // Commander's own errors ("error: unknown option '--x'") are reported by runCli, once.
      outputError: () => {},
    });
  for (const register of COMMANDS) register(program, ctx).exitOverride();
  return program;
}

/** One line: the message of an error without its stack, newlines folded. */
function oneLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.replace(/\s*\n\s*/g, ' ').trim();
}

/** Runs the CLI on `argv` (without node and the script) and returns the exit code. */
export async function runCli(argv: readonly string[], ctx: CliContext): Promise<number> {
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(['node', 'vla-ttt', ...argv]);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end through here with exit code 0.
      if (e.exitCode === 0) return 0;
      const command = argv.find((a) => !a.startsWith('-')) ?? '';
      ctx.io.stderr(`vla-ttt${command && program.commands.some((c) => c.name() === command) ? ` ${command}` : ''}: ${oneLine(e).replace(/^error: /, '')}\n`);
      return 1;
    }
    const command = argv.find((a) => !a.startsWith('-')) ?? '';
    ctx.io.stderr(`vla-ttt${command ? ` ${command}` : ''}: ${oneLine(e)}\n`);
    return 1;
  }
}

function isMain(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  // A reader that closes early (`vla-ttt ... | head`) is not an error of ours: stop quietly, as
  // Unix tools do, instead of an unhandled EPIPE stack.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw e;
    });
  }
  const ctx: CliContext = {
    io: { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) },
    renderer: 'native',
  };
  process.exitCode = await runCli(process.argv.slice(2), ctx);
}
