/**
 * The video annotation JSON (`ann/<video name>.json`, docs/supervisely-video-format.md V.3-V.5) to typed values
 * and back. Reading accepts and rejects what the SDK's `VideoAnnotation.from_json` does (V.9): objects are
 * tracks with a key, frames are 0-based and hold figures that refer to their object by `objectKey`, a figure's
 * geometry is parsed by its own `geometryType` (which must match the class shape unless the class is `any`),
 * and every figure must lie inside the frame: the SDK rejects the whole annotation otherwise, so errors name
 * the file, the figure and the field. Keys are read in any UUID form and written as UUID hex; unknown keys of
 * the annotation, objects, figures and tags are kept and written back, as for image annotations.
 */

import { dataError, TaskError, type TaskErrorContext } from '../errors';
import { parseSize } from './annotation';
import { GEOMETRY_KEYS, geometryBounds, geometryToJson, parseGeometry, type PixelBox } from './geometry';
import {
  describeJsonType,
  expectArray,
  expectObject,
  expectString,
  extraKeys,
  indexed,
  optionalString,
  parseJsonText,
  type JsonObject,
} from './json-fields';
import type { Geometry, ImageSize, ProjectMeta } from './model';
import { parseTagValue } from './tags';
import { SHAPE_NAMES, type ShapeName } from './types';
import { parseKey, uuidHex } from './uuid-key';

type Extra = Readonly<Record<string, unknown>>;

/** A tag on the whole video or on an object (V.3.5), over a frame range or over all frames. */
export interface VideoTag {
  readonly name: string;
  /** As read: absent for `none` tags; absent or null on an unfinished tag whose type needs a value. */
  readonly value?: number | string | null;
  /** `[first, last]` frame indices, both included; not checked against the video (nor is their order). */
  readonly frameRange?: readonly [number, number];
  readonly isFinished: boolean;
  readonly nonFinalValue: boolean;
  readonly key: string;
  /** id, labelerLogin, createdAt, updatedAt, ...: written back as read. */
  readonly extra: Extra;
}

/** One track (V.3.2): its figures on the frames refer to it by `key`. */
export interface VideoObject {
  readonly key: string;
  readonly classTitle: string;
  readonly tags: readonly VideoTag[];
  /** id, classId, labelerLogin, createdAt, updatedAt, ...: written back as read. */
  readonly extra: Extra;
}

/** One geometry of one object on one frame (V.3.4); its frame is the enclosing `VideoFrame`. */
export interface VideoFigure {
  readonly key: string;
  readonly objectKey: string;
  readonly geometry: Geometry;
  /** false, false: drawn by a person; true, true: made by a model (V.3.4 LabelingStatus). */
  readonly nnCreated: boolean;
  readonly nnUpdated: boolean;
  /** Keys of the `geometry` object besides the payload, `shape` and `geometryType` (creation info, graph nodes). */
  readonly geometryExtra: Extra;
  /** id, objectId, trackId, priority, labelerLogin, ...: written back as read. */
  readonly extra: Extra;
}

export interface VideoFrame {
  /** 0-based, in decoding order (V.5). */
  readonly index: number;
  readonly figures: readonly VideoFigure[];
}

export interface VideoAnnotation {
  readonly size: ImageSize;
  readonly description: string;
  readonly key: string;
  readonly tags: readonly VideoTag[];
  readonly objects: readonly VideoObject[];
  /** As read (the SDK keeps the order); at most one entry per index. */
  readonly frames: readonly VideoFrame[];
  readonly framesCount: number;
  /** videoId, videoName, createdAt, ...: written back as read. */
  readonly extra: Extra;
}

const ANNOTATION_KEYS: ReadonlySet<string> = new Set([
  'size',
  'description',
  'key',
  'tags',
  'objects',
  'frames',
  'framesCount',
]);
const OBJECT_KEYS: ReadonlySet<string> = new Set(['key', 'classTitle', 'tags']);
const FIGURE_KEYS: ReadonlySet<string> = new Set([
  'key',
  'objectKey',
  'geometryType',
  'geometry',
  'nnCreated',
  'nnUpdated',
]);
const GEOMETRY_OWN_KEYS: ReadonlySet<string> = new Set([...GEOMETRY_KEYS, 'shape', 'geometryType']);
const TAG_KEYS: ReadonlySet<string> = new Set([
  'name',
  'value',
  'frameRange',
  'isFinished',
  'nonFinalValue',
  'key',
]);

export interface VideoAnnotationParseOptions {
  /** The file named in errors, e.g. `my_project/ds0/ann/clip.mp4.json`. */
  file: string;
}

