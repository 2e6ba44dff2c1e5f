/**
 * Where finished lines go. Synchronous on purpose: a line written before process.exit() must reach the agent
 * (spec D.1: writes to a pipe through process.stdout are asynchronous on POSIX and can be lost on exit).
 */

import fs from 'fs';

/** Receives one complete line, without its trailing newline. */
export type LineSink = (line: string) => void;

/** A sink that writes `line + "\n"` to a file descriptor with blocking semantics (default: stdout). */
export function fdSink(fd = 1): LineSink {
  return (line) => writeAllSync(fd, Buffer.from(`${line}\n`, 'utf8'));
}

/** Collects lines in memory: for tests and for tools that want the lines back. */
export interface MemorySink {
  sink: LineSink;
  readonly lines: string[];
}

export function memorySink(): MemorySink {
  const lines: string[] = [];
  return { sink: (line) => void lines.push(line), lines };
}

const EAGAIN_WAIT_MS = 2;
const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * fs.writeSync until every byte is written. Once anything touches process.stdout, libuv makes a pipe on fd 1
 * non-blocking, so a full pipe answers EAGAIN instead of blocking: wait a moment and retry. A closed reader
 * (EPIPE) ends the attempt silently: nobody is listening, and a logger must not crash the task.
 */
export function writeAllSync(fd: number, data: Buffer): void {
  let offset = 0;
  while (offset < data.length) {
    try {
      offset += fs.writeSync(fd, data, offset, data.length - offset);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        Atomics.wait(sleepCell, 0, 0, EAGAIN_WAIT_MS);
        continue;
      }
      if (code === 'EPIPE' || code === 'EBADF') return;
      throw e;
    }
  }
}
