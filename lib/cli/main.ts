#!/usr/bin/env node
// The `vla-ttt` executable.
import { runCli } from './program.js';

runCli(process.argv).then((code) => {
  process.exitCode = code;
});
