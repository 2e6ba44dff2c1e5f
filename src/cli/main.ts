#!/usr/bin/env node
/** The `sly-nn` executable (package.json bin): runs the command and sets the exit code (run-cli.ts's table). */

import { EXIT_CRASH } from '../protocol/exit-codes';
import { EXIT_INTERRUPTED, stopRequests, type StopSignal } from '../protocol/stop';
import { runCli } from './run-cli';

const io = {
  out: (text: string) => process.stdout.write(`${text}\n`),
  err: (text: string) => process.stderr.write(`${text}\n`),
};

let settled = false;

// SIGTERM / SIGINT: a command that can stop cleanly listens to stopRequests (serve drains and exits 0; one that
// throws InterruptedError exits 143 / 130 through the table). With nobody listening, or on a second signal,
// the process ends at once with the stop's code, as the entry points do.
const onSignal = (signal: StopSignal): void => {
  const again = stopRequests.signal !== undefined;
  if (!again && stopRequests.request(signal)) return;
  settled = true;
  process.stderr.write(`sly-nn: stopped by ${signal}\n`);
  process.exit(EXIT_INTERRUPTED[signal]);
};
process.on('SIGTERM', onSignal);
process.on('SIGINT', onSignal);

// A command whose promise never settles, and that leaves nothing to wait for, would end the process with code 0
// and no word (node-tar did so packing a link followed by a FIFO): that is a failure, and says so.
process.on('beforeExit', () => {
  if (settled) return;
  settled = true;
  process.stderr.write(
    'sly-nn: error: the command stopped before finishing, with nothing left to wait for\n',
  );
  process.exitCode = EXIT_CRASH;
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
    process.exitCode = EXIT_CRASH;
  },
);
