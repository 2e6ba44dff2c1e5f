/**
 * Reading JSON files the user wrote, with errors that say where: the file, and the line and column of a syntax
 * error (JSON.parse only gives a character offset, and not on every Node version).
 */

import { configError, errorMessage } from '../errors';
import { readRegularFile } from '../util/regular-file';
import type { TaskErrorContext } from '../errors';
import { joinPath } from './update-recursively';

export interface JsonText {
  text: string;
  /** The name used in messages, e.g. "task_config.json". */
  displayName: string;
}

/** Parse JSON text; a syntax error becomes a config error naming the file, line and column. */
export function parseJsonText({ text, displayName }: JsonText): unknown {
  // A UTF-8 byte order mark is not JSON, but editors write it; Python's json.load refuses it too, so say so.
  if (text.charCodeAt(0) === 0xfeff) {
    throw configError('the file starts with a byte order mark (BOM); save it as UTF-8 without BOM', {
      file: displayName,
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    const offset = syntaxErrorOffset(reason, text);
    const where = offset === undefined ? '' : ` at ${lineColumn(text, offset)}`;
    throw configError(`invalid JSON${where}: ${cleanReason(reason)}`, { file: displayName });
  }
  const deep = tooDeepAt(value);
  if (deep !== undefined) throw configError(tooDeepMessage(), { file: displayName, field: deep });
  return value;
}

/**
 * How deep a config may nest (objects and lists within each other): far beyond any real config, which nests a
 * few levels, and far below the depth at which the recursive walks of a config (merging, copying, validating)
 * run out of stack ("Maximum call stack size exceeded", naming no file).
 */
export const MAX_JSON_DEPTH = 100;

export function tooDeepMessage(): string {
  return `nested more than ${MAX_JSON_DEPTH} levels deep (objects and lists within each other); a config nests a few`;
}

/**
 * Where a parsed JSON value nests more than `max` objects or lists deep: the path of the first container
 * past that depth (shortened), or undefined. Iterative, so it is safe at any depth.
 */
export function tooDeepAt(value: unknown, max = MAX_JSON_DEPTH): string | undefined {
  const stack: { value: unknown; depth: number; path: string }[] = [{ value, depth: 1, path: '' }];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    if (typeof next.value !== 'object' || next.value === null) continue;
    if (next.depth > max) return shortPath(next.path);
    const children: [string | number, unknown][] = Array.isArray(next.value)
      ? next.value.map((v, i) => [i, v])
      : Object.entries(next.value);
    for (const [key, child] of children) {
      stack.push({ value: child, depth: next.depth + 1, path: joinPath(next.path, key) });
    }
  }
  return undefined;
}

function shortPath(path: string): string {
  return path.length > 60 ? `${path.slice(0, 57)}...` : path;
}

/** Read and parse a JSON file; a missing file is a config error unless `context` says otherwise. */
export async function readJsonFile(
  file: string,
  displayName: string,
  context: TaskErrorContext = {},
): Promise<unknown> {
  let text: string;
  try {
    text = await readRegularFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : `cannot read the file: ${errorMessage(e)}`;
    throw configError(why, { file: displayName, ...context });
  }
  return parseJsonText({ text, displayName });
}

/**
 * The character offset of a JSON.parse error: "at position N" when V8 gives it, "(line L column C)" on newer
 * Node, otherwise our own scan (V8 says only "Unexpected token 'x'" for some errors).
 */
export function syntaxErrorOffset(reason: string, text: string): number | undefined {
  const position = /at position (\d+)/.exec(reason);
  if (position !== null) return Number(position[1]);
  const lineCol = /\(line (\d+) column (\d+)\)/.exec(reason);
  if (lineCol !== null) return offsetOf(text, Number(lineCol[1]), Number(lineCol[2]));
  return firstJsonErrorOffset(text);
}

/** Where a strict JSON scan of `text` first fails, or undefined if it does not fail. */
export function firstJsonErrorOffset(text: string): number | undefined {
  let i = 0;
  const fail = (): never => {
    throw new ScanStop(i);
  };
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i] as string)) i += 1;
  };
  const literal = (word: string): void => {
    // Point at the start of a misspelt literal ("tru"), not somewhere inside it.
    if (!text.startsWith(word, i)) fail();
    i += word.length;
  };
  const string = (): void => {
    i += 1; // opening quote
    for (;;) {
      if (i >= text.length) fail();
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i += 1;
        return;
      }
      if (c < 0x20) fail();
      if (c === 0x5c) {
        i += 1;
        const e = text[i];
        if (e === 'u') {
          for (let k = 1; k <= 4; k += 1) {
            if (!/[0-9a-fA-F]/.test(text[i + k] ?? '')) {
              i += k;
              fail();
            }
          }
          i += 5;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 1;
        else fail();
      } else i += 1;
    }
  };
  const digits = (): void => {
    if (!isDigit(text[i])) fail();
    while (isDigit(text[i])) i += 1;
  };
  const number = (): void => {
    if (text[i] === '-') i += 1;
    if (text[i] === '0') i += 1;
    else digits();
    if (text[i] === '.') {
      i += 1;
      digits();
    }
    if (text[i] === 'e' || text[i] === 'E') {
      i += 1;
      if (text[i] === '+' || text[i] === '-') i += 1;
      digits();
    }
  };
  let depth = 0;
  const value = (): void => {
    ws();
    const c = text[i];
    // Past the depth a config may have, the scan stops where it is (it recurses: its stack is bounded too).
    if ((c === '{' || c === '[') && depth >= MAX_JSON_DEPTH) fail();
    if (c === '{' || c === '[') {
      depth += 1;
      container(c);
      depth -= 1;
      return;
    }
    if (c === '"') return string();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    number();
  };
  const container = (c: string): void => {
    i += 1;
    if (c === '{') {
      ws();
      if (text[i] === '}') return void (i += 1);
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        string();
        ws();
        if (text[i] !== ':') fail();
        i += 1;
        value();
        ws();
        if (text[i] === ',') i += 1;
        else if (text[i] === '}') return void (i += 1);
        else fail();
      }
    }
    ws();
    if (text[i] === ']') return void (i += 1);
    for (;;) {
      value();
      ws();
      if (text[i] === ',') i += 1;
      else if (text[i] === ']') return void (i += 1);
      else fail();
    }
  };
  try {
    value();
    ws();
    if (i < text.length) fail();
    return undefined;
  } catch (e) {
    if (e instanceof ScanStop) return e.offset;
    throw e;
  }
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

class ScanStop {
  constructor(readonly offset: number) {}
}

/** "line L, column C", both from 1. */
export function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const lines = before.split('\n');
  return `line ${lines.length}, column ${(lines[lines.length - 1]?.length ?? 0) + 1}`;
}

function offsetOf(text: string, line: number, column: number): number {
  const lines = text.split('\n');
  let offset = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i += 1) offset += (lines[i]?.length ?? 0) + 1;
  return offset + column - 1;
}

/** V8's reason without its own position text and without the echo of the input. */
function cleanReason(reason: string): string {
  return reason
    .replace(/ in JSON at position \d+.*$/, '')
    .replace(/, "[\s\S]*" is not valid JSON$/, '')
    .replace(/ \(line \d+ column \d+\)$/, '')
    .trim();
}
