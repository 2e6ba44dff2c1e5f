/**
 * Training clips from a Supervisely video project (docs/supervisely-video-format.md): real videos with object
 * masks on their frames, the data a tracker learns most from. Videos go to the folds by their video-level tags
 * (`dataset_tags`, as images do). Each training video is decoded once when training starts (ffmpeg, streamed),
 * at a short side of the clip's longer side, and only its annotated frames are kept, with their index masks:
 * the objects are those inference would track (video-objects.ts), ids 1..K in `objects[]` order. A clip is a
 * few annotated frames in order, at random gaps, seen through one random window of the clip's size (the same
 * on every frame) around an object of its first frame, flipped at random. The decoded frames are held within a
 * memory budget; past it, later frames are left out with a warning, never more memory.
 */
import { dataError } from '../../errors';
import { projectDisplayPath } from '../../format/project-reader';
import type { VideoAnnotation } from '../../format/video-annotation';
import {
  readVideoAnnotation,
  videoProjectItems,
  type VideoItem,
  type VideoProjectListing,
} from '../../format/video-project-reader';
import { nearestSourceIndex, resizeNearest } from '../../image/resize-nearest';
import type { DatasetTags } from '../../training/folds';
import type { Random } from '../../util/random';
import type { Frame } from './baselines';
import type { TrainingClip } from './clip-batch';
import { indexMask, planVideo, type VideoPlan } from './video-objects';

/** A video of the project with what training needs of its annotation. */
export interface AnnotatedVideo {
  readonly item: VideoItem;
  readonly annotation: VideoAnnotation;
  readonly plan: VideoPlan;
  /** Frames holding a figure of an object to track, ascending. */
  readonly annotatedFrames: readonly number[];
}

export interface VideoFolds {
  train: AnnotatedVideo[];
  val: AnnotatedVideo[];
  /** Videos with neither fold tag, or without an object to track: not used. */
  unused: number;
}

/**
 * Reads every annotation (errors name the file and the field) and splits the videos with objects to track by
 * their video-level tags: a video goes to every fold whose tag it carries.
 */
export async function videoFolds(project: VideoProjectListing, tags: DatasetTags): Promise<VideoFolds> {
  const folds: VideoFolds = { train: [], val: [], unused: 0 };
  for (const item of videoProjectItems(project)) {
    const annotation = await readVideoAnnotation(project, item);
    const plan = planVideo(annotation, project.meta, projectDisplayPath(project, item.annotationPath));
    const tracked = new Set(plan.objects.map((o) => o.key));
    const annotatedFrames = annotation.frames
      .filter((f) => f.figures.some((g) => tracked.has(g.objectKey)))
      .map((f) => f.index)
      .sort((a, b) => a - b);
    const names = new Set(annotation.tags.map((t) => t.name));
    const video: AnnotatedVideo = { item, annotation, plan, annotatedFrames };
    const inTrain = annotatedFrames.length > 0 && names.has(tags.train);
    const inVal = annotatedFrames.length > 0 && names.has(tags.val);
    if (inTrain) folds.train.push(video);
    if (inVal) folds.val.push(video);
    if (!inTrain && !inVal) folds.unused += 1;
  }
  return folds;
}

/** An annotated frame, decoded: RGB and the objects' index mask at the decoded size. */
export interface DecodedFrame {
  readonly index: number;
  readonly rgb: Uint8Array;
  readonly ids: Uint8Array;
}

export interface DecodedVideo {
  readonly name: string;
  readonly width: number;
  readonly height: number;
  readonly frames: readonly DecodedFrame[];
}

/** Decodes a video file's frames at a short side (never enlarged), in order: src/video's readVideoFrames, bound by the caller. */
export type ScaledFrameSource = (file: string, shortSide: number) => AsyncIterable<Frame>;

/**
 * Decodes a video and keeps its annotated frames (the first `maxFrames`), each with its index mask drawn at the video's size and
 * resized (nearest) to the decoded size, while `budget.bytes` allows; returns null if not one frame fits.
 * Stops decoding after the last annotated frame (the source's loop is left: ffmpeg is stopped).
 */
export async function decodeAnnotatedVideo(
  project: VideoProjectListing,
  video: AnnotatedVideo,
  open: ScaledFrameSource,
  shortSide: number,
  budget: { bytes: number },
  maxFrames = Infinity,
): Promise<{ decoded: DecodedVideo | null; dropped: number }> {
  const { annotation, plan } = video;
  const annotatedFrames = video.annotatedFrames.slice(0, maxFrames);
  const file = projectDisplayPath(project, video.item.videoPath);
  const wanted = new Set(annotatedFrames);
  const figuresAt = new Map(annotation.frames.map((f) => [f.index, f.figures]));
  const last = annotatedFrames[annotatedFrames.length - 1];
  const frames: DecodedFrame[] = [];
  let dropped = 0;
  let width = 0;
  let height = 0;
  let t = 0;
  for await (const frame of open(video.item.videoPath, shortSide)) {
    if (t === 0) {
      ({ width, height } = frame);
    } else if (frame.width !== width || frame.height !== height) {
      throw dataError(`frame ${t} is ${frame.width}x${frame.height}, frame 0 was ${width}x${height}`, {
        file,
      });
    }
    if (wanted.has(t)) {
      const bytes = frame.width * frame.height * 4;
      if (bytes > budget.bytes) {
        dropped += 1;
      } else {
        budget.bytes -= bytes;
        const { width: W, height: H } = annotation.size;
        const full = indexMask(figuresAt.get(t) ?? [], plan.objects, W, H);
        const ids = resizeNearest(full, { width: W, height: H }, { width, height });
        frames.push({ index: t, rgb: frame.rgb, ids });
      }
    }
    t += 1;
    if (t > last) break;
  }
  if (t <= last) {
    throw dataError(
      `the video has ${t} frames, but its annotation has figures on frame ${last} (framesCount ${annotation.framesCount})`,
      { file: projectDisplayPath(project, video.item.annotationPath), field: 'frames' },
    );
  }
  return {
    decoded:
      frames.length === 0
        ? null
        : { name: `${video.item.dataset}/${video.item.name}`, width, height, frames },
    dropped,
  };
}

