/**
 * The objects of a Supervisely video annotation as a tracker sees them (docs/supervisely-video-format.md): which
 * objects can be followed (their class and first figure make a mask), their ids 1..K in `objects[]` order, the
 * frame each is first annotated on, and a frame's index mask drawn from its figures. Inference on video projects
 * and training from them read annotations the same way.
 */
import { dataError } from '../../errors';
import type { ProjectMeta } from '../../format/model';
import { drawGeometry } from '../../format/rasterise';
import type { VideoAnnotation, VideoFigure } from '../../format/video-annotation';

/** The largest object id an 8-bit index mask holds. */
export const MAX_OBJECTS_PER_VIDEO = 255;

/** Classes whose objects may get predicted bitmap figures (V.9: the figure's type must be the class shape). */
export const TRACKABLE_CLASS_SHAPES: ReadonlySet<string> = new Set(['bitmap', 'any']);
/** Figure shapes that make a first mask: bitmaps, and on `any` classes the closed shapes rasterised. */
export const TRACKABLE_FIGURE_TYPES: ReadonlySet<string> = new Set(['bitmap', 'polygon', 'rectangle']);

export interface TrackedObject {
  readonly key: string;
  readonly id: number;
  /** The frame the object is first annotated on; its figures there make its first mask. */
  readonly firstFrame: number;
}

/** What tracking a video means, worked out from its annotation alone (no decoding). */
export interface VideoPlan {
  readonly objects: readonly TrackedObject[];
  /** Why each untracked object with figures is left as it is. */
  readonly untracked: readonly string[];
  /** The first frame with an object to track; undefined if there is none. */
  readonly start: number | undefined;
}

/** Ids, first frames and what is left untracked (and why), from the annotation; errors name the file and field. */
export function planVideo(annotation: VideoAnnotation, meta: ProjectMeta, file: string): VideoPlan {
  const firstFrame = new Map<string, number>();
  const firstTypes = new Map<string, string[]>();
  annotation.frames.forEach((frame, i) => {
    if (frame.figures.length === 0) return;
    // The SDK accepts index == framesCount (V.3.3), but the video has no such frame to track on.
    if (frame.index >= annotation.framesCount) {
      throw dataError(
        `figures on frame ${frame.index}, but the video's frames are 0..${annotation.framesCount - 1} (framesCount ${annotation.framesCount})`,
        { file, item: `frames[${i}]`, field: 'index' },
      );
    }
    for (const figure of frame.figures) {
      const first = firstFrame.get(figure.objectKey);
      if (first === undefined || frame.index < first) {
        firstFrame.set(figure.objectKey, frame.index);
        firstTypes.set(figure.objectKey, []);
      }
      if (firstFrame.get(figure.objectKey) === frame.index)
        firstTypes.get(figure.objectKey)?.push(figure.geometry.type);
    }
  });
  const objects: TrackedObject[] = [];
  const untracked: string[] = [];
  annotation.objects.forEach((object) => {
    const first = firstFrame.get(object.key);
    if (first === undefined) return; // no figure at all: nothing to follow
    const shape = meta.classByTitle.get(object.classTitle)?.shape;
    const name = `object ${object.key} ("${object.classTitle}")`;
    if (shape === undefined || !TRACKABLE_CLASS_SHAPES.has(shape)) {
      untracked.push(
        `${name}: its class has shape ${shape}; predicted figures are bitmaps, which the SDK accepts only for ` +
          'classes of shape bitmap or any',
      );
      return;
    }
    const types = firstTypes.get(object.key) ?? [];
    if (!types.some((t) => TRACKABLE_FIGURE_TYPES.has(t))) {
      untracked.push(
        `${name}: its first figure (frame ${first}) is a ${types.join(', ')}, not a mask to follow`,
      );
      return;
    }
    objects.push({ key: object.key, id: objects.length + 1, firstFrame: first });
  });
  if (objects.length > MAX_OBJECTS_PER_VIDEO) {
    throw dataError(
      `${objects.length} objects to track; at most ${MAX_OBJECTS_PER_VIDEO} a video (ids 1..255 of an 8-bit index mask)`,
      { file, field: 'objects' },
    );
  }
  const start = objects.length === 0 ? undefined : Math.min(...objects.map((o) => o.firstFrame));
  return { objects, untracked, start };
}

/** The index mask of `objects` from their figures among `figures`, drawn in figure order. */
export function indexMask(
  figures: readonly VideoFigure[],
  objects: readonly TrackedObject[],
  width: number,
  height: number,
): Uint8Array {
  const idOf = new Map(objects.map((o) => [o.key, o.id]));
  const data = new Uint8Array(width * height);
  for (const figure of figures) {
    const id = idOf.get(figure.objectKey);
    if (id !== undefined && TRACKABLE_FIGURE_TYPES.has(figure.geometry.type)) {
      drawGeometry({ width, height, data }, figure.geometry, id);
    }
  }
  return data;
}
