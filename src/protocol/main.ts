/**
 * The main wrapper (spec H.3): the one place where success and failure become an exit code and, on failure,
 * the crash line. Lines are written synchronously, so exiting right after them loses nothing.
 */

import { reportCrash } from './crash';
import { EXIT_OK, exitCodeOf } from './exit-codes';
import type { Logger } from './logger';
import { defaultLogger } from './logger';
import { EXIT_INTERRUPTED, InterruptedError, stopRequests, type StopRequests, type StopSignal } from './stop';

export { EXIT_CODES, EXIT_CRASH, EXIT_OK, exitCodeOf } from './exit-codes';

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
