/**
 * Tracking for the server: frames in memory (/track-api-files: the SDK uploads N+1 encoded frames) or a video or
 * frame folder on disk (our /track_masks: streamed through trackVideo, masks and the overlay video written to
 * the job's folder). One tracking runs at a time on the tracker's engine (`Serial`); the others wait their turn.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { dataError } from '../errors';
import { geometryToJson, parseGeometry } from '../format/geometry';
import { classBitmapsFromMask, drawGeometry } from '../format/rasterise';
import type { BitmapJson } from '../format/types';
import { decodeImageBytes } from '../image/decode';
import type { CheckpointTracker } from '../tasks/video-tracking/adapt';
import { trackVideo, type TrackVideoResult } from '../tasks/video-tracking/track-video';
import type { IndexImage } from '../format/png-mask-reader';
import { badRequest } from './http-error';
import { isObject, type Upload } from './requests';

/** Runs one task at a time, in the order they were given. */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  private waiting = 0;

  get depth(): number {
    return this.waiting;
  }

  run<T>(work: () => Promise<T>): Promise<T> {
    this.waiting += 1;
    const next = this.tail.then(work, work);
    this.tail = next.then(
      () => undefined,
      () => undefined,
    );
    return next.finally(() => {
      this.waiting -= 1;
    });
  }
}

/** A `{"type": "bitmap"|"polygon", "data": {...}}` geometry of /track-api-files, drawn as object `id`. */
function drawInputGeometry(
  mask: Uint8Array,
  size: { width: number; height: number },
  geometry: unknown,
  index: number,
  id: number,
): void {
  const where = { item: `input_geometries[${index}]` };
  if (!isObject(geometry)) throw badRequest(`${where.item} must be {"type", "data"}`);
  const type = geometry.type;
  if (type !== 'bitmap' && type !== 'polygon') {
    throw badRequest(`${where.item}.type must be "bitmap" or "polygon", got ${JSON.stringify(type)}`);
  }
  if (!isObject(geometry.data)) throw badRequest(`${where.item}.data must be the geometry's JSON`);
  const parsed = parseGeometry(geometry.data, type, where, { image: size });
  drawGeometry({ width: size.width, height: size.height, data: mask }, parsed, id);
}

export interface TrackFilesResult {
  /** One entry per tracked frame (the start frame left out): the objects present, in input order. */
  readonly frames: { type: 'bitmap'; data: { bitmap: BitmapJson } }[][];
}

/**
 * /track-api-files (docs/supervisely-serving-api.md §2b): the first of `files` is the start frame, the
 * geometries are on it; each further frame gets the geometries tracked onto it, as bitmaps. The SDK runs the
 * model once per geometry; here all objects are tracked together (one encoder pass a frame), which gives each
 * object its own mask the same way.
 */
export async function trackFiles(opts: {
  tracker: Pick<CheckpointTracker, 'make'>;
  files: readonly Upload[];
  settings: Record<string, unknown>;
  signal?: AbortSignal;
}): Promise<TrackFilesResult> {
  const s = opts.settings;
  const geometries = s.input_geometries ?? s.inputGeometries;
  if (!Array.isArray(geometries) || geometries.length === 0) {
    throw badRequest('settings.input_geometries must be a non-empty list of {"type", "data"}');
  }
  if (geometries.length > 255) throw badRequest(`at most 255 geometries, got ${geometries.length}`);
  const count = s.frames ?? s.framesCount;
  let used = opts.files.length;
  if (count !== undefined) {
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) {
      throw badRequest(`settings.frames must be a whole number >= 1, got ${JSON.stringify(count)}`);
    }
    used = Math.min(used, count + 1);
  }
  if (used < 2) throw badRequest(`give the start frame and at least one more in "files" (got ${used})`);
  const decode = async (i: number): Promise<{ width: number; height: number; rgb: Uint8Array }> => {
    const f = opts.files[i];
    const d = await decodeImageBytes(f.bytes, { displayName: `files[${i}] (${f.filename})` });
    return { width: d.width, height: d.height, rgb: d.data };
  };
  const first = await decode(0);
  const firstMask = new Uint8Array(first.width * first.height);
  geometries.forEach((g, i) => drawInputGeometry(firstMask, first, g, i, i + 1));
  const tracker = await opts.tracker.make(first, firstMask);
  const idTitles = new Map(geometries.map((_, i) => [String(i + 1), i + 1]));
  const frames: TrackFilesResult['frames'] = [];
  try {
    for (let i = 1; i < used; i++) {
      opts.signal?.throwIfAborted();
      const frame = await decode(i);
      if (frame.width !== first.width || frame.height !== first.height) {
        throw dataError(
          `the frame is ${frame.width}x${frame.height}, the start frame ${first.width}x${first.height}`,
          { file: `files[${i}] (${opts.files[i].filename})` },
        );
      }
      const mask = await tracker.next(frame);
      // One pass over the mask for every object's tight bitmap, in id order (the input's order).
      const row: TrackFilesResult['frames'][number] = [];
      for (const label of classBitmapsFromMask({ mask, size: frame, classToIndex: idTitles })) {
        const json = geometryToJson(label.geometry);
        const bitmap = json?.bitmap;
        if (bitmap !== undefined && bitmap !== null) row.push({ type: 'bitmap', data: { bitmap } });
      }
      frames.push(row);
    }
  } finally {
    await tracker.dispose?.();
  }
  return { frames };
}

/** The folder a tracking job writes: masks/00000.png... and overlay.mp4. */
export const MASKS_DIR = 'masks';
export const OVERLAY_FILE = 'overlay.mp4';

/**
 * Tracks a video file or frame folder from its first frame's index mask into `dir` (masks/ and overlay.mp4),
 * reporting each frame; stops between frames when `signal` aborts (nothing is left under masks/ then).
 */
export async function trackToFolder(opts: {
  tracker: Pick<CheckpointTracker, 'make'>;
  input: string;
  firstMask: IndexImage;
  dir: string;
  /** Also write the overlay video. */
  video: boolean;
  signal?: AbortSignal;
  onFrame?: (done: number, total: number | null) => void;
}): Promise<TrackVideoResult> {
  await fsp.mkdir(opts.dir, { recursive: true });
  return trackVideo({
    input: opts.input,
    firstMaskFile: { name: 'mask', mask: opts.firstMask },
    outDir: path.join(opts.dir, MASKS_DIR),
    ...(opts.video ? { videoOut: path.join(opts.dir, OVERLAY_FILE) } : {}),
    makeTracker: opts.tracker.make,
    ...(opts.signal !== undefined ? { signal: opts.signal } : {}),
    ...(opts.onFrame !== undefined ? { onFrame: opts.onFrame } : {}),
  });
}
