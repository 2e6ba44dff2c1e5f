/**
 * JSON Schema validation (ajv) with messages a user can act on: each problem names the JSON path, what was
 * expected and what was found, and an unknown key comes with the nearest known key ("did you mean ...?").
 */

import Ajv from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { configError } from '../errors';
import sharedDefinitions from './schemas/definitions.json';
import type { JsonSchema } from './schema-defaults';
import { resolveLocalRef } from './schema-defaults';
import { joinPath } from './update-recursively';

export interface ValidateOptions {
  /** The file named in errors, e.g. "task_config.json". */
  file?: string;
  /** Where the validated value sits in that file, e.g. "mode"; "" for the root. */
  pathPrefix?: string;
}

export interface Problem {
  /** JSON path, e.g. "batch_size.train" ("" for the value itself). */
  path: string;
  /** What is wrong, e.g. 'expected an integer >= 1, found "8" (a string)'. */
  text: string;
}

const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true });
const compiled = new WeakMap<JsonSchema, { validate: ValidateFunction; root: JsonSchema }>();

/** A schema with the shared definitions inlined next to its own (as the SDK's JsonConfigValidator does). */
export function withSharedDefinitions(schema: JsonSchema): JsonSchema {
  const own = (schema.definitions ?? {}) as Record<string, unknown>;
  return { ...schema, definitions: { ...sharedDefinitions.definitions, ...own } };
}

function compile(schema: JsonSchema): { validate: ValidateFunction; root: JsonSchema } {
  let entry = compiled.get(schema);
  if (entry === undefined) {
    const root = withSharedDefinitions(schema);
    entry = { validate: ajv.compile(root), root };
    compiled.set(schema, entry);
  }
  return entry;
}

/** The problems with `value` under `schema`; [] when it is valid. */
export function schemaProblems(value: unknown, schema: JsonSchema): Problem[] {
  const { validate, root } = compile(schema);
  if (validate(value)) return [];
  return describeErrors(validate.errors ?? [], root);
}

/** Throw one config error listing every problem (the first one's path is the error's field). */
export function assertValid(value: unknown, schema: JsonSchema, options: ValidateOptions = {}): void {
  const problems = schemaProblems(value, schema).map((p) => ({
    ...p,
    path: prefixPath(options.pathPrefix, p.path),
  }));
  if (problems.length > 0) throw problemsError(problems, options.file);
}

export function problemsError(problems: readonly Problem[], file: string | undefined): Error {
  const [first, ...rest] = problems as [Problem, ...Problem[]];
  const more = rest.map((p) => `${p.path === '' ? 'the config' : `field "${p.path}"`}: ${p.text}`);
  const detail = more.length === 0 ? first.text : `${first.text}; also ${more.join('; ')}`;
  return configError(detail, { file, field: first.path === '' ? undefined : first.path });
}

function prefixPath(prefix: string | undefined, path: string): string {
  if (prefix === undefined || prefix === '') return path;
  if (path === '') return prefix;
  return path.startsWith('[') ? `${prefix}${path}` : `${prefix}.${path}`;
}

// ---- turning ajv errors into problems ----

