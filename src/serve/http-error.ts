/**
 * Errors as the Supervisely serving app returns them (docs/supervisely-serving-api.md §0 "Error shape"):
 * `{"detail", "success": false, "message"}` with a status that fits. A TaskError is the user's to fix: a bad
 * upload or setting is a 4xx, a model that does not fit is a 500 that names the file.
 */
import { TaskError } from '../errors';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Extra response headers, e.g. Retry-After on a full queue. */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export function badRequest(message: string): HttpError {
  return new HttpError(400, message);
}

export function notFound(message: string): HttpError {
  return new HttpError(404, message);
}

/** 503 with Retry-After: the queue is full or the server is stopping; the client should come back. */
export function unavailable(message: string, retryAfterSeconds = 1): HttpError {
  return new HttpError(503, message, { 'retry-after': String(retryAfterSeconds) });
}

export interface ErrorBody {
  readonly detail: string;
  readonly success: false;
  readonly message: string;
}

/** The status and body of any error thrown by a handler. */
export function errorResponse(e: unknown): {
  status: number;
  body: ErrorBody;
  headers: Record<string, string>;
} {
  let status = 500;
  let message = e instanceof Error ? e.message : String(e);
  let headers: Record<string, string> = {};
  if (e instanceof HttpError) {
    status = e.status;
    headers = { ...e.headers };
  } else if (e instanceof TaskError) {
    // config: a bad setting in the request; data: an upload that cannot be read; model: the server's own.
    status = e.kind === 'model' ? 500 : 400;
  } else if (isFrameworkError(e)) {
    status = e.statusCode;
    message = e.message;
  }
  return { status, body: { detail: message, success: false, message }, headers };
}

/** fastify's own errors (body too large, bad JSON, a multipart limit) carry their 4xx status. */
function isFrameworkError(e: unknown): e is Error & { statusCode: number } {
  if (!(e instanceof Error)) return false;
  const status = (e as Error & { statusCode?: unknown }).statusCode;
  return typeof status === 'number' && status >= 400 && status < 600;
}
