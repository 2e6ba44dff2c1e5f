/**
 * One log record → one JSON line the agent can read (spec D.2, D.3, H.5). Pure: no clock, no I/O.
 *
 * Guarantees, whatever the caller passes:
 * - `message` and `level` are strings, `timestamp` is `YYYY-MM-DDTHH:MM:SS.mmmZ`;
 * - no top-level key is a Python LogRecord attribute (they crash the agent's log loop, spec D.2): such keys are
 *   renamed with a trailing underscore, e.g. `name` → `name_`;
 * - `event_type`, if present, is an "EventType.<NAME>" string (anything else is renamed like a reserved key);
 * - numbers are finite (non-finite → null), and the line is valid strict JSON with no raw newline;
 * - the line is at most `maxBytes` UTF-8 bytes: the largest extras are shrunk first, and the line says which
 *   under `log_truncated` ({key: original size in bytes}).
 */

import type { LevelName } from './levels';
import { isEventTypeString } from './event-types';
import type { JsonValue } from './json-safe';
import { toJsonSafe } from './json-safe';

/** Docker's json-file driver splits lines at 16 KiB (spec D.1); stay below it with room for the newline. */
export const MAX_LINE_BYTES = 16000;

/**
 * Keys Python's `Logger.makeRecord` refuses in `extra` (LogRecord attributes on Python 3.12, plus `message` and
 * `asctime`), and the keys this format writes itself.
 */
export const RESERVED_KEYS: ReadonlySet<string> = new Set([
  'name',
  'msg',
  'args',
  'levelname',
  'levelno',
  'pathname',
  'filename',
  'module',
  'exc_info',
  'exc_text',
  'stack_info',
  'lineno',
  'funcName',
  'created',
  'msecs',
  'relativeCreated',
  'thread',
  'threadName',
  'processName',
  'process',
  'taskName',
  'message',
  'asctime',
]);

/** Keys this format writes itself; an extra with one of these names is renamed too. */
const OWN_KEYS: ReadonlySet<string> = new Set(['message', 'level', 'timestamp', 'log_truncated']);

/** The key under which a shrunk line lists what was shrunk ({key: original size in bytes}). */
export const TRUNCATED_KEY = 'log_truncated';

export interface LineRecord {
  message: string;
  level: LevelName;
  time: Date;
  /** Top-level extras, e.g. event_type, subtask, config. */
  extras?: Readonly<Record<string, unknown>>;
  /** Defaults to MAX_LINE_BYTES. */
  maxBytes?: number;
}

export function formatTimestamp(time: Date): string {
  // toISOString is exactly the SDK's shape (spec D.3), in UTC; an invalid date must not throw from a log call.
  return Number.isNaN(time.getTime()) ? new Date(0).toISOString() : time.toISOString();
}

/** The key an extra is written under: itself, or itself with underscores appended until it is free. */
export function safeKey(key: string, taken: ReadonlySet<string>): string {
  let out = key;
  while (RESERVED_KEYS.has(out) || OWN_KEYS.has(out) || taken.has(out)) out += '_';
  return out;
}

/** Extras as written on the wire: JSON-safe, renamed away from reserved keys, `undefined` values left out. */
export function safeExtras(extras: Readonly<Record<string, unknown>> | undefined): Map<string, JsonValue> {
  const out = new Map<string, JsonValue>();
  if (extras === undefined) return out;
  // Ordinary keys first, so a renamed key never takes the name of a real one ("name_" stays "name_").
  const entries = Object.entries(extras);
  const keep = new Set(entries.filter(([k, v]) => isKeptAsIs(k, v)).map(([k]) => k));
  for (const [key, raw] of entries) {
    const value = toJsonSafe(raw);
    if (value === undefined) continue;
    const wireKey = keep.has(key) ? key : safeKey(`${key}_`, new Set([...keep, ...out.keys()]));
    out.set(wireKey, value);
  }
  return out;
}

function isKeptAsIs(key: string, value: unknown): boolean {
  if (RESERVED_KEYS.has(key) || OWN_KEYS.has(key)) return false;
  if (key === 'event_type') return isEventTypeString(value);
  return true;
}

/** The line, without its newline. */
export function formatLine(record: LineRecord): string {
  const maxBytes = record.maxBytes ?? MAX_LINE_BYTES;
  const extras = safeExtras(record.extras);
  const base: Parts = {
    message: typeof record.message === 'string' ? record.message : String(record.message),
    level: record.level,
    timestamp: formatTimestamp(record.time),
    extras,
  };
  const line = render(base);
  return byteLength(line) <= maxBytes ? line : shrinkToFit(base, maxBytes);
}

