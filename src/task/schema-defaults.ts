/**
 * Defaults live in one place: the `default` values of the JSON Schemas in ./schemas. This builds the default
 * config from them, so the merge (update_recursively) and the validation read the same source.
 */

import { deepCopy } from './update-recursively';
import type { JsonObject } from './update-recursively';

export type JsonSchema = { [key: string]: unknown };

/**
 * The default value a schema describes: its `default` if it has one, else (for an object schema with
 * properties) an object of its properties' defaults, else undefined. `$ref`s to "#/definitions/<name>" are
 * followed inside `root`.
 */
export function defaultsFromSchema(schema: JsonSchema, root: JsonSchema = schema): unknown {
  if (Object.prototype.hasOwnProperty.call(schema, 'default')) return deepCopy(schema.default);
  const target = resolveLocalRef(schema, root);
  if (target !== schema) return defaultsFromSchema(target, root);
  const properties = schema.properties;
  if (typeof properties !== 'object' || properties === null) return undefined;
  const out: JsonObject = {};
  for (const [key, sub] of Object.entries(properties as Record<string, JsonSchema>)) {
    const value = defaultsFromSchema(sub, root);
    if (value !== undefined)
      Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** The schema a local "$ref": "#/definitions/x" points to, or the schema itself. */
export function resolveLocalRef(schema: JsonSchema, root: JsonSchema): JsonSchema {
  const ref = schema.$ref;
  if (typeof ref !== 'string' || !ref.startsWith('#/')) return schema;
  let node: unknown = root;
  for (const part of ref.slice(2).split('/')) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[key] : undefined;
  }
  return typeof node === 'object' && node !== null ? (node as JsonSchema) : schema;
}
