/**
 * One way in for a tracker's input, whichever it is: a video file (through ffmpeg) or a folder of frames.
 */
import { promises as fs } from 'node:fs';
import { dataError, errorMessage } from '../errors';
import { probeFrameFolder, readFrameFolder } from './frame-folder';
import { scaledSize, type FrameSize, type RgbFrame } from './frame';
import { probeVideo } from './probe';
import { readVideoFrames } from './reader';

export interface FrameSource {
  kind: 'video' | 'folder';
  /** The frames' size in the file(s). */
  size: FrameSize;
  /** The size the frames are read at (`shortSide`). */
  readSize: FrameSize;
  fps: number;
  /** The frame count when known beforehand (a folder, or a video whose container records it). */
  frames: number | null;
  /** The frames, read one at a time; stopping early stops the reading (and ffmpeg). */
  read(): AsyncGenerator<RgbFrame, void, undefined>;
}

export async function openFrameSource(
  input: string,
  opts: { shortSide?: number } = {},
): Promise<FrameSource> {
  let isFolder: boolean;
  try {
    isFolder = (await fs.stat(input)).isDirectory();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw dataError(code === 'ENOENT' ? 'not found' : `cannot read: ${errorMessage(e)}`, { file: input });
  }
  const info = isFolder ? await probeFrameFolder(input) : await probeVideo(input);
  return {
    kind: isFolder ? 'folder' : 'video',
    size: { width: info.width, height: info.height },
    readSize: scaledSize(info, opts.shortSide),
    fps: info.fps,
    frames: info.frames,
    read: () =>
      'files' in info ? readFrameFolder(input, { ...opts, info }) : readVideoFrames(input, { ...opts, info }),
  };
}
