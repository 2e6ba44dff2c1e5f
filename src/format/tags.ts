/** Tags on images and on objects (spec B.5): the meta must exist and the value must fit its type. */

import { dataError, type TaskErrorContext } from '../errors';
import { describeJsonType, expectArray, expectObject, expectString, extraKeys, indexed } from './json-fields';
import type { ProjectMeta, Tag } from './model';
import type { TagJson } from './types';

const TAG_KEYS: ReadonlySet<string> = new Set(['name', 'value']);

/** Parses a `tags` array; `field` is the array's name in error locations (`tags`). */
export function parseTags(json: unknown, meta: ProjectMeta, where: TaskErrorContext): Tag[] {
  const list = expectArray(json, { ...where, field: 'tags' });
  return list.map((t, i) => parseTag(t, meta, { ...where, field: indexed('tags', i) }));
}

export function parseTag(json: unknown, meta: ProjectMeta, where: TaskErrorContext): Tag {
  // Legacy: a bare string is a tag without a value.
  const obj = typeof json === 'string' ? { name: json } : expectObject(json, where);
  const name = expectString(obj.name, where);
  const value = parseTagValue(name, obj.value, meta, where);
  return { name, ...(value !== undefined ? { value } : {}), extra: extraKeys(obj, TAG_KEYS) };
}

/**
 * The value of tag `name` as read (`raw`: undefined or null for none), checked against its tag meta, which
 * must exist; undefined for a `none` tag. Image and video tags share it.
 */
export function parseTagValue(
  name: string,
  raw: unknown,
  meta: ProjectMeta,
  where: TaskErrorContext,
): number | string | undefined {
  const tagMeta = meta.tagMetaByName.get(name);
  if (tagMeta === undefined) {
    throw dataError(`tag "${name}" is not defined in the project meta (meta.json "tags")`, where);
  }
  const bad = (expected: string): never => {
    throw dataError(
      `tag "${name}" (${tagMeta.valueType}) needs ${expected}, got ${describeJsonType(raw)}`,
      where,
    );
  };
  switch (tagMeta.valueType) {
    case 'none':
      if (raw !== undefined && raw !== null) bad('no value');
      return undefined;
    case 'any_number':
      if (typeof raw !== 'number' || !Number.isFinite(raw)) bad('a number');
      return raw as number;
    case 'any_string':
      if (typeof raw !== 'string') bad('a string');
      return raw as string;
    case 'date':
      // An ISO date string; the SDK's own check of the format is not reproduced.
      if (typeof raw !== 'string') bad('a date string');
      return raw as string;
    case 'oneof_string': {
      const values = tagMeta.values ?? [];
      if (typeof raw !== 'string' || !values.includes(raw)) bad(`one of ${JSON.stringify(values)}`);
      return raw as string;
    }
  }
}

export function tagToJson(tag: Tag): TagJson {
  return {
    name: tag.name,
    ...(tag.value !== undefined ? { value: tag.value } : {}),
    ...tag.extra,
  } as TagJson;
}