/**
 * A training clip of `count` annotated frames of a decoded video: in order, 1 to `maxGap` annotated frames
 * apart (fewer if the video has few), seen through one `size` window placed around an object of the first
 * frame, the same window on every frame, flipped left-right half the time. A frame smaller than the window is
 * stretched to it. Null when the video has fewer than `count` annotated frames.
 */
export function videoClip(
  video: DecodedVideo,
  rand: Random,
  count: number,
  size: { width: number; height: number },
  maxGap = 3,
): TrainingClip | null {
  const n = video.frames.length;
  if (n < count) return null;
  const gap = 1 + Math.floor(rand() * Math.min(maxGap, Math.floor((n - 1) / (count - 1))));
  const start = Math.floor(rand() * (n - (count - 1) * gap));
  const picked = Array.from({ length: count }, (_, i) => video.frames[start + i * gap]);
  let { width, height } = video;
  let frames = picked.map((f) => ({ rgb: f.rgb, ids: f.ids }));
  if (width < size.width || height < size.height) {
    const to = { width: Math.max(width, size.width), height: Math.max(height, size.height) };
    frames = frames.map((f) => ({
      rgb: stretchRgb(f.rgb, { width, height }, to),
      ids: resizeNearest(f.ids, { width, height }, to),
    }));
    ({ width, height } = to);
  }
  const [x0, y0] = windowAround(frames[0].ids, width, height, size, rand);
  const flip = rand() < 0.5;
  const rgb: Uint8Array[] = [];
  const ids: Uint8Array[] = [];
  for (const f of frames) {
    const r = new Uint8Array(size.width * size.height * 3);
    const m = new Uint8Array(size.width * size.height);
    for (let y = 0; y < size.height; y++) {
      for (let x = 0; x < size.width; x++) {
        const sx = x0 + (flip ? size.width - 1 - x : x);
        const s = (y0 + y) * width + sx;
        const d = y * size.width + x;
        m[d] = f.ids[s];
        r[d * 3] = f.rgb[s * 3];
        r[d * 3 + 1] = f.rgb[s * 3 + 1];
        r[d * 3 + 2] = f.rgb[s * 3 + 2];
      }
    }
    rgb.push(r);
    ids.push(m);
  }
  return { width: size.width, height: size.height, rgb, ids };
}

/** The top-left corner of a `size` window holding the centre of a random object of `ids` (anywhere if none). */
function windowAround(
  ids: Uint8Array,
  width: number,
  height: number,
  size: { width: number; height: number },
  rand: Random,
): [number, number] {
  const pixels: number[] = [];
  for (let i = 0; i < ids.length; i++) if (ids[i] !== 0) pixels.push(i);
  const maxX = width - size.width;
  const maxY = height - size.height;
  if (pixels.length === 0) return [Math.floor(rand() * (maxX + 1)), Math.floor(rand() * (maxY + 1))];
  // A random object pixel, then a random window that holds it: objects land anywhere in the window.
  const p = pixels[Math.floor(rand() * pixels.length)];
  const px = p % width;
  const py = (p - px) / width;
  const lowX = Math.max(0, px - size.width + 1);
  const lowY = Math.max(0, py - size.height + 1);
  const x0 = lowX + Math.floor(rand() * (Math.min(maxX, px) - lowX + 1));
  const y0 = lowY + Math.floor(rand() * (Math.min(maxY, py) - lowY + 1));
  return [x0, y0];
}

/**
 * Nearest-neighbour RGB resize (only for frames smaller than a training window: rare, and tiny), sampling the
 * pixels resizeNearest samples for the frame's labels, so image and mask stay aligned.
 */
function stretchRgb(
  rgb: Uint8Array,
  from: { width: number; height: number },
  to: { width: number; height: number },
): Uint8Array {
  const out = new Uint8Array(to.width * to.height * 3);
  for (let y = 0; y < to.height; y++) {
    const sy = nearestSourceIndex(y, from.height, to.height);
    for (let x = 0; x < to.width; x++) {
      const s = (sy * from.width + nearestSourceIndex(x, from.width, to.width)) * 3;
      out.set(rgb.subarray(s, s + 3), (y * to.width + x) * 3);
    }
  }
  return out;
}

/**
 * A validation sequence of a decoded video: its first `frames` annotated frames (as decoded), with only the
 * objects of the first one (DAVIS scores the objects given on frame 0).
 */
export function* validationFrames(
  video: DecodedVideo,
  frames: number,
): Generator<{ rgb: Uint8Array; ids: Uint8Array }> {
  const first = video.frames[0];
  const given = new Uint8Array(256);
  for (const v of first.ids) given[v] = 1;
  for (const f of video.frames.slice(0, frames)) {
    yield { rgb: f.rgb, ids: f.ids.map((v) => (given[v] === 1 ? v : 0)) };
  }
}
