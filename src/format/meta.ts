/**
 * meta.json (spec B.2): classes and tag metas. Reading accepts the legacy forms (bare-string tag metas,
 * `tags_images` / `tags_objects`) and ignores unknown keys; writing produces the SDK's current form. Video
 * projects share the file (docs/supervisely-video-format.md V.2): a tag meta's `target_type`, a class's
 * `description` and `projectSettings` are kept when present and written back, so a video project's meta
 * survives a round trip; an image meta without them is written as before.
 */

import { dataError, type TaskErrorContext } from '../errors';
import { colorForName, parseHexColor } from './color';
import {
  describeJsonType,
  expectArray,
  expectFiniteNumber,
  expectObject,
  expectString,
  indexed,
  optionalString,
} from './json-fields';
import type { ObjClass, ProjectMeta, TagApplicableType, TagMeta, TagTargetType } from './model';
import {
  SHAPE_NAMES,
  type ObjClassJson,
  type ProjectMetaJson,
  type ShapeName,
  type TagMetaJson,
  type TagValueType,
} from './types';

export const TAG_VALUE_TYPES: readonly TagValueType[] = [
  'none',
  'any_number',
  'any_string',
  'oneof_string',
  'date',
];
export const TAG_APPLICABLE_TYPES: readonly TagApplicableType[] = ['all', 'imagesOnly', 'objectsOnly'];
export const TAG_TARGET_TYPES: readonly TagTargetType[] = ['all', 'framesOnly', 'entitiesOnly'];

export interface MetaParseOptions {
  /** The file named in errors, e.g. `my_project/meta.json`. */
  file: string;
}

export interface ProjectMetaParts {
  classes: readonly ObjClass[];
  tagMetas: readonly TagMeta[];
  projectType?: string;
  projectSettings?: Readonly<Record<string, unknown>>;
}

/** Builds a meta with its lookup maps; class titles and tag names must be unique. */
export function createProjectMeta(parts: ProjectMetaParts, where: TaskErrorContext = {}): ProjectMeta {
  const classByTitle = new Map<string, ObjClass>();
  parts.classes.forEach((objClass, i) => {
    if (classByTitle.has(objClass.title)) {
      throw dataError(`duplicate class title "${objClass.title}"`, { ...where, item: indexed('classes', i) });
    }
    classByTitle.set(objClass.title, objClass);
  });
  const tagMetaByName = new Map<string, TagMeta>();
  parts.tagMetas.forEach((tagMeta, i) => {
    if (tagMetaByName.has(tagMeta.name)) {
      throw dataError(`duplicate tag name "${tagMeta.name}"`, { ...where, item: indexed('tags', i) });
    }
    tagMetaByName.set(tagMeta.name, tagMeta);
  });
  return {
    classes: [...parts.classes],
    tagMetas: [...parts.tagMetas],
    ...(parts.projectType !== undefined ? { projectType: parts.projectType } : {}),
    ...(parts.projectSettings !== undefined ? { projectSettings: { ...parts.projectSettings } } : {}),
    classByTitle,
    tagMetaByName,
  };
}

export function parseProjectMeta(json: unknown, options: MetaParseOptions): ProjectMeta {
  const file = options.file;
  const obj = expectObject(json, { file });
  const classesJson = expectArray(obj.classes ?? [], { file, field: 'classes' });
  const classes = classesJson.map((c, i) => parseObjClass(c, { file, item: indexed('classes', i) }));
  const tagMetas = parseTagMetaSection(obj, file);
  const projectType = obj.projectType;
  if (projectType !== undefined && projectType !== null && typeof projectType !== 'string') {
    throw dataError(`expected a string, got ${describeJsonType(projectType)}`, {
      file,
      field: 'projectType',
    });
  }
  const projectSettings =
    obj.projectSettings === undefined || obj.projectSettings === null
      ? undefined
      : expectObject(obj.projectSettings, { file, field: 'projectSettings' });
  return createProjectMeta(
    {
      classes,
      tagMetas,
      ...(typeof projectType === 'string' ? { projectType } : {}),
      ...(projectSettings !== undefined ? { projectSettings } : {}),
    },
    { file },
  );
}

