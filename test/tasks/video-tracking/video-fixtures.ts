/**
 * Small video projects for the tracking tests: frames rendered in memory from boxes of flat colour over a
 * gradient, an annotation whose figures are those boxes on the frames that say so, and a frame source that
 * serves the rendered frames by video file name (the decoder stands aside, as the task takes it injected).
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { encodeBitmap } from '../../../src/format/bitmap-codec';
import type { BitmapGeometry } from '../../../src/format/model';
import type { Frame, FrameTracker, TrackerFactory } from '../../../src/tasks/video-tracking/baselines';

export const WIDTH = 32;
export const HEIGHT = 20;

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface SceneObject {
  key: string;
  classTitle: string;
  colour: [number, number, number];
  /** Where the object is on frame t; null where it is not in view. */
  at: (t: number) => Box | null;
}

/** The frames of a scene: a smooth gradient, the objects painted over it in order. */
export function renderFrames(
  objects: readonly SceneObject[],
  frames: number,
  w = WIDTH,
  h = HEIGHT,
): Frame[] {
  const out: Frame[] = [];
  for (let t = 0; t < frames; t++) {
    const rgb = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) rgb.set([40 + x * 3, 60 + y * 4, 90], (y * w + x) * 3);
    }
    for (const o of objects) {
      const b = o.at(t);
      if (b === null) continue;
      for (let y = b.y; y < b.y + b.h; y++)
        for (let x = b.x; x < b.x + b.w; x++) rgb.set(o.colour, (y * w + x) * 3);
    }
    out.push({ width: w, height: h, rgb });
  }
  return out;
}

/** A bitmap figure JSON of a box, drawn by a person (nnCreated false). */
export function boxFigure(key: string, objectKey: string, b: Box): Record<string, unknown> {
  const data = new Uint8Array(b.w * b.h).fill(1);
  return {
    key,
    objectKey,
    geometryType: 'bitmap',
    geometry: {
      bitmap: encodeBitmap({ width: b.w, height: b.h, data }, { x: b.x, y: b.y }),
      shape: 'bitmap',
      geometryType: 'bitmap',
    },
    nnCreated: false,
    nnUpdated: false,
  };
}

/** The annotation JSON of a video of `frames` frames whose objects are annotated on the frames `given` names. */
export function annotationJson(
  objects: readonly SceneObject[],
  frames: number,
  given: Record<number, string[]>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  let n = 0;
  const byKey = new Map(objects.map((o) => [o.key, o]));
  return {
    size: { height: HEIGHT, width: WIDTH },
    description: '',
    key: 'a'.repeat(32),
    tags: [],
    objects: objects.map((o) => ({ key: o.key, classTitle: o.classTitle, tags: [] })),
    frames: Object.entries(given).map(([t, keys]) => ({
      index: Number(t),
      figures: keys.map((k) =>
        boxFigure(
          (++n).toString(16).padStart(32, 'f'),
          k,
          (byKey.get(k) as SceneObject).at(Number(t)) as Box,
        ),
      ),
    })),
    framesCount: frames,
    ...extra,
  };
}

export const META = {
  classes: [
    { title: 'person', shape: 'bitmap', color: '#FF0000' },
    { title: 'ball', shape: 'bitmap', color: '#0000FF' },
    { title: 'car', shape: 'any', color: '#00FF00' },
    { title: 'road', shape: 'polygon', color: '#888888' },
  ],
  tags: [{ name: 'occluded', value_type: 'none', target_type: 'all' }],
  projectType: 'videos',
};

export interface VideoSpec {
  /** "dataset folder/video name", e.g. "ds0/datasets/child/clip.mp4". */
  where: string;
  annotation: Record<string, unknown>;
  frames: Frame[];
}

/** Writes the project (the video files hold a few bytes: frames come from `frameSource`). */
export async function writeProject(
  root: string,
  videos: readonly VideoSpec[],
  meta: object = META,
): Promise<void> {
  await fs.mkdir(root, { recursive: true });
  await fs.writeFile(path.join(root, 'meta.json'), JSON.stringify(meta, null, 4));
  for (const v of videos) {
    const dir = path.join(root, path.dirname(v.where));
    const name = path.basename(v.where);
    await fs.mkdir(path.join(dir, 'video'), { recursive: true });
    await fs.mkdir(path.join(dir, 'ann'), { recursive: true });
    await fs.writeFile(path.join(dir, 'video', name), `not really a video: ${v.where}`);
    await fs.writeFile(path.join(dir, 'ann', `${name}.json`), JSON.stringify(v.annotation, null, 4));
  }
}

/** Serves each video's frames by its path's last parts ("…/ds0/video/clip.mp4" → the spec at "ds0/clip.mp4"). */
export function frameSource(
  root: string,
  videos: readonly VideoSpec[],
): (file: string) => AsyncIterable<Frame> {
  const byFile = new Map(
    videos.map((v) => [path.join(root, path.dirname(v.where), 'video', path.basename(v.where)), v.frames]),
  );
  return async function* (file: string) {
    const frames = byFile.get(file);
    if (frames === undefined) throw new Error(`no frames for ${file}`);
    for (const f of frames) yield f;
  };
}

/**
 * A tracker that is right by construction on rendered scenes: each id takes the pixels of the colour it had where
 * it was given (first frame or `added`). An object out of view gets no pixel. Records what it was given.
 */
export function colourKeyTracker(calls: {
  first?: Uint8Array;
  added: Map<number, Uint8Array>;
}): TrackerFactory {
  return async (first, firstMask) => {
    calls.first = Uint8Array.from(firstMask);
    const colours = new Map<number, number>();
    const learn = (frame: Frame, mask: Uint8Array): void => {
      for (let i = 0; i < mask.length; i++) {
        if (mask[i] !== 0 && !colours.has(mask[i])) colours.set(mask[i], colourAt(frame, i));
      }
    };
    learn(first, firstMask);
    let t = 0;
    const tracker: FrameTracker = {
      next: async (frame, added) => {
        t++;
        if (added !== undefined) {
          calls.added.set(t, Uint8Array.from(added));
          learn(frame, added);
        }
        const out = new Uint8Array(frame.width * frame.height);
        for (let i = 0; i < out.length; i++) {
          const c = colourAt(frame, i);
          for (const [id, colour] of colours) if (colour === c) out[i] = id;
        }
        return out;
      },
    };
    return tracker;
  };
}

const colourAt = (frame: Frame, i: number): number =>
  (frame.rgb[i * 3] << 16) | (frame.rgb[i * 3 + 1] << 8) | frame.rgb[i * 3 + 2];

/** The pixels of a box, as "x,y", row by row. */
export function boxPixels(b: Box): string[] {
  const out: string[] = [];
  for (let y = b.y; y < b.y + b.h; y++) for (let x = b.x; x < b.x + b.w; x++) out.push(`${x},${y}`);
  return out;
}

/** The set pixels of a bitmap geometry in frame coordinates, as "x,y", row by row. */
export function bitmapPixels(g: BitmapGeometry): string[] {
  const out: string[] = [];
  const { width, height, data } = g.mask;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++)
      if (data[y * width + x] !== 0) out.push(`${g.origin.x + x},${g.origin.y + y}`);
  }
  return out;
}
