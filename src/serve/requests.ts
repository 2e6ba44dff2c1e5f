/**
 * Reading requests as the SDK sends them (docs/supervisely-serving-api.md §0): JSON bodies are an envelope
 * `{"state", "context", "api_token"}`; multipart bodies carry repeated `files` fields and the state as a JSON
 * string in a field named `state` or `settings` (an empty `state` falls back to `settings`).
 */
import type { FastifyRequest } from 'fastify';
import { badRequest } from './http-error';

export interface Upload {
  /** The multipart field the file came in (`files`, `mask`). */
  readonly field: string;
  readonly filename: string;
  readonly mimetype: string;
  readonly bytes: Buffer;
}

export interface ParsedRequest {
  readonly state: Record<string, unknown>;
  readonly context: Record<string, unknown>;
  readonly files: readonly Upload[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A JSON string field of a multipart body, as an object; `{}` for an empty one. */
function parseJsonField(name: string, text: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw badRequest(`the multipart field "${name}" is not JSON: ${(e as Error).message}`);
  }
  if (!isObject(value)) throw badRequest(`the multipart field "${name}" must be a JSON object`);
  return value;
}

/** The state, context and uploaded files of a request, whether JSON or multipart. */
export async function readRequest(req: FastifyRequest): Promise<ParsedRequest> {
  if (req.isMultipart()) {
    const files: Upload[] = [];
    const fields: Record<string, string> = {};
    for await (const part of req.parts()) {
      if (part.type === 'file') {
        // toBuffer throws a 413 when the file passes the size limit (the limit is set on the plugin).
        const bytes = await part.toBuffer();
        files.push({ field: part.fieldname, filename: part.filename, mimetype: part.mimetype, bytes });
      } else if (typeof part.value === 'string') {
        fields[part.fieldname] = part.value;
      }
    }
    let state = parseJsonField('state', fields.state ?? '');
    if (Object.keys(state).length === 0 && fields.settings !== undefined) {
      state = parseJsonField('settings', fields.settings);
    }
    const context = fields.context === undefined ? {} : parseJsonField('context', fields.context);
    return { state, context, files };
  }
  const body: unknown = req.body ?? {};
  if (!isObject(body)) throw badRequest('the request body must be a JSON object');
  const state = body.state ?? {};
  const context = body.context ?? {};
  if (!isObject(state)) throw badRequest('"state" must be a JSON object');
  if (!isObject(context)) throw badRequest('"context" must be a JSON object');
  return { state, context, files: [] };
}

/** `state.settings` (SessionJSON nests the client's settings there); `{}` when absent. */
export function settingsOf(state: Record<string, unknown>): Record<string, unknown> {
  const s = state.settings;
  if (s === undefined || s === null) return {};
  if (!isObject(s)) throw badRequest('"state.settings" must be a JSON object');
  return s;
}

/** A whole number from a request field, or a 400 naming it. */
export function intField(value: unknown, name: string, min = 0): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min) {
    throw badRequest(`"${name}" must be a whole number >= ${min}, got ${JSON.stringify(value)}`);
  }
  return n;
}

export { isObject };
