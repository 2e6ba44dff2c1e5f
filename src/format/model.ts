/**
 * The Supervisely project format as typed values (spec B). Readers turn wire JSON (`types.ts`) into these,
 * writers turn them back. Everything is read-only: a value read from disk is never changed in place, so the
 * `encoded` string kept beside a decoded bitmap always matches it.
 */

import type { ShapeName, TagValueType } from './types';

export interface ImageSize {
  readonly height: number;
  readonly width: number;
}

/** An integer pixel position: `x` = column, `y` = row, origin top-left (spec B.4). */
export interface PixelPoint {
  readonly x: number;
  readonly y: number;
}

/** A binary mask, row-major, one byte per pixel, values 0 or 1. */
export interface BinaryMask {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

export interface BitmapGeometry {
  readonly type: 'bitmap';
  /** Image position of the mask's top-left pixel. */
  readonly origin: PixelPoint;
  readonly mask: BinaryMask;
  /**
   * The `data` string as read from disk, kept so that writing the label back reproduces it byte for byte.
   * Absent for masks made in code; the writer then encodes the mask (spec B.6).
   */
  readonly encoded?: string;
}

export interface PolygonGeometry {
  readonly type: 'polygon';
  readonly exterior: readonly PixelPoint[];
  /** Holes. */
  readonly interior: readonly (readonly PixelPoint[])[];
}

/** Inclusive corners: width = right - left + 1 (spec B.4). */
export interface RectangleGeometry {
  readonly type: 'rectangle';
  readonly top: number;
  readonly left: number;
  readonly bottom: number;
  readonly right: number;
}

export interface PointGeometry {
  readonly type: 'point';
  readonly x: number;
  readonly y: number;
}

export interface LineGeometry {
  readonly type: 'line';
  readonly points: readonly PixelPoint[];
}

/** Pixelwise scores (spec B.7); kept encoded, decoded on demand with `decodeMultichannelBitmap`. */
export interface MultichannelBitmapGeometry {
  readonly type: 'multichannelBitmap';
  readonly origin: PixelPoint;
  readonly encoded: string;
}

/** A shape this runtime neither draws nor interprets (graph, cuboid, 3-D shapes): carried through as read. */
export interface OpaqueGeometry {
  readonly type: 'opaque';
  readonly shape: ShapeName;
  /** The label's geometry fields as read (for example `nodes`, `edges`, `points`). */
  readonly fields: Readonly<Record<string, unknown>>;
}

export type Geometry =
  | BitmapGeometry
  | PolygonGeometry
  | RectangleGeometry
  | PointGeometry
  | LineGeometry
  | MultichannelBitmapGeometry
  | OpaqueGeometry;

/** The shape name written to `geometryType` / `shape` for a geometry. */
export function geometryShapeName(geometry: Geometry): ShapeName {
  return geometry.type === 'opaque' ? geometry.shape : geometry.type;
}

export interface Tag {
  readonly name: string;
  /** Absent for `none` tags. */
  readonly value?: number | string;
  /** Keys other than `name` and `value` (labelerLogin, createdAt, updatedAt, id, ...), written back as read. */
  readonly extra: Readonly<Record<string, unknown>>;
}

export interface Label {
  readonly classTitle: string;
  readonly description: string;
  readonly tags: readonly Tag[];
  readonly geometry: Geometry;
  /** Keys the format does not define (id, classId, labelerLogin, createdAt, ...), written back as read. */
  readonly extra: Readonly<Record<string, unknown>>;
}

export interface Annotation {
  readonly size: ImageSize;
  readonly description: string;
  readonly tags: readonly Tag[];
  readonly labels: readonly Label[];
  readonly customBigData: Readonly<Record<string, unknown>>;
  /** Keys the format does not define (imageId and any newer server keys), written back as read. */
  readonly extra: Readonly<Record<string, unknown>>;
}

export interface ObjClass {
  readonly title: string;
  readonly shape: ShapeName;
  /** `#RRGGBB`, upper case. */
  readonly color: string;
  readonly geometryConfig: Readonly<Record<string, unknown>>;
  readonly hotkey: string;
  /** Present only when meta.json gave one, so image metas are written as before. */
  readonly description?: string;
  readonly id?: number;
}

export type TagApplicableType = 'all' | 'imagesOnly' | 'objectsOnly';

/** Video projects (video format V.2): tags on frame ranges only, on whole videos or objects only, or both. */
export type TagTargetType = 'all' | 'framesOnly' | 'entitiesOnly';

export interface TagMeta {
  readonly name: string;
  readonly valueType: TagValueType;
  /** Only for `oneof_string`. */
  readonly values?: readonly string[];
  /** `#RRGGBB`, upper case. */
  readonly color: string;
  readonly hotkey: string;
  readonly applicableType: TagApplicableType;
  readonly classes: readonly string[];
  /** Present only when meta.json gave one (the SDK's default is `all`). */
  readonly targetType?: TagTargetType;
  readonly id?: number;
}

export interface ProjectMeta {
  /** In meta.json order. */
  readonly classes: readonly ObjClass[];
  /** In meta.json order (legacy files: image tags, then object tags). */
  readonly tagMetas: readonly TagMeta[];
  readonly projectType?: string;
  /** Server project settings (video projects: `multiView`), carried through as read. */
  readonly projectSettings?: Readonly<Record<string, unknown>>;
  readonly classByTitle: ReadonlyMap<string, ObjClass>;
  readonly tagMetaByName: ReadonlyMap<string, TagMeta>;
}