function describeErrors(errors: readonly ErrorObject[], root: JsonSchema): Problem[] {
  // An anyOf/oneOf failure also reports why each branch failed; the branch errors only confuse, so keep the
  // summary ("expected "auto" or an integer >= 1").
  const unions = errors
    .filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf')
    .map((e) => e.schemaPath);
  const kept = errors.filter((e) => !unions.some((u) => e.schemaPath.startsWith(`${u}/`)));
  const seen = new Set<string>();
  const out: Problem[] = [];
  for (const e of kept) {
    const problem = describeError(e, root);
    const key = `${problem.path}\u0000${problem.text}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(problem);
    }
  }
  return out;
}

function describeError(e: ErrorObject, root: JsonSchema): Problem {
  const path = pointerToPath(e.instancePath);
  const found = describeValue(e.data);
  const params = e.params as Record<string, unknown>;
  const parent = (e.parentSchema ?? {}) as JsonSchema;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const known = Object.keys((resolveLocalRef(parent, root).properties ?? {}) as object);
      const guess = nearest(key, known);
      const hint = guess !== undefined ? `did you mean "${guess}"?` : `known keys: ${known.join(', ')}`;
      return { path: joinPath(path, key), text: `unknown key; ${hint}` };
    }
    case 'required':
      return { path: joinPath(path, String(params.missingProperty)), text: 'missing (it is required)' };
    case 'type':
      return { path, text: `expected ${typeText(params.type)}, found ${found}` };
    case 'enum':
      return { path, text: `expected one of ${listText(params.allowedValues)}, found ${found}` };
    case 'const':
      return { path, text: `expected ${JSON.stringify(params.allowedValue)}, found ${found}` };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return {
        path,
        text: `expected a number ${String(params.comparison)} ${String(params.limit)}, found ${found}`,
      };
    case 'multipleOf':
      return { path, text: `expected a multiple of ${String(params.multipleOf)}, found ${found}` };
    case 'minItems':
      return { path, text: `expected at least ${String(params.limit)} item(s), found ${found}` };
    case 'uniqueItems':
      return {
        path,
        text: `expected no repeated items, found ${found} (items ${params.j} and ${params.i} are equal)`,
      };
    case 'minLength':
      return {
        path,
        text: `expected a string of at least ${String(params.limit)} character(s), found ${found}`,
      };
    case 'pattern':
      return {
        path,
        text: `expected ${String(parent.description ?? `a string matching ${String(params.pattern)}`)}, found ${found}`,
      };
    case 'anyOf':
    case 'oneOf':
      return {
        path,
        text: `expected ${String(parent.description ?? 'one of the allowed forms')}, found ${found}`,
      };
    default:
      return { path, text: `${e.message ?? 'is not valid'}, found ${found}` };
  }
}

/** "/batch_size/train" → "batch_size.train", "/gpu_devices/1" → "gpu_devices[1]". */
export function pointerToPath(pointer: string): string {
  if (pointer === '') return '';
  let out = '';
  for (const raw of pointer.slice(1).split('/')) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out = /^[0-9]+$/.test(part) ? joinPath(out, Number(part)) : joinPath(out, part);
  }
  return out;
}

/** A short, typed description of a found value: `"8" (a string)`, `2.5`, `a list of 3 items`, `an object`. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') {
    const text = value.length > 40 ? `${value.slice(0, 37)}...` : value;
    return `${JSON.stringify(text)} (a string)`;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `a list of ${value.length} item${value.length === 1 ? '' : 's'}`;
  return 'an object';
}

function typeText(type: unknown): string {
  const names: Record<string, string> = {
    integer: 'an integer',
    number: 'a number',
    string: 'a string',
    boolean: 'true or false',
    object: 'an object',
    array: 'a list',
    null: 'null',
  };
  const types = Array.isArray(type) ? type : String(type).split(',');
  return types.map((t) => names[String(t)] ?? String(t)).join(' or ');
}

function listText(values: unknown): string {
  return Array.isArray(values) ? values.map((v) => JSON.stringify(v)).join(', ') : String(values);
}

/** The known key closest to a misspelled one, if it is close enough to be a likely typo. */
export function nearest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  const allowed = Math.max(2, Math.floor(Math.max(key.length, 1) / 3));
  return best !== undefined && bestDistance <= allowed ? best : undefined;
}

/** Damerau-Levenshtein distance (optimal string alignment): swapped letters count as one edit. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i < rows; i += 1) {
    for (let j = 1; j < cols; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const row = d[i] as number[];
      const prev = d[i - 1] as number[];
      let value = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        value = Math.min(value, ((d[i - 2] as number[])[j - 2] as number) + 1);
      }
      row[j] = value;
    }
  }
  return (d[rows - 1] as number[])[cols - 1] as number;
}
