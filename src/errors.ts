/**
 * Errors users can act on. Every failure that is the user's to fix (a bad config, a broken image, an unknown
 * class, a model that does not fit) is a TaskError that names where it happened. The main wrapper turns it
 * into the crash line and exit code 1 in one place (spec H.3).
 */

export type TaskErrorKind = 'config' | 'data' | 'model';

export interface TaskErrorContext {
  /** The file the problem is in, as the user knows it (a path inside the task folder or the project). */
  file?: string;
  /** The item inside that file or folder: an image name, an object index, a layer name. */
  item?: string;
  /** The JSON path or field name, e.g. `batch_size.train` or `objects[3].classTitle`. */
  field?: string;
}

export class TaskError extends Error {
  readonly kind: TaskErrorKind;
  readonly context: TaskErrorContext;
  /** The message without the location prefix. */
  readonly detail: string;

  constructor(
    kind: TaskErrorKind,
    detail: string,
    context: TaskErrorContext = {},
    options?: { cause?: unknown },
  ) {
    super(formatMessage(detail, context), options);
    this.name = 'TaskError';
    this.kind = kind;
    this.context = { ...context };
    this.detail = detail;
  }

  /** The same error with more context filled in (inner context wins: it is the more precise one). */
  withContext(outer: TaskErrorContext): TaskError {
    const merged: TaskErrorContext = { ...outer, ...this.context };
    return new TaskError(this.kind, this.detail, merged, { cause: this.cause });
  }
}

export function configError(detail: string, context: TaskErrorContext = {}): TaskError {
  return new TaskError('config', detail, context);
}

export function dataError(detail: string, context: TaskErrorContext = {}, cause?: unknown): TaskError {
  return new TaskError('data', detail, context, { cause });
}

export function modelError(detail: string, context: TaskErrorContext = {}, cause?: unknown): TaskError {
  return new TaskError('model', detail, context, { cause });
}

/** `file: item: field: detail`, leaving out what is unknown. */
export function formatMessage(detail: string, context: TaskErrorContext): string {
  const where: string[] = [];
  if (context.file !== undefined) where.push(context.file);
  if (context.item !== undefined) where.push(context.item);
  if (context.field !== undefined) where.push(`field "${context.field}"`);
  return where.length > 0 ? `${where.join(': ')}: ${detail}` : detail;
}

/** The message of anything thrown, for wrapping foreign errors. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * An error as it crosses a worker thread boundary (structured clone keeps no class). The one format of the
 * worker-thread channel (src/threads) every worker thread speaks: `serializeError` in the thread,
 * `deserializeError` where the answer arrives.
 */
export interface SerializedError {
  readonly message: string;
  readonly stack?: string;
  readonly taskKind?: TaskErrorKind;
  readonly detail?: string;
  readonly context?: TaskErrorContext;
}

export function serializeError(e: unknown): SerializedError {
  if (e instanceof TaskError) {
    return {
      message: e.message,
      stack: e.stack,
      taskKind: e.kind,
      detail: e.detail,
      context: { ...e.context },
    };
  }
  return {
    message: errorMessage(e),
    ...(e instanceof Error && e.stack !== undefined ? { stack: e.stack } : {}),
  };
}

/**
 * A TaskError stays a TaskError, with its kind, detail and context (they decide the crash line); anything else
 * becomes an Error whose message says which thread threw it. Either way the thread's stack is kept below the
 * message, after a line naming the thread.
 */
export function deserializeError(s: SerializedError, thread: string): Error {
  const err =
    s.taskKind !== undefined
      ? new TaskError(s.taskKind, s.detail ?? s.message, s.context ?? {})
      : new Error(`${thread}: ${s.message}`);
  if (s.stack !== undefined) err.stack = `${err.message}\n--- in ${thread} ---\n${s.stack}`;
  return err;
}
