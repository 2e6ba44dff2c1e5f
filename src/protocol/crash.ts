/**
 * The crash line (spec D.5 TASK_CRASHED, H.3): what `main_wrapper` prints when main fails. The exit code, not
 * this line, decides the task's status in the agent (D.7), so print it only right before exiting non-zero.
 */

import { TaskError } from '../errors';
import { eventTypeString } from './event-types';
import type { Logger } from './logger';

export const CRASH_MESSAGE = 'Unexpected exception in main.';

export interface CrashReport {
  /** e.g. "TFJS_SEGMENTATION_TRAIN" (the SDK's main_name). */
  mainName: string;
  error: unknown;
}

/** str(e) in the SDK: for a TaskError its message, which names the file, the item and the field. */
export function exceptionText(error: unknown): string {
  if (error instanceof Error) return error.message === '' ? error.name : error.message;
  try {
    return String(error);
  } catch {
    return 'unprintable exception';
  }
}

/** The traceback as a list of lines (the SDK's `stack`), causes included. */
export function stackLines(error: unknown): string[] {
  const lines: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 5; depth += 1) {
    if (depth > 0) lines.push('Caused by:');
    if (current instanceof Error) {
      lines.push(...(current.stack ?? `${current.name}: ${current.message}`).split('\n'));
      current = current.cause;
    } else {
      lines.push(exceptionText(current));
      current = undefined;
    }
  }
  return lines;
}

export function reportCrash(logger: Logger, report: CrashReport): void {
  const { error } = report;
  logger.fatal(CRASH_MESSAGE, {
    main_name: report.mainName,
    event_type: eventTypeString('TASK_CRASHED'),
    exc_str: exceptionText(error),
    ...(error instanceof TaskError ? { error_kind: error.kind, error_context: error.context } : {}),
    stack: stackLines(error),
  });
}
