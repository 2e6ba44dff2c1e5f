/**
 * Turning arbitrary values into plain JSON that Python's json.loads and JSON.parse read the same way.
 * Non-finite numbers become null (spec D.3, H.5.12); nothing here throws, because a log call must never fail.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

const MAX_DEPTH = 40;

/** A JSON-safe copy of `value`; `undefined` means "leave the key out" (as JSON.stringify does). */
export function toJsonSafe(value: unknown): JsonValue | undefined {
  return convert(value, new Set<object>(), 0);
}

function convert(value: unknown, ancestors: Set<object>, depth: number): JsonValue | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : null;
    case 'bigint':
      return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    default:
      break;
  }
  if (value === null) return null;
  const obj = value as object;
  if (ancestors.has(obj)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Too deep]';
  ancestors.add(obj);
  try {
    return convertObject(obj, ancestors, depth + 1);
  } finally {
    ancestors.delete(obj);
  }
}

function convertObject(obj: object, ancestors: Set<object>, depth: number): JsonValue | undefined {
  if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? null : obj.toISOString();
  if (obj instanceof Error) return obj.message === '' ? obj.name : `${obj.name}: ${obj.message}`;
  if (ArrayBuffer.isView(obj) && !(obj instanceof DataView)) {
    return Array.from(
      obj as unknown as ArrayLike<number | bigint>,
      (x) => convert(x, ancestors, depth) ?? null,
    );
  }
  if (Array.isArray(obj)) return obj.map((x) => convert(x, ancestors, depth) ?? null);
  if (obj instanceof Set) return Array.from(obj, (x) => convert(x, ancestors, depth) ?? null);
  if (obj instanceof Map) {
    const out: { [key: string]: JsonValue } = {};
    for (const [k, v] of obj) setIfDefined(out, String(k), convert(v, ancestors, depth));
    return out;
  }
  const withToJson = obj as { toJSON?: unknown };
  if (typeof withToJson.toJSON === 'function') {
    return convert((withToJson.toJSON as () => unknown).call(obj), ancestors, depth);
  }
  const out: { [key: string]: JsonValue } = {};
  for (const [k, v] of Object.entries(obj)) setIfDefined(out, k, convert(v, ancestors, depth));
  return out;
}

function setIfDefined(out: { [key: string]: JsonValue }, key: string, value: JsonValue | undefined): void {
  // defineProperty, not assignment: a key named "__proto__" must stay an ordinary key.
  if (value !== undefined)
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
}