/** `tags`, or the legacy `tags_images` + `tags_objects` (merged); mixing both forms is an error. */
function parseTagMetaSection(obj: Record<string, unknown>, file: string): TagMeta[] {
  const hasLegacy = obj.tags_images !== undefined || obj.tags_objects !== undefined;
  if (obj.tags !== undefined && hasLegacy) {
    throw dataError('both "tags" and the legacy "tags_images"/"tags_objects" are present; use one form', {
      file,
      field: 'tags',
    });
  }
  if (!hasLegacy) {
    const list = expectArray(obj.tags ?? [], { file, field: 'tags' });
    return list.map((t, i) => parseTagMeta(t, { file, item: indexed('tags', i) }));
  }
  const merged = new Map<string, TagMeta>();
  for (const key of ['tags_images', 'tags_objects'] as const) {
    const list = expectArray(obj[key] ?? [], { file, field: key });
    list.forEach((t, i) => {
      const where = { file, item: indexed(key, i) };
      const tagMeta = parseTagMeta(t, where);
      const previous = merged.get(tagMeta.name);
      // The same tag listed for images and for objects is one tag; two different definitions are a conflict.
      if (previous !== undefined && !sameTagDefinition(previous, tagMeta)) {
        throw dataError(`tag "${tagMeta.name}" is defined twice with different value types or values`, where);
      }
      if (previous === undefined) merged.set(tagMeta.name, tagMeta);
    });
  }
  return [...merged.values()];
}

function sameTagDefinition(a: TagMeta, b: TagMeta): boolean {
  return a.valueType === b.valueType && JSON.stringify(a.values ?? null) === JSON.stringify(b.values ?? null);
}

export function parseObjClass(json: unknown, where: TaskErrorContext): ObjClass {
  const obj = expectObject(json, where);
  const title = expectString(obj.title, { ...where, field: 'title' });
  const shape = parseShapeName(obj.shape, { ...where, field: 'shape' });
  const color = parseHexColor(obj.color, { ...where, field: 'color' });
  const geometryConfig =
    obj.geometry_config === undefined || obj.geometry_config === null
      ? {}
      : expectObject(obj.geometry_config, { ...where, field: 'geometry_config' });
  const hotkey = optionalString(obj, 'hotkey', '', where);
  const description =
    obj.description === undefined || obj.description === null
      ? undefined
      : expectString(obj.description, { ...where, field: 'description' });
  const id = optionalId(obj, where);
  return {
    title,
    shape,
    color,
    geometryConfig,
    hotkey,
    ...(description !== undefined ? { description } : {}),
    ...(id !== undefined ? { id } : {}),
  };
}

export function parseShapeName(value: unknown, where: TaskErrorContext): ShapeName {
  if (typeof value !== 'string' || !(SHAPE_NAMES as readonly string[]).includes(value)) {
    throw dataError(
      `unknown shape ${describeJsonType(value)}; expected one of ${SHAPE_NAMES.join(', ')}`,
      where,
    );
  }
  return value as ShapeName;
}

