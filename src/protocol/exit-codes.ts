/**
 * The exit-code table every program of the package uses, the entry points (main.ts) and `sly-nn` alike: what a
 * failure says with its code. Imports nothing heavy, so the CLI's light commands load only this.
 */

import { TaskError } from '../errors';
import { EXIT_INTERRUPTED, InterruptedError } from './stop';

export const EXIT_OK = 0;
/** Any other failure: a bug of ours, or something we did not foresee. */
export const EXIT_CRASH = 1;
/**
 * What a failed task says with its exit code (the agent fails the task on any non-zero code; people and
 * schedulers read the number): the task config is wrong; the data is; the model (checkpoint) is; the machine ran
 * out of memory or disk. A stop is 143 (SIGTERM) or 130 (SIGINT), see stop.ts.
 */
export const EXIT_CODES = { config: 2, data: 3, model: 4, resources: 5 } as const;

/** The exit code of a failure: a stop, a TaskError's kind, out of resources, else a crash. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof InterruptedError) return EXIT_INTERRUPTED[error.signal];
  if (error instanceof TaskError) return EXIT_CODES[error.kind];
  if (isOutOfResources(error)) return EXIT_CODES.resources;
  return EXIT_CRASH;
}

const RESOURCE_CODES = new Set(['ENOSPC', 'ENOMEM', 'EDQUOT', 'EMFILE', 'ENFILE']);

/** A full disk or quota, no memory (V8's allocation failures, the OS's), too many open files; or caused by one. */
function isOutOfResources(error: unknown, depth = 0): boolean {
  if (!(error instanceof Error) || depth > 5) return false;
  const code = (error as NodeJS.ErrnoException).code;
  if (code !== undefined && RESOURCE_CODES.has(code)) return true;
  if (/Array buffer allocation failed|out of memory|Cannot allocate memory/i.test(error.message)) return true;
  return isOutOfResources(error.cause, depth + 1);
}