interface Parts {
  message: string;
  level: string;
  timestamp: string;
  extras: Map<string, JsonValue>;
}

/** SDK key order: message, extras, timestamp, level, stack (spec D.3). Order does not matter to the agent. */
function render(parts: Parts): string {
  const obj: Record<string, JsonValue> = {};
  define(obj, 'message', parts.message);
  for (const [k, v] of parts.extras) if (k !== 'stack') define(obj, k, v);
  define(obj, 'timestamp', parts.timestamp);
  define(obj, 'level', parts.level);
  const stack = parts.extras.get('stack');
  if (stack !== undefined) define(obj, 'stack', stack);
  return JSON.stringify(obj);
}

function define(obj: Record<string, JsonValue>, key: string, value: JsonValue): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** Room kept for the note and the JSON punctuation around shrunk values. */
const NOTE_ROOM = 200;

function shrinkToFit(parts: Parts, maxBytes: number): string {
  const extras = new Map(parts.extras);
  const sizes = new Map<string, number>();
  const rendered = (p: Parts): string => render(withNote(p, sizes));
  // event_type must survive intact (the agent dispatches on it); the rest go largest first.
  const candidates = [...extras.entries()]
    .filter(([k]) => k !== 'event_type')
    .map(([key, value]) => ({ key, value, bytes: byteLength(JSON.stringify(value)) }))
    .sort((a, b) => b.bytes - a.bytes);
  let current: Parts = { ...parts, extras };
  let line = rendered(current);
  for (const { key, value, bytes } of candidates) {
    const excess = byteLength(line) - maxBytes;
    if (excess <= 0) return line;
    extras.set(key, shrinkValue(value, Math.max(0, bytes - excess - NOTE_ROOM)));
    sizes.set(key, bytes);
    current = { ...current, extras };
    line = rendered(current);
  }
  if (byteLength(line) <= maxBytes) return line;
  // Extras alone were not enough: the message itself is huge. Keep its head.
  const messageBytes = byteLength(JSON.stringify(parts.message));
  sizes.set('message', byteLength(parts.message));
  const room = Math.max(0, messageBytes - (byteLength(line) - maxBytes) - NOTE_ROOM);
  current = { ...current, message: shrinkText(parts.message, room) };
  line = rendered(current);
  if (byteLength(line) <= maxBytes) return line;
  // Last resort (a huge number of keys, or huge key names): keep only what the protocol needs.
  const minimal = new Map<string, JsonValue>();
  const eventType = extras.get('event_type');
  if (eventType !== undefined) minimal.set('event_type', eventType);
  minimal.set(TRUNCATED_KEY, { dropped_keys: extras.size });
  return render({
    ...current,
    message: shrinkText(parts.message, Math.floor(maxBytes / 4)),
    extras: minimal,
  });
}

function withNote(parts: Parts, sizes: ReadonlyMap<string, number>): Parts {
  if (sizes.size === 0) return parts;
  const note: Record<string, JsonValue> = {};
  for (const [k, v] of sizes) define(note, k, v);
  const extras = new Map(parts.extras);
  extras.set(TRUNCATED_KEY, note);
  return { ...parts, extras };
}

/** A stand-in whose JSON text fits in `budget` bytes: the head of the string, or of the value's JSON text. */
function shrinkValue(value: JsonValue, budget: number): JsonValue {
  return shrinkText(typeof value === 'string' ? value : JSON.stringify(value), budget);
}

/** The head of `text` whose JSON string form (escapes included) fits in about `budget` bytes. */
function shrinkText(text: string, budget: number): string {
  let keep = budget;
  let out = truncateText(text, keep);
  while (keep > 0 && byteLength(JSON.stringify(out)) > budget) {
    keep = Math.floor(keep / 2);
    out = truncateText(text, keep);
  }
  return out;
}

/** The head of `text` within about `maxBytes` UTF-8 bytes, marked with an ellipsis. */
export function truncateText(text: string, maxBytes: number): string {
  if (byteLength(text) <= maxBytes) return text;
  let end = Math.min(text.length, Math.max(0, maxBytes));
  while (end > 0 && byteLength(text.slice(0, end)) > maxBytes) end = Math.floor(end * 0.9);
  // Do not cut a surrogate pair in half: a lone surrogate is not valid UTF-8.
  if (end > 0 && /[\uD800-\uDBFF]/.test(text[end - 1] ?? '')) end -= 1;
  return `${text.slice(0, end)}…`;
}
