/**
 * Annotation JSON (`ann/<image>.json`, spec B.3-B.5) to typed values and back. Reading checks every class and
 * tag against the meta and names the file, the object and the field of any problem; unknown keys are kept
 * and written back, so server metadata survives a round trip.
 */

import { dataError, type TaskErrorContext } from '../errors';
import { GEOMETRY_KEYS, geometryToJson, parseGeometry } from './geometry';
import {
  describeJsonType,
  expectArray,
  expectObject,
  expectString,
  extraKeys,
  indexed,
  optionalString,
  parseJsonText,
} from './json-fields';
import { geometryShapeName, type Annotation, type ImageSize, type Label, type ProjectMeta } from './model';
import { parseTags, tagToJson } from './tags';
import type { AnnotationJson, LabelJson } from './types';

const ANNOTATION_KEYS: ReadonlySet<string> = new Set([
  'description',
  'size',
  'tags',
  'objects',
  'customBigData',
]);
const LABEL_KEYS: ReadonlySet<string> = new Set([
  'classTitle',
  'description',
  'tags',
  'geometryType',
  'shape',
  ...GEOMETRY_KEYS,
]);

export interface AnnotationParseOptions {
  /** The file named in errors, e.g. `my_project/ds1/ann/a.jpg.json`. */
  file: string;
}

export function parseAnnotation(
  json: unknown,
  meta: ProjectMeta,
  options: AnnotationParseOptions,
): Annotation {
  const where: TaskErrorContext = { file: options.file };
  const obj = expectObject(json, where);
  const size = parseSize(obj.size, { ...where, field: 'size' });
  // The SDK requires `tags`; a missing list is read as empty (nothing is lost by being lenient here).
  const tags = parseTags(obj.tags ?? [], meta, where);
  const objects = expectArray(obj.objects, { ...where, field: 'objects' });
  const labels = objects.map((o, i) => parseLabel(o, meta, { ...where, item: indexed('objects', i) }, size));
  const customBigData =
    obj.customBigData === undefined || obj.customBigData === null
      ? {}
      : expectObject(obj.customBigData, { ...where, field: 'customBigData' });
  return {
    size,
    description: optionalString(obj, 'description', '', where),
    tags,
    labels,
    customBigData,
    extra: extraKeys(obj, ANNOTATION_KEYS),
  };
}

/** A `size` field: `{height, width}`, positive integers. */
export function parseSize(value: unknown, where: TaskErrorContext): ImageSize {
  const obj = expectObject(value, where);
  const dim = (key: 'height' | 'width'): number => {
    const v = obj[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw dataError(`expected a positive integer, got ${describeJsonType(v)}`, {
        ...where,
        field: `size.${key}`,
      });
    }
    return v;
  };
  return { height: dim('height'), width: dim('width') };
}

/** A label of an image of `image`'s size (when known: a bitmap larger than the image is refused undecoded). */
export function parseLabel(
  json: unknown,
  meta: ProjectMeta,
  where: TaskErrorContext,
  image?: ImageSize,
): Label {
  const obj = expectObject(json, where);
  const classTitle = expectString(obj.classTitle, { ...where, field: 'classTitle' });
  const objClass = meta.classByTitle.get(classTitle);
  if (objClass === undefined) {
    throw dataError(`class "${classTitle}" is not defined in the project meta (meta.json "classes")`, {
      ...where,
      field: 'classTitle',
    });
  }
  return {
    classTitle,
    description: optionalString(obj, 'description', '', where),
    tags: parseTags(obj.tags ?? [], meta, where),
    geometry: parseGeometry(obj, objClass.shape, where, image === undefined ? {} : { image }),
    extra: extraKeys(obj, LABEL_KEYS),
  };
}

/** Label JSON as the SDK writes it, or null for a label with an empty bitmap (left out, never written). */
export function labelToJson(label: Label): LabelJson | null {
  const geometry = geometryToJson(label.geometry);
  if (geometry === null) return null;
  const shape = geometryShapeName(label.geometry);
  return {
    classTitle: label.classTitle,
    description: label.description,
    tags: label.tags.map(tagToJson),
    ...geometry,
    geometryType: shape,
    shape,
    ...label.extra,
  };
}

export function annotationToJson(annotation: Annotation): AnnotationJson {
  const objects: LabelJson[] = [];
  for (const label of annotation.labels) {
    const json = labelToJson(label);
    if (json !== null) objects.push(json);
  }
  return {
    description: annotation.description,
    size: { height: annotation.size.height, width: annotation.size.width },
    tags: annotation.tags.map(tagToJson),
    objects,
    customBigData: { ...annotation.customBigData },
    ...annotation.extra,
  };
}

/** The file text: JSON with 4-space indentation, as the SDK's `json.dump(indent=4)`. */
export function serializeAnnotation(annotation: Annotation): string {
  return JSON.stringify(annotationToJson(annotation), null, 4);
}

/** Parses annotation file text; invalid JSON is a data error naming the file. */
export function parseAnnotationText(
  text: string,
  meta: ProjectMeta,
  options: AnnotationParseOptions,
): Annotation {
  return parseAnnotation(parseJsonText(text, { file: options.file }), meta, options);
}
