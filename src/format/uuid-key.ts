/**
 * The keys of video annotations (docs/supervisely-video-format.md V.3): UUIDs, read in any form Python's
 * `uuid.UUID()` takes and written as "UUID hex" (32 lower-case hex digits, no dashes), as the SDK writes them.
 */

import { randomUUID } from 'node:crypto';
import { dataError, type TaskErrorContext } from '../errors';
import { describeJsonType } from './json-fields';

/**
 * The UUID hex of `text`, or null if it is not a UUID. Like `uuid.UUID(hex)`: an optional `urn:` / `uuid:`
 * prefix, braces around and dashes anywhere, any case. (Python's `int(…, 16)` would also take a `0x` prefix or
 * underscores between digits; no writer produces those, and they are refused here.)
 */
export function uuidHex(text: string): string | null {
  const bare = text
    .replace(/urn:/g, '')
    .replace(/uuid:/g, '')
    .replace(/^[{}]+|[{}]+$/g, '')
    .replace(/-/g, '');
  return /^[0-9a-fA-F]{32}$/.test(bare) ? bare.toLowerCase() : null;
}

/** A new random key (UUID version 4), as the SDK's `uuid.uuid4().hex`. */
export function newUuidHex(): string {
  return randomUUID().replace(/-/g, '');
}

/**
 * An optional `key` field: absent or null gives a new random key (as the SDK), anything else must be a UUID
 * (the SDK raises ValueError otherwise).
 */
export function parseKey(value: unknown, where: TaskErrorContext): string {
  if (value === undefined || value === null) return newUuidHex();
  const hex = typeof value === 'string' ? uuidHex(value) : null;
  if (hex === null) {
    throw dataError(`expected a UUID (32 hex digits, dashes allowed), got ${describeJsonType(value)}`, where);
  }
  return hex;
}
