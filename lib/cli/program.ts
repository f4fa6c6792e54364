/**
 * The `vla-ttt` command tree. Each command lives in lib/cli/commands/ and registers itself here.
 * Errors end the process with exit code 1 and one line naming the problem (no stack trace;
 * VLA_TTT_DEBUG=1 prints it).
 */
import { Command, CommanderError } from 'commander';

import { VlaError } from '../errors.js';
import { registerInfoCommand } from './commands/info.js';

export function buildProgram(): Command {
  const program = new Command('vla-ttt')
    .description('test-time training of flow-matching robot policies')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)');
  registerInfoCommand(program);
  return program;
}

/** Prints one line for the user; the stack only with VLA_TTT_DEBUG=1. */
export function reportError(e: unknown): void {
  if (process.env['VLA_TTT_DEBUG'] === '1' && e instanceof Error) console.error(e.stack);
  const msg = e instanceof VlaError ? e.message.split('\n')[0] : e instanceof Error ? e.message : String(e);
  console.error(`vla-ttt: error: ${msg}`);
}

/** Runs the CLI on `argv` (process.argv layout) and returns the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram().exitOverride();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 1; // commander already printed it
    reportError(e);
    return 1;
  }
}