export function parseVideoAnnotation(
  json: unknown,
  meta: ProjectMeta,
  options: VideoAnnotationParseOptions,
): VideoAnnotation {
  const where: TaskErrorContext = { file: options.file };
  const obj = expectObject(json, where);
  const size = parseSize(obj.size, { ...where, field: 'size' });
  const framesCount = obj.framesCount;
  if (typeof framesCount !== 'number' || !Number.isInteger(framesCount) || framesCount < 0) {
    throw dataError(`expected a whole number of frames, got ${describeJsonType(framesCount)}`, {
      ...where,
      field: 'framesCount',
    });
  }
  const tags = parseVideoTags(obj.tags, meta, where, 'tags');
  const objects = expectArray(obj.objects, { ...where, field: 'objects' }).map((o, i) =>
    parseVideoObject(o, meta, { ...where, item: indexed('objects', i) }),
  );
  const objectByKey = new Map<string, VideoObject>();
  objects.forEach((o, i) => {
    if (objectByKey.has(o.key)) {
      throw dataError(`duplicate object key ${o.key}`, {
        ...where,
        item: indexed('objects', i),
        field: 'key',
      });
    }
    objectByKey.set(o.key, o);
  });
  const context: FrameContext = { meta, size, framesCount, objectByKey };
  const seen = new Set<number>();
  const frames = expectArray(obj.frames, { ...where, field: 'frames' }).map((f, i) => {
    const frame = parseFrame(f, context, { ...where, item: indexed('frames', i) });
    if (seen.has(frame.index)) {
      throw dataError(`a second entry for frame ${frame.index}; all figures of a frame go in one entry`, {
        ...where,
        item: indexed('frames', i),
        field: 'index',
      });
    }
    seen.add(frame.index);
    return frame;
  });
  return {
    size,
    description: optionalString(obj, 'description', '', where),
    key: parseKey(obj.key, { ...where, field: 'key' }),
    tags,
    objects,
    frames,
    framesCount,
    extra: extraKeys(obj, ANNOTATION_KEYS),
  };
}

/** Parses annotation file text; invalid JSON is a data error naming the file. */
export function parseVideoAnnotationText(
  text: string,
  meta: ProjectMeta,
  options: VideoAnnotationParseOptions,
): VideoAnnotation {
  return parseVideoAnnotation(parseJsonText(text, { file: options.file }), meta, options);
}

function parseVideoObject(json: unknown, meta: ProjectMeta, where: TaskErrorContext): VideoObject {
  const obj = expectObject(json, where);
  const classTitle = expectString(obj.classTitle, { ...where, field: 'classTitle' });
  if (!meta.classByTitle.has(classTitle)) {
    throw dataError(`class "${classTitle}" is not defined in the project meta (meta.json "classes")`, {
      ...where,
      field: 'classTitle',
    });
  }
  return {
    // An object without a key gets a random one, as in the SDK; no figure of the file can then refer to it.
    key: parseKey(obj.key, { ...where, field: 'key' }),
    classTitle,
    tags: parseVideoTags(obj.tags, meta, where, 'tags'),
    extra: extraKeys(obj, OBJECT_KEYS),
  };
}

/** A required `tags` list (the SDK's KeyError otherwise) of video tags. */
function parseVideoTags(
  json: unknown,
  meta: ProjectMeta,
  where: TaskErrorContext,
  field: string,
): VideoTag[] {
  const list = expectArray(json, { ...where, field });
  return list.map((t, i) => parseVideoTag(t, meta, { ...where, field: indexed(field, i) }));
}

function parseVideoTag(json: unknown, meta: ProjectMeta, where: TaskErrorContext): VideoTag {
  if (typeof json === 'string') {
    throw dataError(
      `a bare tag name ("${json}"); video tags are objects {"name": ...} (the SDK fails on bare names)`,
      where,
    );
  }
  const obj = expectObject(json, where);
  const name = expectString(obj.name, { ...where, field: `${where.field}.name` });
  const raw = obj.value;
  let value: number | string | null | undefined;
  const tagMeta = meta.tagMetaByName.get(name);
  if ((raw === undefined || raw === null) && tagMeta !== undefined && tagMeta.valueType !== 'none') {
    value = raw; // an unfinished tag: the SDK accepts a valued tag without its value
  } else {
    value = parseTagValue(name, raw, meta, where);
  }
  const flag = (key: string, fallback: boolean): boolean => {
    const v = obj[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') {
      throw dataError(`expected true or false, got ${describeJsonType(v)}`, {
        ...where,
        field: `${where.field}.${key}`,
      });
    }
    return v;
  };
  const isFinished = flag('isFinished', true);
  let frameRange: [number, number] | undefined;
  if (obj.frameRange !== undefined && obj.frameRange !== null) {
    const at = { ...where, field: `${where.field}.frameRange` };
    const range = expectArray(obj.frameRange, at);
    if (range.length !== 2 || !range.every((v) => typeof v === 'number' && Number.isInteger(v))) {
      throw dataError(
        `expected [first, last] frame indices (two integers), got ${JSON.stringify(range)}`,
        at,
      );
    }
    frameRange = [range[0] as number, range[1] as number];
  }
  if (!isFinished) {
    if (frameRange === undefined) {
      throw dataError('an unfinished tag (isFinished false) needs a frameRange', {
        ...where,
        field: `${where.field}.isFinished`,
      });
    }
    frameRange = [frameRange[0], frameRange[0]]; // as the SDK: an unfinished tag covers its first frame
  }
  return {
    name,
    ...(value !== undefined ? { value } : {}),
    ...(frameRange !== undefined ? { frameRange } : {}),
    isFinished,
    nonFinalValue: flag('nonFinalValue', false),
    key: parseKey(obj.key, { ...where, field: `${where.field}.key` }),
    extra: extraKeys(obj, TAG_KEYS),
  };
}

