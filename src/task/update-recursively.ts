/**
 * The SDK's `update_recursively(lhs, rhs)` (spec E.2, SDK path `nn/config.py`), as a pure function:
 * - a mapping in `rhs` is merged into the same key of `lhs` (recursively);
 * - anything else (numbers, strings, lists, null) replaces the value wholesale;
 * - keys absent from `lhs` are added.
 * Where the SDK crashes with a TypeError (a non-empty mapping over a non-mapping default), this throws a config
 * error naming the field; an empty mapping over a non-mapping leaves it unchanged, as in the SDK.
 */

import { configError } from '../errors';

export type JsonObject = { [key: string]: unknown };

export interface UpdateOptions {
  /** The file named in errors, e.g. "task_config.json". */
  file?: string;
  /** The JSON path of `lhs` inside that file, e.g. "mode"; "" for the root. */
  path?: string;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A new object: `lhs` updated by `rhs`. Neither input is modified. */
export function updateRecursively(lhs: JsonObject, rhs: JsonObject, options: UpdateOptions = {}): JsonObject {
  const out = deepCopy(lhs) as JsonObject;
  for (const [key, value] of Object.entries(rhs)) {
    const field = joinPath(options.path ?? '', key);
    if (!isJsonObject(value)) {
      setOwn(out, key, deepCopy(value));
      continue;
    }
    const current = Object.prototype.hasOwnProperty.call(out, key) ? out[key] : {};
    if (isJsonObject(current)) {
      setOwn(out, key, updateRecursively(current, value, { ...options, path: field }));
    } else if (Object.keys(value).length > 0) {
      throw configError(
        `expected ${describeKind(current)} (the default is ${preview(current)}), found an object`,
        {
          file: options.file,
          field,
        },
      );
    }
    // An empty object over a non-object leaves the default as it is (the SDK's loop body never runs).
  }
  return out;
}

export function deepCopy<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v: unknown) => deepCopy(v)) as T;
  if (isJsonObject(value)) {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(value)) setOwn(out, k, deepCopy(v));
    return out as T;
  }
  return value;
}

/** JSON path text: "a.b", "a[0]". */
export function joinPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  return base === '' ? key : `${base}.${key}`;
}

function setOwn(obj: JsonObject, key: string, value: unknown): void {
  // defineProperty: a "__proto__" key in user JSON stays data and never reaches a prototype.
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function describeKind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'number') return 'a number';
  if (typeof value === 'boolean') return 'true or false';
  return typeof value;
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
