/**
 * The main wrapper (spec H.3): the one place where success and failure become an exit code and, on failure,
 * the crash line. Lines are written synchronously, so exiting right after them loses nothing.
 */

import { TaskError } from '../errors';
import { reportCrash } from './crash';
import type { Logger } from './logger';
import { defaultLogger } from './logger';
import { EXIT_INTERRUPTED, InterruptedError, stopRequests, type StopRequests, type StopSignal } from './stop';

export const EXIT_OK = 0;
/** Any other failure: a bug of ours, or something we did not foresee. */
export const EXIT_CRASH = 1;
/**
 * What a failed task says with its exit code (the agent fails the task on any non-zero code; people and
 * schedulers read the number): the task config is wrong; the data is; the model (checkpoint) is; the machine ran
 * out of memory or disk. A stop is 143 (SIGTERM) or 130 (SIGINT), see stop.ts.
 */
export const EXIT_CODES = { config: 2, data: 3, model: 4, resources: 5 } as const;
/**
 * After a stop signal, how long the task has to stop cleanly (a step, a checkpoint) before the process ends
 * anyway: under the 10 s Docker gives before SIGKILL.
 */
export const STOP_GRACE_MS = 8000;

export interface RunMainOptions {
  /** Default: the process-wide stdout logger. */
  logger?: Logger;
  /** Default: process.exit. Tests pass a recorder. */
  exit?: (code: number) => void;
  /** Default: the process-wide stop requests, fed by SIGTERM and SIGINT. */
  stops?: StopRequests;
}

/**
 * Run `main`: DEBUG "Main started."; then exit 0 on success, or print the FATAL crash line (event_type
 * EventType.TASK_CRASHED, main_name, exc_str, stack) as the last line and exit 1. Errors thrown outside the main
 * promise (an uncaught exception in a callback, an unhandled rejection) end the task the same way. Resolves to
 * the exit code when `exit` returns (it does not, with process.exit).
 */
export async function runMain(
  mainName: string,
  main: () => Promise<void> | void,
  options: RunMainOptions = {},
): Promise<number> {
  const logger = options.logger ?? defaultLogger();
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const stops = options.stops ?? stopRequests;
  let finished = false;
  let graceTimer: NodeJS.Timeout | undefined;
  const finish = (code: number, error?: unknown): number => {
    if (finished) return code;
    finished = true;
    process.off('uncaughtException', onStray);
    process.off('unhandledRejection', onStray);
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    if (graceTimer !== undefined) clearTimeout(graceTimer);
    if (code === EXIT_OK) logger.debug('Main finished: OK.', { main_name: mainName });
    else reportCrash(logger, { mainName, error });
    exit(code);
    return code;
  };
  const onStray = (error: unknown): void => void finish(exitCodeOf(error), error);
  const onSignal = (signal: StopSignal): void => {
    if (stops.signal !== undefined) return;
    logger.warn(`${signal} received: stopping`, { main_name: mainName, signal });
    const interrupted = (detail: string): number =>
      finish(EXIT_INTERRUPTED[signal], new InterruptedError(signal, detail));
    if (!stops.request(signal)) {
      interrupted('before the task began its work');
      return;
    }
    graceTimer = setTimeout(
      () => interrupted(`the task did not stop within ${STOP_GRACE_MS / 1000} s`),
      STOP_GRACE_MS,
    );
    graceTimer.unref();
  };
  process.on('uncaughtException', onStray);
  process.on('unhandledRejection', onStray);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  logger.debug('Main started.', { main_name: mainName });
  try {
    await main();
    return finish(EXIT_OK);
  } catch (error) {
    return finish(exitCodeOf(error), error);
  }
}

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
