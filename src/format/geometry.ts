/**
 * Label geometries (spec B.4): parsed with the CLASS's shape (a class of shape `any` lets the label's
 * `geometryType`, or failing that `shape`, decide), written back as the SDK writes them.
 */

import { dataError, type TaskErrorContext } from '../errors';
import { decodeBitmapData, encodeBitmap, maskBounds } from './bitmap-codec';
import {
  describeJsonType,
  expectArray,
  expectFiniteNumber,
  expectObject,
  expectString,
  indexed,
  type JsonObject,
} from './json-fields';
import type { BinaryMask, BitmapGeometry, Geometry, ImageSize, PixelPoint } from './model';
import { pyRound } from './py-round';
import { SHAPE_NAMES, type LabelJson, type ShapeName } from './types';

/** The label keys that hold geometry; never carried in a label's `extra`. */
export const GEOMETRY_KEYS: readonly string[] = ['points', 'bitmap', 'multichannelBitmap'];

export interface GeometryParseOptions {
  /** Refuse bitmap payloads without the zlib wrapper (video figures, see `decodeBitmapData`). */
  requireZlib?: boolean;
  /** The image (or frame) the geometry is on: a bitmap larger than it is refused before it is decoded. */
  image?: ImageSize;
}

/**
 * Parses the geometry of a label JSON object. `shape` is the class's shape from meta.json. Errors name the
 * label (`where.item`) and the geometry field.
 */
export function parseGeometry(
  label: JsonObject,
  shape: ShapeName,
  where: TaskErrorContext,
  options: GeometryParseOptions = {},
): Geometry {
  if (shape === 'any') return parseGeometry(label, concreteShapeOfAnyLabel(label, where), where, options);
  switch (shape) {
    case 'bitmap':
      return parseBitmap(label, where, options);
    case 'polygon':
      return parsePolygon(label, where);
    case 'rectangle':
      return parseRectangle(label, where);
    case 'point': {
      const [p] = parsePointList(label, where, { min: 1, max: 1, what: 'a point' });
      return { type: 'point', x: p.x, y: p.y };
    }
    case 'line':
      return { type: 'line', points: parsePointList(label, where, { min: 2, what: 'a line' }) };
    case 'multichannelBitmap': {
      const field = expectObject(label.multichannelBitmap, { ...where, field: 'multichannelBitmap' });
      const origin = parsePoint(field.origin, { ...where, field: 'multichannelBitmap.origin' });
      const encoded = expectString(field.data, { ...where, field: 'multichannelBitmap.data' });
      return { type: 'multichannelBitmap', origin, encoded };
    }
    default: {
      const fields: JsonObject = {};
      for (const key of GEOMETRY_KEYS) if (label[key] !== undefined) fields[key] = label[key];
      return { type: 'opaque', shape, fields };
    }
  }
}

function concreteShapeOfAnyLabel(label: JsonObject, where: TaskErrorContext): ShapeName {
  const field = label.geometryType !== undefined ? 'geometryType' : 'shape';
  const name = label[field];
  if (typeof name !== 'string' || name === 'any' || !(SHAPE_NAMES as readonly string[]).includes(name)) {
    throw dataError(
      `the class has shape "any", so the label must name its geometry; got ${describeJsonType(name)}`,
      { ...where, field },
    );
  }
  return name as ShapeName;
}

function parseBitmap(label: JsonObject, where: TaskErrorContext, options: GeometryParseOptions): Geometry {
  const field = expectObject(label.bitmap, { ...where, field: 'bitmap' });
  const origin = parsePoint(field.origin, { ...where, field: 'bitmap.origin' });
  const encoded = expectString(field.data, { ...where, field: 'bitmap.data' });
  try {
    return { type: 'bitmap', origin, mask: decodeBitmapData(encoded, options), encoded };
  } catch (e) {
    throw dataError((e as Error).message, { ...where, field: 'bitmap.data' }, e);
  }
}

/** `[x, y]` with banker's rounding (spec B.4). */
function parsePoint(value: unknown, where: TaskErrorContext): PixelPoint {
  const pair = expectArray(value, where);
  if (pair.length !== 2) throw dataError(`expected [x, y], got ${pair.length} numbers`, where);
  return { x: pyRound(expectFiniteNumber(pair[0], where)), y: pyRound(expectFiniteNumber(pair[1], where)) };
}

function parseRing(value: unknown, where: TaskErrorContext): PixelPoint[] {
  return expectArray(value, where).map((p, i) => parsePoint(p, { ...where, field: `${where.field}[${i}]` }));
}

function pointsObject(label: JsonObject, where: TaskErrorContext): JsonObject {
  return expectObject(label.points, { ...where, field: 'points' });
}

function parsePointList(
  label: JsonObject,
  where: TaskErrorContext,
  rule: { min: number; max?: number; what: string },
): PixelPoint[] {
  const points = parseRing(pointsObject(label, where).exterior, { ...where, field: 'points.exterior' });
  const count = rule.max === rule.min ? `exactly ${rule.min}` : `at least ${rule.min}`;
  if (points.length < rule.min || (rule.max !== undefined && points.length > rule.max)) {
    throw dataError(`${rule.what} needs ${count} point(s), got ${points.length}`, {
      ...where,
      field: 'points.exterior',
    });
  }
  return points;
}

/**
 * A polygon ring with fewer than 3 points is padded by repeating its last point, as [SDK] does (spec B.4);
 * an empty ring cannot be padded and is an error.
 */
