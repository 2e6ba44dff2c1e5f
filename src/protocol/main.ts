/**
 * The main wrapper (spec H.3): the one place where success and failure become an exit code and, on failure,
 * the crash line. Lines are written synchronously, so exiting right after them loses nothing.
 */

import { reportCrash } from './crash';
import type { Logger } from './logger';
import { defaultLogger } from './logger';

export const EXIT_OK = 0;
export const EXIT_CRASH = 1;

export interface RunMainOptions {
  /** Default: the process-wide stdout logger. */
  logger?: Logger;
  /** Default: process.exit. Tests pass a recorder. */
  exit?: (code: number) => void;
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
  let finished = false;
  const finish = (code: number, error?: unknown): number => {
    if (finished) return code;
    finished = true;
    process.off('uncaughtException', onStray);
    process.off('unhandledRejection', onStray);
    if (code === EXIT_OK) logger.debug('Main finished: OK.', { main_name: mainName });
    else reportCrash(logger, { mainName, error });
    exit(code);
    return code;
  };
  const onStray = (error: unknown): void => void finish(EXIT_CRASH, error);
  process.on('uncaughtException', onStray);
  process.on('unhandledRejection', onStray);

  logger.debug('Main started.', { main_name: mainName });
  try {
    await main();
    return finish(EXIT_OK);
  } catch (error) {
    return finish(EXIT_CRASH, error);
  }
}
