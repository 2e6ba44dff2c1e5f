#!/usr/bin/env node
/** The `sly-nn` executable (package.json bin): runs the command and sets the exit code. */

import { runCli } from './run-cli';

const io = {
  out: (text: string) => process.stdout.write(`${text}\n`),
  err: (text: string) => process.stderr.write(`${text}\n`),
};

let settled = false;

// A command whose promise never settles, and that leaves nothing to wait for, would end the process with code 0
// and no word (node-tar did so packing a link followed by a FIFO): that is a failure, and says so.
process.on('beforeExit', () => {
  if (settled) return;
  settled = true;
  process.stderr.write(
    'sly-nn: error: the command stopped before finishing, with nothing left to wait for\n',
  );
  process.exitCode = 1;
});

runCli(process.argv.slice(2), io).then(
  (code) => {
    settled = true;
    process.exitCode = code;
  },
  (e: unknown) => {
    settled = true;
    process.stderr.write(
      `sly-nn: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
    );
    process.exitCode = 1;
  },
);