interface FrameContext {
  meta: ProjectMeta;
  size: ImageSize;
  framesCount: number;
  objectByKey: ReadonlyMap<string, VideoObject>;
}

function parseFrame(json: unknown, context: FrameContext, where: TaskErrorContext): VideoFrame {
  const obj = expectObject(json, where);
  const index = obj.index;
  if (typeof index !== 'number' || !Number.isInteger(index)) {
    throw dataError(`expected a frame index (an integer), got ${describeJsonType(index)}`, {
      ...where,
      field: 'index',
    });
  }
  // The SDK's own bounds: index == framesCount passes its check (an off-by-one, V.3.3), and so it does here;
  // a tracker that decodes the video catches a figure on a frame the video does not have.
  if (index < 0 || index > context.framesCount) {
    throw dataError(`frame index ${index} is outside the video (framesCount ${context.framesCount})`, {
      ...where,
      field: 'index',
    });
  }
  const figures = expectArray(obj.figures ?? [], { ...where, field: 'figures' }).map((f, j) =>
    parseFigure(f, context, index, { ...where, item: `${where.item}.figures[${j}]` }),
  );
  return { index, figures };
}

function parseFigure(
  json: unknown,
  context: FrameContext,
  frameIndex: number,
  where: TaskErrorContext,
): VideoFigure {
  const obj = expectObject(json, where);
  const objectKey = figureObjectKey(obj, context, where);
  const classTitle = (context.objectByKey.get(objectKey) as VideoObject).classTitle;
  const classShape = (context.meta.classByTitle.get(classTitle) as { shape: ShapeName }).shape;
  const type = obj.geometryType;
  if (typeof type !== 'string' || type === 'any' || !(SHAPE_NAMES as readonly string[]).includes(type)) {
    throw dataError(`expected a geometry type, got ${describeJsonType(type)}`, {
      ...where,
      field: 'geometryType',
    });
  }
  if (classShape !== 'any' && classShape !== type) {
    throw dataError(
      `a ${type} figure of class "${classTitle}", whose shape is ${classShape}; the SDK requires the class's ` +
        'shape (or a class of shape "any")',
      { ...where, field: 'geometryType' },
    );
  }
  const geometryJson = expectObject(obj.geometry, { ...where, field: 'geometry' });
  let geometry: Geometry;
  try {
    geometry = parseGeometry(geometryJson, type as ShapeName, where, {
      requireZlib: true,
      image: context.size,
    });
  } catch (e) {
    // parseGeometry names fields inside the geometry object; here that object is the figure's `geometry`.
    if (!(e instanceof TaskError)) throw e;
    const field = e.context.field === undefined ? 'geometry' : `geometry.${e.context.field}`;
    throw new TaskError(e.kind, e.detail, { ...e.context, field }, { cause: e.cause });
  }
  checkInsideFrame(geometry, context.size, frameIndex, where);
  const flag = (key: string): boolean => {
    const v = obj[key];
    if (v === undefined || v === null) return false;
    if (typeof v !== 'boolean') {
      throw dataError(`expected true or false, got ${describeJsonType(v)}`, { ...where, field: key });
    }
    return v;
  };
  return {
    key: parseKey(obj.key, { ...where, field: 'key' }),
    objectKey,
    geometry,
    nnCreated: flag('nnCreated'),
    nnUpdated: flag('nnUpdated'),
    geometryExtra: extraKeys(geometryJson, GEOMETRY_OWN_KEYS),
    extra: extraKeys(obj, FIGURE_KEYS),
  };
}

