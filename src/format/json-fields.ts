/**
 * Small checks for reading wire JSON. Each failure is a data error that names the file, the item and the field,
 * so a user can find the broken value (spec H.3).
 */

import { dataError, type TaskErrorContext } from '../errors';

export type JsonObject = Record<string, unknown>;

export function describeJsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function expectObject(value: unknown, where: TaskErrorContext): JsonObject {
  if (!isJsonObject(value)) throw dataError(`expected an object, got ${describeJsonType(value)}`, where);
  return value;
}

export function expectArray(value: unknown, where: TaskErrorContext): unknown[] {
  if (!Array.isArray(value)) throw dataError(`expected an array, got ${describeJsonType(value)}`, where);
  return value;
}

export function expectString(value: unknown, where: TaskErrorContext): string {
  if (typeof value !== 'string') throw dataError(`expected a string, got ${describeJsonType(value)}`, where);
  return value;
}

export function expectFiniteNumber(value: unknown, where: TaskErrorContext): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw dataError(`expected a number, got ${describeJsonType(value)}`, where);
  }
  return value;
}

/** An optional string field: absent or null gives the default. */
export function optionalString(
  obj: JsonObject,
  key: string,
  fallback: string,
  where: TaskErrorContext,
): string {
  const value = obj[key];
  if (value === undefined || value === null) return fallback;
  return expectString(value, { ...where, field: key });
}

/** The keys of `obj` that are not in `known`, as a new object (pass-through of server metadata). */
export function extraKeys(obj: JsonObject, known: ReadonlySet<string>): JsonObject {
  const extra: JsonObject = {};
  for (const [key, value] of Object.entries(obj)) if (!known.has(key)) extra[key] = value;
  return extra;
}

/** `prefix[index]` for error locations such as `objects[3]`. */
export function indexed(prefix: string, index: number): string {
  return `${prefix}[${index}]`;
}

/** `JSON.parse`, with invalid JSON a data error naming the file. */
export function parseJsonText(text: string, where: TaskErrorContext): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw dataError(`invalid JSON: ${(e as Error).message}`, where, e);
  }
}
