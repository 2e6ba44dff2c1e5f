/**
 * Mask tracking over a Supervisely video project (docs/supervisely-video-format.md V.5, V.6): every object of
 * every video is followed from the frame it is first annotated on to the end of the video, and the result is the
 * same project (meta, videos hard-linked or copied, key_id_map.json) whose annotations hold, besides everything
 * they held, one bitmap figure per tracked object on each later frame where the tracker finds it.
 *
 * - Objects get ids 1..K in the order of `objects[]` (at most 255 a video: the index mask is 8-bit). The first
 *   frame's index mask is drawn from the figures of the objects first annotated on it, in figure order (a later
 *   figure over an earlier one, as the SDK's tracker draws its request); an object first annotated on a later
 *   frame is passed to the tracker as `added` on that frame (FrameTracker, baselines.ts).
 * - Tracked: objects of a class of shape `bitmap` or `any`, from their bitmap figures, and (class `any` only)
 *   polygon and rectangle figures, rasterised as the SDK draws them. A predicted figure is a bitmap, which the
 *   SDK refuses for a class of another shape (V.9), so objects of polygon, rectangle or other classes, and
 *   objects first annotated with points, lines or other shapes, are not tracked: a warning names each.
 * - A given figure is kept as it is; on a frame where an object has one, no predicted figure is added (one
 *   figure per object per frame). A predicted figure is cropped to the object's pixels with its origin (V.4),
 *   with nnCreated and nnUpdated true and a new UUID hex key (V.6); an empty prediction adds nothing. Given
 *   figures on later frames are kept but do not correct the tracker: `added` is for objects new on a frame.
 * - The frames come from `openFrames` (the decoder is bound by the caller), one at a time; their count must be
 *   the annotation's `framesCount` and their size its `size`. Videos without objects to track are copied
 *   without decoding.
 *
 * The result is written in a temporary folder beside `resultDir` and renamed when complete: on any error nothing
 * is left under `resultDir`. Every annotation is read and checked before the first video is decoded.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { dataError, type TaskErrorContext } from '../../errors';
import { encodedBitmapGeometry } from '../../format/geometry';
import { projectDisplayPath } from '../../format/project-reader';
import { classBitmapsFromMask } from '../../format/rasterise';
import { newUuidHex } from '../../format/uuid-key';
import type { VideoAnnotation, VideoFigure, VideoFrame } from '../../format/video-annotation';
import {
  readSingleVideoProject,
  readVideoAnnotation,
  videoProjectItems,
  type VideoItem,
  type VideoProjectListing,
} from '../../format/video-project-reader';
import { VideoProjectWriter } from '../../format/video-project-writer';
import type { Logger } from '../../protocol/logger';
import { writeFolderAtomically } from '../../util/atomic';
import { stopRequests } from '../../protocol/stop';
import type { Frame, FrameTracker, TrackerFactory } from './baselines';
import { indexMask, planVideo, type TrackedObject, type VideoPlan } from './video-objects';

/** The decoded frames of a video file, in decoding order (e.g. src/video's `readVideoFrames`, bound by the caller). */
export type FrameSource = (videoFile: string) => AsyncIterable<Frame>;

export interface TrackVideoProjectOptions {
  /** The video project, or a folder holding exactly one (V.1.4). */
  projectDir: string;
  /** Where the result project goes; it must not exist, or be an empty folder. */
  resultDir: string;
  makeTracker: TrackerFactory;
  openFrames: FrameSource;
  logger?: Pick<Logger, 'info' | 'warn'>;
  /** After each frame, over all videos. */
  onProgress?: (doneFrames: number, totalFrames: number) => void;
}

export interface TrackVideoProjectSummary {
  readonly project: string;
  readonly videos: number;
  /** Frames decoded and tracked. */
  readonly frames: number;
  readonly trackedObjects: number;
  /** Objects left as they are (a warning names each). */
  readonly untrackedObjects: number;
  readonly predictedFigures: number;
}

