/**
 * The Supervisely JSON shapes on disk, as read and written (spec B.2-B.7, C.2, H.6). These are wire types:
 * readers validate into them, writers produce them. Unknown keys are tolerated on read (spec H.5.7).
 */

export type ShapeName =
  | 'bitmap'
  | 'polygon'
  | 'rectangle'
  | 'point'
  | 'line'
  | 'graph'
  | 'cuboid'
  | 'any'
  | 'multichannelBitmap'
  | 'point_3d'
  | 'cuboid_3d'
  | 'point_cloud';

export const SHAPE_NAMES: readonly ShapeName[] = [
  'bitmap',
  'polygon',
  'rectangle',
  'point',
  'line',
  'graph',
  'cuboid',
  'any',
  'multichannelBitmap',
  'point_3d',
  'cuboid_3d',
  'point_cloud',
];

export interface ObjClassJson {
  title: string;
  shape: ShapeName;
  /** `#RRGGBB`, upper-case on write. */
  color: string;
  geometry_config?: Record<string, unknown>;
  hotkey?: string;
  id?: number;
}

/** `date` (ISO date strings) is known to the current SDK and appears in video projects (video format V.2). */
export type TagValueType = 'none' | 'any_number' | 'any_string' | 'oneof_string' | 'date';

export interface TagMetaJson {
  name: string;
  value_type: TagValueType;
  values?: string[];
  color?: string;
  hotkey?: string;
  applicable_type?: 'all' | 'imagesOnly' | 'objectsOnly';
  classes?: string[];
  /** Video projects (video format V.2): what a tag may be put on; optional on read (default `all`). */
  target_type?: 'all' | 'framesOnly' | 'entitiesOnly';
  id?: number;
}

export interface ProjectMetaJson {
  classes: ObjClassJson[];
  tags?: TagMetaJson[];
  /** Legacy forms, accepted on read only. */
  tags_images?: (TagMetaJson | string)[];
  tags_objects?: (TagMetaJson | string)[];
  projectType?: string;
  /** Server project settings (e.g. `multiView` of video projects), carried through as read. */
  projectSettings?: Record<string, unknown>;
  [extra: string]: unknown;
}

export interface TagJson {
  name: string;
  value?: number | string | null;
  labelerLogin?: string;
  createdAt?: string;
  updatedAt?: string;
}

export interface PointsJson {
  /** `[x, y]` pairs. */
  exterior: [number, number][];
  interior: [number, number][][];
}

export interface BitmapJson {
  /** `[x, y]` of the tight mask's top-left pixel. */
  origin: [number, number];
  /** base64(zlib(PNG)) (spec B.6) or base64(zlib(.npy)) for multichannel bitmaps (B.7). */
  data: string;
}

export interface LabelJson {
  classTitle: string;
  description?: string;
  tags: (TagJson | string)[];
  geometryType?: string;
  shape?: string;
  points?: PointsJson;
  bitmap?: BitmapJson | null;
  multichannelBitmap?: BitmapJson;
  [extra: string]: unknown;
}

export interface AnnotationJson {
  description?: string;
  size: { height: number; width: number };
  tags: (TagJson | string)[];
  objects: LabelJson[];
  customBigData?: Record<string, unknown>;
  imageId?: number;
  [extra: string]: unknown;
}

/** A checkpoint's config.json (spec C.2). */
export interface ModelConfigJson {
  settings: Record<string, unknown>;
  out_classes?: ObjClassJson[];
  classes?: ObjClassJson[];
  class_title_to_idx: Record<string, number>;
  [extra: string]: unknown;
}
