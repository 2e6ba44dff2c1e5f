/**
 * Sizing libuv's thread pool, where inference decodes images (sharp) and does its file I/O. The default of four
 * threads, on top of the network threads and the main thread, oversubscribes a small machine: each switch evicts
 * the network's convolution blocks from the core's caches. bench:infer on 2 cores, alternating runs: 3.6 ms less
 * CPU per image with 2 pool threads than with 4 (three pairs, every pair the same way), and 1 was slower than 2.
 * So one per core, unless UV_THREADPOOL_SIZE is set. libuv reads the variable when its pool first starts, so this
 * must run before any asynchronous file or sharp call of the process.
 */
import os from 'node:os';

const VARIABLE = 'UV_THREADPOOL_SIZE';
/** libuv's own default and upper bound. */
const LIBUV_DEFAULT = 4;
const LIBUV_MAX = 1024;

/** Sets UV_THREADPOOL_SIZE in `env` to one thread per core when unset; returns the size libuv will use. */
export function sizeLibuvThreadPool(
  env: NodeJS.ProcessEnv = process.env,
  cores = os.availableParallelism(),
): number {
  const given = env[VARIABLE];
  if (given === undefined || given === '') {
    const size = Math.max(1, cores);
    env[VARIABLE] = String(size);
    return size;
  }
  // As libuv parses it: a number, at least 1, at most 1024; anything else gives its default.
  const parsed = Number.parseInt(given, 10);
  if (!Number.isFinite(parsed)) return LIBUV_DEFAULT;
  return Math.min(LIBUV_MAX, Math.max(1, parsed));
}