export async function trackVideoProject(
  options: TrackVideoProjectOptions,
): Promise<TrackVideoProjectSummary> {
  const { logger } = options;
  const project = await readSingleVideoProject(options.projectDir);
  for (const s of project.skipped) {
    logger?.warn(`Folder skipped: not a dataset the SDK reads (${s.reason})`, { folder: s.folder });
  }
  await checkResultDir(options.resultDir);

  // Everything is read and checked first: a broken annotation fails the task before hours of decoding.
  let totalFrames = 0;
  const items = [...videoProjectItems(project)];
  for (const item of items) {
    const annotation = await readVideoAnnotation(project, item);
    const plan = planVideo(annotation, project.meta, annotationFile(project, item));
    await checkVideoFile(project, item);
    totalFrames += annotation.framesCount;
    if (plan.objects.length === 0 && plan.untracked.length === 0) continue;
    logger?.info(`Video ${item.dataset}/${item.name}: ${plan.objects.length} objects to track`, {
      ...(plan.start !== undefined ? { from_frame: plan.start } : {}),
      frames: annotation.framesCount,
    });
    for (const why of plan.untracked)
      logger?.warn(`Not tracked: ${why}`, { video: `${item.dataset}/${item.name}` });
  }

  let doneFrames = 0;
  const tally = { frames: 0, trackedObjects: 0, untrackedObjects: 0, predictedFigures: 0 };
  const progress = (): void => options.onProgress?.(++doneFrames, totalFrames);
  await fs.mkdir(path.dirname(path.resolve(options.resultDir)), { recursive: true });
  await writeFolderAtomically(options.resultDir, async (tmp) => {
    const writer = await VideoProjectWriter.create({
      dir: tmp,
      projectName: project.name,
      meta: project.meta,
      keyIdMap: project.keyIdMap,
    });
    for (const item of items) {
      const annotation = await readVideoAnnotation(project, item);
      const file = annotationFile(project, item);
      const plan = planVideo(annotation, project.meta, file);
      tally.trackedObjects += plan.objects.length;
      tally.untrackedObjects += plan.untracked.length;
      let predicted: ReadonlyMap<number, VideoFigure[]> = new Map();
      if (plan.start === undefined) {
        // Nothing to track: the annotation as it is, and no decoding.
        doneFrames += annotation.framesCount;
        options.onProgress?.(doneFrames, totalFrames);
      } else {
        const tracked = await trackVideo({
          annotation,
          plan,
          frames: options.openFrames(item.videoPath),
          makeTracker: options.makeTracker,
          file,
          onFrame: progress,
          warn: (message) => logger?.warn(message, { video: `${item.dataset}/${item.name}` }),
        });
        tally.frames += annotation.framesCount;
        tally.predictedFigures += tracked.count;
        predicted = tracked.byFrame;
      }
      const frames = mergeFrames(annotation, predicted);
      await writer.addItem({ ...item, annotation: { ...annotation, frames } });
    }
    await writer.finish();
  });
  const summary = { project: project.name, videos: items.length, ...tally };
  logger?.info('Video project tracked', { ...summary, result: options.resultDir });
  return summary;
}

const annotationFile = (project: VideoProjectListing, item: VideoItem): string =>
  projectDisplayPath(project, item.annotationPath);

/** The result folder must not exist, or be empty: a project there is never merged with or replaced. */
async function checkResultDir(dir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await fs.readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw dataError(`cannot use this folder for the result: ${(e as Error).message}`, { file: dir }, e);
  }
  if (entries.length > 0) {
    throw dataError(`the result folder is not empty (${entries.slice(0, 3).join(', ')}...)`, { file: dir });
  }
}

async function checkVideoFile(project: VideoProjectListing, item: VideoItem): Promise<void> {
  const file = projectDisplayPath(project, item.videoPath);
  let size: number;
  try {
    const stat = await fs.stat(item.videoPath);
    if (!stat.isFile()) throw dataError('the video is not a file', { file });
    size = stat.size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    throw dataError(`the video file is missing (the annotation is ${annotationFile(project, item)})`, {
      file,
    });
  }
  if (size === 0) {
    throw dataError('the video file is empty (0 bytes, as the SDK downloads a project without its videos)', {
      file,
    });
  }
}

interface Tracked {
  /** Predicted figures by frame index. */
  readonly byFrame: ReadonlyMap<number, VideoFigure[]>;
  readonly count: number;
}