function figureObjectKey(obj: JsonObject, context: FrameContext, where: TaskErrorContext): string {
  if (obj.objectKey === undefined || obj.objectKey === null) {
    // The SDK resolves `objectId` only through a server key-id map, which it does not use for local files.
    const detail =
      obj.objectId !== undefined
        ? 'the figure refers to its object by objectId (a server id); a local annotation needs objectKey'
        : 'the figure names no object (no objectKey)';
    throw dataError(detail, { ...where, field: 'objectKey' });
  }
  const key = typeof obj.objectKey === 'string' ? uuidHex(obj.objectKey) : null;
  if (key === null) {
    throw dataError(`expected a UUID, got ${describeJsonType(obj.objectKey)}`, {
      ...where,
      field: 'objectKey',
    });
  }
  if (!context.objectByKey.has(key)) {
    throw dataError(`no object in "objects" has the key ${key}`, { ...where, field: 'objectKey' });
  }
  return key;
}

/** Video figures are not cropped to the frame, as image labels are: one outside rejects the annotation (V.3.4). */
function checkInsideFrame(
  geometry: Geometry,
  size: ImageSize,
  frameIndex: number,
  where: TaskErrorContext,
): void {
  // Scores and shapes this runtime does not interpret (graph, cuboid) are not checked.
  if (geometry.type === 'multichannelBitmap' || geometry.type === 'opaque') return;
  const field = geometry.type === 'bitmap' ? 'geometry.bitmap' : 'geometry.points';
  const box = geometryBounds(geometry);
  if (box === null) {
    throw dataError('the bitmap has no pixel set; an object absent from a frame has no figure there', {
      ...where,
      field: 'geometry.bitmap.data',
    });
  }
  if (!boxInside(box, size)) {
    throw dataError(
      `the figure on frame ${frameIndex} covers x ${box.left}..${box.right}, y ${box.top}..${box.bottom}, ` +
        `outside the ${size.width}x${size.height} frame (x 0..${size.width - 1}, y 0..${size.height - 1}); ` +
        'the SDK rejects the whole annotation (OutOfImageBoundsException)',
      { ...where, field },
    );
  }
}

/** Whether the box lies inside `[0, width-1] x [0, height-1]`. */
export function boxInside(box: PixelBox, size: ImageSize): boolean {
  return box.left >= 0 && box.top >= 0 && box.right < size.width && box.bottom < size.height;
}

// ---------------------------------------------------------------------------------------------------------------
// Writing: the SDK's key order (V.3.1, V.3.4), keys as UUID hex.

export function videoTagToJson(tag: VideoTag): Record<string, unknown> {
  return {
    name: tag.name,
    ...(tag.value !== undefined ? { value: tag.value } : {}),
    ...(tag.frameRange !== undefined ? { frameRange: [tag.frameRange[0], tag.frameRange[1]] } : {}),
    isFinished: tag.isFinished,
    nonFinalValue: tag.nonFinalValue,
    key: tag.key,
    ...tag.extra,
  };
}

export function videoObjectToJson(object: VideoObject): Record<string, unknown> {
  return {
    key: object.key,
    classTitle: object.classTitle,
    tags: object.tags.map(videoTagToJson),
    ...object.extra,
  };
}

export function videoFigureToJson(figure: VideoFigure): Record<string, unknown> {
  const payload = geometryToJson(figure.geometry);
  // An empty bitmap cannot be written (the SDK refuses it); a figure made in code must have pixels.
  if (payload === null) throw new Error(`figure ${figure.key}: an empty bitmap cannot be written`);
  const type = figure.geometry.type === 'opaque' ? figure.geometry.shape : figure.geometry.type;
  return {
    key: figure.key,
    objectKey: figure.objectKey,
    geometryType: type,
    geometry: { ...payload, ...figure.geometryExtra, shape: type, geometryType: type },
    nnCreated: figure.nnCreated,
    nnUpdated: figure.nnUpdated,
    ...figure.extra,
  };
}

export function videoAnnotationToJson(annotation: VideoAnnotation): Record<string, unknown> {
  return {
    size: { height: annotation.size.height, width: annotation.size.width },
    description: annotation.description,
    key: annotation.key,
    tags: annotation.tags.map(videoTagToJson),
    objects: annotation.objects.map(videoObjectToJson),
    frames: annotation.frames.map((f) => ({ index: f.index, figures: f.figures.map(videoFigureToJson) })),
    framesCount: annotation.framesCount,
    ...annotation.extra,
  };
}

/**
 * The file text as the SDK writes it, `json.dump(indent=4)` with its default `ensure_ascii`: 4-space
 * indentation and every non-ASCII character escaped as \uXXXX (UTF-16 units, as Python does).
 */
export function serializeVideoAnnotation(annotation: VideoAnnotation): string {
  return asciiJson(videoAnnotationToJson(annotation));
}

/** `json.dumps(value, indent=4)` with `ensure_ascii=True`. */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value, null, 4).replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