export function padRing(ring: PixelPoint[], where: TaskErrorContext): PixelPoint[] {
  if (ring.length === 0) throw dataError('a polygon ring needs at least 1 point, got none', where);
  const padded = [...ring];
  while (padded.length < 3) padded.push(padded[padded.length - 1]);
  return padded;
}

function parsePolygon(label: JsonObject, where: TaskErrorContext): Geometry {
  const points = pointsObject(label, where);
  const exterior = padRing(parseRing(points.exterior, { ...where, field: 'points.exterior' }), {
    ...where,
    field: 'points.exterior',
  });
  const interiorJson = expectArray(points.interior ?? [], { ...where, field: 'points.interior' });
  const interior = interiorJson.map((ring, i) => {
    const ringWhere = { ...where, field: indexed('points.interior', i) };
    return padRing(parseRing(ring, ringWhere), ringWhere);
  });
  return { type: 'polygon', exterior, interior };
}

/** Exactly two corners, in any order; sorted so that top <= bottom and left <= right (inclusive). */
function parseRectangle(label: JsonObject, where: TaskErrorContext): Geometry {
  const exteriorWhere = { ...where, field: 'points.exterior' };
  const raw = expectArray(pointsObject(label, where).exterior, exteriorWhere);
  if (raw.length !== 2)
    throw dataError(`a rectangle needs exactly 2 points, got ${raw.length}`, exteriorWhere);
  const [a, b] = raw.map((p, i) => parsePoint(p, { ...where, field: `points.exterior[${i}]` }));
  return {
    type: 'rectangle',
    top: Math.min(a.y, b.y),
    bottom: Math.max(a.y, b.y),
    left: Math.min(a.x, b.x),
    right: Math.max(a.x, b.x),
  };
}

const pair = (p: PixelPoint): [number, number] => [p.x, p.y];

/**
 * The geometry fields of a label JSON (`points`, `bitmap`, ...), or null for an empty bitmap, which the SDK
 * cannot represent: the caller leaves such a label out.
 */
export function geometryToJson(geometry: Geometry): Partial<LabelJson> | null {
  switch (geometry.type) {
    case 'bitmap': {
      if (geometry.encoded !== undefined) {
        return { bitmap: { origin: pair(geometry.origin), data: geometry.encoded } };
      }
      const bitmap = encodeBitmap(geometry.mask, geometry.origin);
      return bitmap === null ? null : { bitmap };
    }
    case 'polygon':
      return {
        points: {
          exterior: geometry.exterior.map(pair),
          interior: geometry.interior.map((r) => r.map(pair)),
        },
      };
    case 'rectangle':
      return {
        points: {
          exterior: [
            [geometry.left, geometry.top],
            [geometry.right, geometry.bottom],
          ],
          interior: [],
        },
      };
    case 'point':
      return { points: { exterior: [[geometry.x, geometry.y]], interior: [] } };
    case 'line':
      return { points: { exterior: geometry.points.map(pair), interior: [] } };
    case 'multichannelBitmap':
      return { multichannelBitmap: { origin: pair(geometry.origin), data: geometry.encoded } };
    case 'opaque':
      return { ...geometry.fields } as Partial<LabelJson>;
  }
}

/** Inclusive pixel bounds: width = right - left + 1 (the SDK's `Rectangle`, spec B.4). */
export interface PixelBox {
  readonly top: number;
  readonly left: number;
  readonly bottom: number;
  readonly right: number;
}

/**
 * The geometry's bounding box in image pixels (SDK `Geometry.to_bbox`), or null when it has none this runtime
 * can tell: an empty bitmap, scores, opaque shapes. A bitmap's box is that of its set pixels.
 */
export function geometryBounds(g: Geometry): PixelBox | null {
  switch (g.type) {
    case 'rectangle':
      return { top: g.top, left: g.left, bottom: g.bottom, right: g.right };
    case 'point':
      return { top: g.y, left: g.x, bottom: g.y, right: g.x };
    case 'polygon':
      return pointsBounds(g.exterior);
    case 'line':
      return pointsBounds(g.points);
    case 'bitmap': {
      const b = maskBounds(g.mask);
      return b === null
        ? null
        : {
            top: g.origin.y + b.top,
            left: g.origin.x + b.left,
            bottom: g.origin.y + b.bottom,
            right: g.origin.x + b.right,
          };
    }
    // Scores are not objects, and opaque shapes (graph, cuboid, ...) are carried through uninterpreted.
    case 'multichannelBitmap':
    case 'opaque':
      return null;
  }
}

function pointsBounds(points: readonly PixelPoint[]): PixelBox | null {
  if (points.length === 0) return null;
  let top = Infinity;
  let left = Infinity;
  let bottom = -Infinity;
  let right = -Infinity;
  for (const p of points) {
    top = Math.min(top, p.y);
    bottom = Math.max(bottom, p.y);
    left = Math.min(left, p.x);
    right = Math.max(right, p.x);
  }
  return { top, left, bottom, right };
}

/**
 * A bitmap geometry held as its payload (tight crop, spec B.6), or null for an empty mask: `mask` is decoded
 * again on each access and not kept. For writers of many masks at once, such as a tracker's figure on every
 * frame of a video, whose pixels would not all fit in memory.
 */
export function encodedBitmapGeometry(mask: BinaryMask, origin: PixelPoint): BitmapGeometry | null {
  const bitmap = encodeBitmap(mask, origin);
  if (bitmap === null) return null;
  const encoded = bitmap.data;
  return {
    type: 'bitmap',
    origin: { x: bitmap.origin[0], y: bitmap.origin[1] },
    encoded,
    get mask(): BinaryMask {
      return decodeBitmapData(encoded);
    },
  };
}
