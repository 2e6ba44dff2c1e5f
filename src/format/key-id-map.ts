/**
 * `key_id_map.json` at a video project's root (docs/supervisely-video-format.md V.7): server ids by annotation
 * key, for tags, objects, figures and videos. Local annotations refer to each other by key only, so a plugin
 * that reads and writes local projects just carries the map through; keys are written as UUID hex, as the SDK.
 */

import { dataError, type TaskErrorContext } from '../errors';
import { describeJsonType, expectObject } from './json-fields';
import { uuidHex } from './uuid-key';

export const KEY_ID_MAP_SECTIONS = ['tags', 'objects', 'figures', 'videos'] as const;
export type KeyIdMapSection = (typeof KEY_ID_MAP_SECTIONS)[number];

/** Server id (or null) by UUID hex, per section. */
export type KeyIdMap = Readonly<Record<KeyIdMapSection, Readonly<Record<string, number | null>>>>;

/** What `VideoProject(CREATE)` writes: every section empty. */
export function emptyKeyIdMap(): KeyIdMap {
  return { tags: {}, objects: {}, figures: {}, videos: {} };
}

/** A missing section is empty; other top-level keys are ignored; keys must be UUIDs, ids integers or null. */
export function parseKeyIdMap(json: unknown, options: { file: string }): KeyIdMap {
  const where: TaskErrorContext = { file: options.file };
  const obj = expectObject(json, where);
  const out: Record<KeyIdMapSection, Record<string, number | null>> = {
    tags: {},
    objects: {},
    figures: {},
    videos: {},
  };
  for (const section of KEY_ID_MAP_SECTIONS) {
    if (obj[section] === undefined || obj[section] === null) continue;
    const entries = expectObject(obj[section], { ...where, field: section });
    for (const [key, id] of Object.entries(entries)) {
      const at = { ...where, field: `${section}.${key}` };
      const hex = uuidHex(key);
      if (hex === null) throw dataError('the key is not a UUID', at);
      if (id !== null && !(typeof id === 'number' && Number.isInteger(id))) {
        throw dataError(`expected an integer id or null, got ${describeJsonType(id)}`, at);
      }
      out[section][hex] = id;
    }
  }
  return out;
}

export function keyIdMapToJson(map: KeyIdMap): Record<KeyIdMapSection, Record<string, number | null>> {
  return {
    tags: { ...map.tags },
    objects: { ...map.objects },
    figures: { ...map.figures },
    videos: { ...map.videos },
  };
}
