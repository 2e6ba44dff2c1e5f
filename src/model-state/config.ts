/**
 * A checkpoint's config.json (spec C.2): `settings` (the full training config), the output classes and
 * `class_title_to_idx`. Read leniently where the SDK plugins differ (`out_classes`, or `classes` in the SDK base
 * classes) and strictly where a wrong value would break inference later; written as `out_classes`.
 */

import path from 'path';
import { errorMessage, modelError } from '../errors';
import type { ModelConfigJson, ObjClassJson } from '../format/types';
import { tooDeepAt, tooDeepMessage } from '../task/json-file';
import { writeFileAtomic } from '../util/atomic';
import { readRegularFile } from '../util/regular-file';

export const MODEL_CONFIG_FILE = 'config.json';

/** config.json after reading: the classes always under `out_classes`; extra top-level keys kept. */
export interface ModelConfig {
  settings: Record<string, unknown>;
  out_classes: ObjClassJson[];
  class_title_to_idx: Record<string, number>;
  /** Other top-level keys a plugin added (spec C.2 allows them). */
  extra: Record<string, unknown>;
}

export interface ModelConfigInput {
  settings: Record<string, unknown>;
  outClasses: readonly ObjClassJson[];
  classTitleToIdx: Readonly<Record<string, number>>;
  /** Extra top-level keys to write. */
  extra?: Readonly<Record<string, unknown>>;
}

/** The JSON written to config.json. */
export function modelConfigJson(input: ModelConfigInput): ModelConfigJson {
  const json: ModelConfigJson = {
    settings: input.settings,
    out_classes: input.outClasses.map((c) => ({ ...c })),
    class_title_to_idx: { ...input.classTitleToIdx },
  };
  // Extra keys follow the SDK's, and never replace them.
  for (const [key, value] of Object.entries(input.extra ?? {})) if (!(key in json)) json[key] = value;
  return json;
}

/**
 * Write `<dir>/config.json` atomically (a temporary file, then rename), so a reader never sees half a file.
 * The input is checked with the same rules as reading, so what is written can be read back.
 */
export async function writeModelConfig(dir: string, input: ModelConfigInput): Promise<string> {
  const json = modelConfigJson(input);
  const file = path.join(dir, MODEL_CONFIG_FILE);
  parseModelConfig(json, file);
  await writeFileAtomic(file, `${JSON.stringify(json, null, 2)}\n`);
  return file;
}

export interface ReadModelConfigOptions {
  /** The file's name in messages, e.g. "model/config.json"; default: the path. */
  displayName?: string;
}

/** Read `<dir>/config.json`; a missing or malformed file is a model error naming the file and the field. */
export async function readModelConfig(
  dir: string,
  options: ReadModelConfigOptions = {},
): Promise<ModelConfig> {
  const file = path.join(dir, MODEL_CONFIG_FILE);
  const shown = options.displayName ?? file;
  let text: string;
  try {
    text = await readRegularFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw modelError(
        'the model has no config.json from training; the model tar must hold config.json and the weights at its top level',
        { file: shown },
      );
    }
    throw modelError(`cannot read the file: ${errorMessage(e)}`, { file: shown }, e);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw modelError(`invalid JSON: ${(e as Error).message}`, { file: shown }, e);
  }
  const deep = tooDeepAt(value);
  if (deep !== undefined) throw modelError(tooDeepMessage(), { file: shown, field: deep });
  return parseModelConfig(value, shown);
}

/** Check and normalise parsed config.json content (pure). */
export function parseModelConfig(value: unknown, file: string): ModelConfig {
  if (!isObject(value)) throw modelError('expected a JSON object at the top level', { file });
  const { settings, out_classes: outClasses, classes, class_title_to_idx: titleToIdx, ...extra } = value;
  if (!isObject(settings)) {
    throw modelError(`expected an object (the training config), found ${kind(settings)}`, {
      file,
      field: 'settings',
    });
  }
  const classesKey = outClasses !== undefined ? 'out_classes' : 'classes';
  const rawClasses = outClasses ?? classes;
  if (rawClasses === undefined) {
    throw modelError('missing: expected the output classes under "out_classes" (or "classes")', {
      file,
      field: 'out_classes',
    });
  }
  const parsedClasses = parseClasses(rawClasses, file, classesKey);
  const parsedMap = parseTitleToIdx(titleToIdx, file);
  // Keep what the other key held, if both were present: a plugin may have meant something by it.
  if (outClasses !== undefined && classes !== undefined) extra.classes = classes;
  return { settings, out_classes: parsedClasses, class_title_to_idx: parsedMap, extra };
}

function parseClasses(value: unknown, file: string, key: string): ObjClassJson[] {
  if (!Array.isArray(value))
    throw modelError(`expected a list of classes, found ${kind(value)}`, { file, field: key });
  const seen = new Set<string>();
  return value.map((c: unknown, i) => {
    const field = `${key}[${i}]`;
    if (!isObject(c)) throw modelError(`expected a class object, found ${kind(c)}`, { file, field });
    for (const name of ['title', 'shape', 'color'] as const) {
      if (typeof c[name] !== 'string' || c[name] === '') {
        throw modelError(`expected a non-empty string, found ${kind(c[name])}`, {
          file,
          field: `${field}.${name}`,
        });
      }
    }
    const title = c.title as string;
    if (seen.has(title))
      throw modelError(`class "${title}" is listed twice`, { file, field: `${field}.title` });
    seen.add(title);
    return { ...c } as unknown as ObjClassJson;
  });
}

function parseTitleToIdx(value: unknown, file: string): Record<string, number> {
  const field = 'class_title_to_idx';
  if (!isObject(value))
    throw modelError(`expected an object {class title: index}, found ${kind(value)}`, { file, field });
  const out: Record<string, number> = {};
  for (const [title, idx] of Object.entries(value)) {
    if (typeof idx !== 'number' || !Number.isInteger(idx) || idx < 0) {
      throw modelError(`expected a non-negative integer index, found ${kind(idx)}`, {
        file,
        field: `${field}.${title}`,
      });
    }
    Object.defineProperty(out, title, { value: idx, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function kind(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string')
    return `${JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value)} (a string)`;
  if (typeof value === 'object') return 'an object';
  return String(value);
}