/** Decodes the video once, from frame 0 to the end, tracking from the plan's start frame. */
async function trackVideo(args: {
  annotation: VideoAnnotation;
  plan: VideoPlan;
  frames: AsyncIterable<Frame>;
  makeTracker: TrackerFactory;
  file: string;
  onFrame: () => void;
  warn: (message: string) => void;
}): Promise<Tracked> {
  const { annotation, plan, file } = args;
  const { width, height } = annotation.size;
  const start = plan.start as number;
  const byId = new Map(plan.objects.map((o) => [o.id, o]));
  const figuresOn = new Map(annotation.frames.map((f) => [f.index, f.figures]));
  /** The object keys with a given figure on each frame: those frames keep their figures, not predictions. */
  const givenOn = (t: number): Set<string> => new Set((figuresOn.get(t) ?? []).map((f) => f.objectKey));
  const byFrame = new Map<number, VideoFigure[]>();
  let count = 0;
  let tracker: FrameTracker | undefined;
  let t = 0;
  try {
    for await (const frame of args.frames) {
      // A stop (SIGTERM, where the entry point listens) ends the run here: the results folder is never renamed.
      stopRequests.throwIfRequested('tracking stopped between frames; no results project was written');
      if (t >= annotation.framesCount) {
        throw dataError(
          `the video has more frames than the annotation's ${annotation.framesCount} (frame ${t} was decoded)`,
          { file, field: 'framesCount' },
        );
      }
      checkFrame(frame, annotation, t, { file, field: 'size' });
      const firstHere = plan.objects.filter((o) => o.firstFrame === t);
      const given =
        firstHere.length === 0 ? undefined : indexMask(figuresOn.get(t) ?? [], firstHere, width, height);
      if (given !== undefined) {
        const pixels = new Uint32Array(256);
        for (let i = 0; i < given.length; i++) pixels[given[i]]++;
        for (const o of firstHere) {
          if (pixels[o.id] === 0) {
            args.warn(
              `object ${o.key} is covered by later figures on frame ${t}, its first: it cannot be tracked`,
            );
          }
        }
      }
      if (t === start) {
        tracker = await args.makeTracker(frame, given as Uint8Array);
      } else if (t > start) {
        const mask = await (tracker as FrameTracker).next(frame, given);
        if (mask.length !== width * height) {
          throw new Error(`the tracker returned ${mask.length} ids for a ${width}x${height} frame ${t}`);
        }
        const figures = predictedFigures(mask, annotation.size, t, byId, givenOn(t));
        if (figures.length > 0) byFrame.set(t, figures);
        count += figures.length;
      }
      t++;
      args.onFrame();
    }
  } finally {
    await tracker?.dispose?.();
  }
  if (t !== annotation.framesCount) {
    throw dataError(
      `the video has ${t} frames, the annotation's framesCount says ${annotation.framesCount}`,
      {
        file,
        field: 'framesCount',
      },
    );
  }
  return { byFrame, count };
}

function checkFrame(frame: Frame, annotation: VideoAnnotation, t: number, where: TaskErrorContext): void {
  const { width, height } = annotation.size;
  if (frame.width !== width || frame.height !== height) {
    throw dataError(
      `frame ${t} of the video is ${frame.width}x${frame.height}, the annotation's size ${width}x${height}`,
      where,
    );
  }
  if (frame.rgb.length !== width * height * 3) {
    throw new Error(`frame ${t}: ${frame.rgb.length} bytes of RGB for ${width}x${height} pixels`);
  }
}

/**
 * A tight bitmap figure for each object the tracker finds on frame `t`, for objects first annotated before `t`
 * and without a given figure on `t`. The masks are held encoded: a long video's figures stay small.
 */
function predictedFigures(
  mask: Uint8Array,
  size: { width: number; height: number },
  t: number,
  byId: ReadonlyMap<number, TrackedObject>,
  given: ReadonlySet<string>,
): VideoFigure[] {
  const wanted = new Map<string, number>();
  for (const [id, o] of byId) if (o.firstFrame < t && !given.has(o.key)) wanted.set(o.key, id);
  if (wanted.size === 0) return [];
  // One tight box per id in one pass over the mask; the "class titles" are the object keys.
  const labels = classBitmapsFromMask({ mask, size, classToIndex: wanted });
  const figures: VideoFigure[] = [];
  for (const label of labels) {
    if (label.geometry.type !== 'bitmap') continue;
    const geometry = encodedBitmapGeometry(label.geometry.mask, label.geometry.origin);
    if (geometry === null) continue; // an object the tracker lost on this frame gets no figure
    figures.push({
      key: newUuidHex(),
      objectKey: label.classTitle,
      geometry,
      nnCreated: true,
      nnUpdated: true,
      geometryExtra: {},
      extra: {},
    });
  }
  return figures;
}

/**
 * The given frames with the predicted figures added after the given ones, one entry per frame index, sorted by
 * index (V.6). An empty entry on the frame after the last (which the SDK tolerates) is dropped.
 */
function mergeFrames(
  annotation: VideoAnnotation,
  predicted: ReadonlyMap<number, VideoFigure[]>,
): VideoFrame[] {
  const byIndex = new Map<number, VideoFigure[]>();
  for (const frame of annotation.frames) {
    if (frame.index < annotation.framesCount) byIndex.set(frame.index, [...frame.figures]);
  }
  for (const [index, figures] of predicted) byIndex.set(index, [...(byIndex.get(index) ?? []), ...figures]);
  return [...byIndex.keys()]
    .sort((a, b) => a - b)
    .map((index) => ({ index, figures: byIndex.get(index) as VideoFigure[] }));
}
