/**
 * Videos uploaded to the server: kept as uploaded (tracking reads it again, at its own frame rate) and decoded
 * once to JPEG frames for the page (it shows frame 0 to click on, then any frame while scrubbing). Decoding
 * streams through ffmpeg; a corrupt or unsupported video is a data error (400), and nothing is kept then.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { dataError, TaskError } from '../errors';
import type { RgbFrame } from '../video/frame';
import { probeVideo } from '../video/probe';
import { openFrameSource } from '../video/source';
import { readVideoFrames } from '../video/reader';
import { HttpError } from './http-error';

export const VIDEO_FILE = 'video';
export const FRAMES_DIR = 'frames';

/** A decoded frame's name in FRAMES_DIR: 00000.jpg, 00001.jpg, ... */
export function frameFileName(index: number): string {
  return `${String(index).padStart(5, '0')}.jpg`;
}

export interface UploadedVideo {
  readonly frames: number;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
}

export async function decodeVideoToFrames(opts: {
  bytes: Buffer;
  filename: string;
  dir: string;
  maxFrames: number;
  signal?: AbortSignal;
}): Promise<UploadedVideo> {
  await fsp.mkdir(path.join(opts.dir, FRAMES_DIR), { recursive: true });
  const file = path.join(opts.dir, VIDEO_FILE);
  await fsp.writeFile(file, opts.bytes);
  const info = await probeVideo(file).catch((e: unknown) => {
    throw e instanceof TaskError
      ? e
      : dataError(`cannot read the video: ${String(e)}`, { file: opts.filename }, e);
  });
  let frames = 0;
  for await (const frame of readVideoFrames(file, { info })) {
    opts.signal?.throwIfAborted();
    if (frames >= opts.maxFrames) {
      throw new HttpError(
        413,
        `${opts.filename} has more than ${opts.maxFrames} frames, the most this server takes`,
      );
    }
    const jpeg = await sharp(frame.rgb, { raw: { width: frame.width, height: frame.height, channels: 3 } })
      .jpeg({ quality: 90 })
      .toBuffer();
    await fsp.writeFile(path.join(opts.dir, FRAMES_DIR, frameFileName(frames)), jpeg);
    frames += 1;
  }
  if (frames === 0) throw dataError('the video has no frames', { file: opts.filename });
  return { frames, width: info.width, height: info.height, fps: info.fps };
}

/** The first frame of a video file or a frame folder (the reader stops after it). */
export async function firstFrame(input: string): Promise<RgbFrame> {
  const source = await openFrameSource(input);
  for await (const frame of source.read()) return frame;
  throw dataError('no frames', { file: path.basename(input) });
}