export function parseTagMeta(json: unknown, where: TaskErrorContext): TagMeta {
  // Legacy: a bare string is a `none` tag.
  if (typeof json === 'string') return noneTagMeta(json);
  const obj = expectObject(json, where);
  const name = expectString(obj.name, { ...where, field: 'name' });
  const valueType = obj.value_type;
  if (typeof valueType !== 'string' || !(TAG_VALUE_TYPES as readonly string[]).includes(valueType)) {
    throw dataError(
      `unknown value type ${describeJsonType(valueType)}; expected one of ${TAG_VALUE_TYPES.join(', ')}`,
      { ...where, field: 'value_type' },
    );
  }
  let values: string[] | undefined;
  if (valueType === 'oneof_string') {
    const list = expectArray(obj.values, { ...where, field: 'values' });
    values = list.map((v, i) => expectString(v, { ...where, field: indexed('values', i) }));
  }
  const color =
    obj.color === undefined || obj.color === null
      ? colorForName(name)
      : parseHexColor(obj.color, { ...where, field: 'color' });
  const applicable = obj.applicable_type ?? 'all';
  if (typeof applicable !== 'string' || !(TAG_APPLICABLE_TYPES as readonly string[]).includes(applicable)) {
    throw dataError(
      `unknown applicable type ${describeJsonType(applicable)}; expected one of ${TAG_APPLICABLE_TYPES.join(', ')}`,
      { ...where, field: 'applicable_type' },
    );
  }
  const classes = expectArray(obj.classes ?? [], { ...where, field: 'classes' }).map((c, i) =>
    expectString(c, { ...where, field: indexed('classes', i) }),
  );
  // Validated as the SDK does (ValueError for other values); absent stays absent, so image metas are unchanged.
  const target = obj.target_type;
  if (
    target !== undefined &&
    target !== null &&
    (typeof target !== 'string' || !(TAG_TARGET_TYPES as readonly string[]).includes(target))
  ) {
    throw dataError(
      `unknown target type ${describeJsonType(target)}; expected one of ${TAG_TARGET_TYPES.join(', ')}`,
      { ...where, field: 'target_type' },
    );
  }
  const id = optionalId(obj, where);
  return {
    name,
    valueType: valueType as TagValueType,
    ...(values !== undefined ? { values } : {}),
    color,
    hotkey: optionalString(obj, 'hotkey', '', where),
    applicableType: applicable as TagApplicableType,
    classes,
    ...(typeof target === 'string' ? { targetType: target as TagTargetType } : {}),
    ...(id !== undefined ? { id } : {}),
  };
}

function noneTagMeta(name: string): TagMeta {
  return {
    name,
    valueType: 'none',
    color: colorForName(name),
    hotkey: '',
    applicableType: 'all',
    classes: [],
  };
}

function optionalId(obj: Record<string, unknown>, where: TaskErrorContext): number | undefined {
  if (obj.id === undefined || obj.id === null) return undefined;
  return expectFiniteNumber(obj.id, { ...where, field: 'id' });
}

export function objClassToJson(objClass: ObjClass): ObjClassJson {
  return {
    title: objClass.title,
    shape: objClass.shape,
    color: objClass.color,
    geometry_config: { ...objClass.geometryConfig },
    hotkey: objClass.hotkey,
    ...(objClass.description !== undefined ? { description: objClass.description } : {}),
    ...(objClass.id !== undefined ? { id: objClass.id } : {}),
  };
}

export function tagMetaToJson(tagMeta: TagMeta): TagMetaJson {
  return {
    name: tagMeta.name,
    value_type: tagMeta.valueType,
    ...(tagMeta.values !== undefined ? { values: [...tagMeta.values] } : {}),
    color: tagMeta.color,
    hotkey: tagMeta.hotkey,
    applicable_type: tagMeta.applicableType,
    classes: [...tagMeta.classes],
    ...(tagMeta.targetType !== undefined ? { target_type: tagMeta.targetType } : {}),
    ...(tagMeta.id !== undefined ? { id: tagMeta.id } : {}),
  };
}

export function projectMetaToJson(meta: ProjectMeta): ProjectMetaJson {
  return {
    classes: meta.classes.map(objClassToJson),
    tags: meta.tagMetas.map(tagMetaToJson),
    ...(meta.projectType !== undefined ? { projectType: meta.projectType } : {}),
    ...(meta.projectSettings !== undefined ? { projectSettings: { ...meta.projectSettings } } : {}),
  };
}
