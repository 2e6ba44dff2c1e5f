/**
 * Tracking on one video or folder of frames: the first frame's mask (an index PNG) is followed frame by frame,
 * and one index PNG a frame is written to `<outDir>/00000.png`, `00001.png`, ... (VOC palette, the first mask's
 * ids), optionally with an mp4 of the masks over the frames (or frame | prediction | ground truth). The
 * tracker comes from a TrackerFactory, so the baselines and a trained tracker run the same way.
 *
 * Two frames are in memory at a time, whatever the video's length. Everything is checked that can be before
 * anything is written (sizes, frame counts); the mask folder is written under a temporary name and renamed at
 * the end, the video likewise: a failure leaves nothing under the output names.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { dataError } from '../../errors';
import { vocPalette } from '../../format/palette';
import { encodeIndexPng } from '../../format/png-chunks';
import type { IndexImage } from '../../format/png-mask-reader';
import { resizeNearest } from '../../image/resize-nearest';
import { writeFolderAtomically } from '../../util/atomic';
import { listFrameFiles } from '../../video/frame-folder';
import { formatSize, sameSize, type FrameSize } from '../../video/frame';
import { overlayMasks, sideBySide } from '../../video/overlay';
import { openFrameSource } from '../../video/source';
import { openVideoWriter, type VideoWriter } from '../../video/writer';
import type { FrameTracker, TrackerFactory } from './baselines';
import { readIndexFile } from './davis-eval';

export interface TrackVideoOptions {
  /** A video file (anything ffmpeg reads) or a folder of .jpg/.png frames in name order. */
  input: string;
  /**
   * The first frame's mask, of the input's size (0 is background): an index PNG (palette or grey), or the mask
   * itself (e.g. made from clicks) with the name errors give it.
   */
  firstMaskFile: string | { name: string; mask: IndexImage };
  /** The folder of index PNGs written, one a frame. */
  outDir: string;
  /** An mp4 of the masks blended over the frames. */
  videoOut?: string;
  /** A folder of ground-truth index PNGs, one a frame in name order: the video shows frame | prediction | truth. */
  sideBySideDir?: string;
  makeTracker: TrackerFactory;
  /** Track at this short side (faster); masks are scaled back to the input's size (nearest neighbour). */
  shortSide?: number;
  /** After each frame: frames done, and the frame count when known beforehand. */
  onFrame?: (done: number, frames: number | null) => void;
  /** Stops between frames when aborted (the model server's stop_inference); nothing is left under outDir. */
  signal?: AbortSignal;
}

export interface TrackVideoResult {
  frames: number;
  /** The input's frame size, which the masks have. */
  size: FrameSize;
  /** The size the tracker ran at (and the video's, panels aside). */
  trackedSize: FrameSize;
  fps: number;
}

/** The names of the written masks: 00000.png, 00001.png, ... */
export function maskFileName(index: number): string {
  return `${String(index).padStart(5, '0')}.png`;
}

export async function trackVideo(opts: TrackVideoOptions): Promise<TrackVideoResult> {
  if (opts.sideBySideDir !== undefined && opts.videoOut === undefined) {
    throw new Error('side by side is a video: give the video file to write it to');
  }
  const source = await openFrameSource(opts.input, { shortSide: opts.shortSide });
  const { size, readSize } = source;
  const scaled = !sameSize(size, readSize);
  const given = opts.firstMaskFile;
  const firstMask = typeof given === 'string' ? await readIndexFile(given) : given.mask;
  const maskName = typeof given === 'string' ? given : given.name;
  if (!sameSize(firstMask, size)) {
    throw dataError(
      `the first frame's mask is ${formatSize(firstMask)} but the ${source.kind} ${opts.input} is ` +
        `${formatSize(size)} (width x height): the mask must be the frames' size`,
      { file: maskName },
    );
  }
  const truth = opts.sideBySideDir === undefined ? undefined : await listTruth(opts, source.frames);
  // Output folders' parents are made now; nothing goes under an output name until the end.
  await fs.mkdir(path.dirname(path.resolve(opts.outDir)), { recursive: true });
  if (opts.videoOut !== undefined)
    await fs.mkdir(path.dirname(path.resolve(opts.videoOut)), { recursive: true });

  const palette = vocPalette();
  const toRead = (mask: Uint8Array): Uint8Array => (scaled ? resizeNearest(mask, size, readSize) : mask);
  const toSize = (mask: Uint8Array): Uint8Array => (scaled ? resizeNearest(mask, readSize, size) : mask);
  const trackedFirst = toRead(firstMask.data);
  let frames = 0;
  await writeFolderAtomically(opts.outDir, async (tmp) => {
    let writer: VideoWriter | undefined;
    let tracker: FrameTracker | undefined;
    try {
      for await (const frame of source.read()) {
        opts.signal?.throwIfAborted();
        let mask: Uint8Array;
        if (tracker === undefined) {
          tracker = await opts.makeTracker(frame, trackedFirst);
          mask = trackedFirst;
        } else {
          mask = await tracker.next(frame);
        }
        const full = frames === 0 ? firstMask.data : toSize(mask);
        await fs.writeFile(
          path.join(tmp, maskFileName(frames)),
          encodeIndexPng({ ...size, data: full }, palette),
        );
        if (opts.videoOut !== undefined) {
          const picture =
            truth === undefined
              ? overlayMasks(frame, mask)
              : sideBySide([
                  frame,
                  overlayMasks(frame, mask),
                  overlayMasks(frame, toRead((await readTruth(truth, frames, size)).data)),
                ]);
          writer ??= openVideoWriter(opts.videoOut, { ...picture, fps: source.fps });
          await writer.write(picture.rgb);
        }
        frames += 1;
        opts.onFrame?.(frames, source.frames);
      }
      if (truth !== undefined && truth.files.length !== frames) {
        throw frameCountMismatch(opts, truth.files.length, frames);
      }
      // The video first: if it fails, the folder is not renamed either.
      await writer?.close();
    } catch (e) {
      await writer?.abort();
      throw e;
    } finally {
      await tracker?.dispose?.();
    }
    // An earlier run's folder is replaced whole, only once the new one is complete.
    await fs.rm(opts.outDir, { recursive: true, force: true });
  });
  return { frames, size, trackedSize: readSize, fps: source.fps };
}

interface Truth {
  dir: string;
  files: string[];
}

/** The ground-truth masks' files; a count that differs from a frame count known beforehand fails now. */
async function listTruth(opts: TrackVideoOptions, frames: number | null): Promise<Truth> {
  const dir = opts.sideBySideDir as string;
  const files = await listFrameFiles(dir, ['.png']);
  if (frames !== null && files.length !== frames) throw frameCountMismatch(opts, files.length, frames);
  return { dir, files };
}

async function readTruth(truth: Truth, index: number, size: FrameSize): Promise<IndexImage> {
  if (index >= truth.files.length) {
    throw dataError(`${truth.files.length} ground-truth masks, and the video has more frames`, {
      file: truth.dir,
    });
  }
  const file = path.join(truth.dir, truth.files[index]);
  const mask = await readIndexFile(file);
  if (!sameSize(mask, size)) {
    throw dataError(`the ground-truth mask is ${formatSize(mask)}, the frames ${formatSize(size)}`, { file });
  }
  return mask;
}

function frameCountMismatch(opts: TrackVideoOptions, masks: number, frames: number): Error {
  return dataError(`${masks} ground-truth masks (.png) but ${opts.input} has ${frames} frames: one a frame`, {
    file: opts.sideBySideDir,
  });
}
