/**
 * A folder of frames (.jpg, .jpeg, .png; the DAVIS layout's JPEGImages/<sequence>/) read as a video: in name
 * order, one frame decoded at a time, each the size of the first. Names sort by their UTF-16 code units, as
 * DAVIS's tools (Python's sorted) order them; zero-padded numbers (00000.jpg) sort as numbers.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { dataError, errorMessage } from '../errors';
import { decodeImage } from '../image/decode';
import { formatSize, sameSize, scaledSize, type FrameSize, type RgbFrame } from './frame';

export const FRAME_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png'];

/** The rate a folder of frames is given when written as a video (DAVIS's clips were shot at 24). */
export const FOLDER_FPS = 24;

/** The files of `dir` with one of `extensions`, in name order; an error naming the folder when there are none. */
export async function listFrameFiles(dir: string, extensions = FRAME_EXTENSIONS): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw dataError(code === 'ENOENT' ? 'folder not found' : `cannot read the folder: ${errorMessage(e)}`, {
      file: dir,
    });
  }
  const frames = names.filter((f) => extensions.includes(path.extname(f).toLowerCase())).sort();
  if (frames.length === 0)
    throw dataError(`no frames (${extensions.join(', ')}) in the folder`, { file: dir });
  return frames;
}

export interface FrameFolderInfo extends FrameSize {
  /** The frame files' names, in order. */
  files: string[];
  frames: number;
  fps: number;
}

/** The folder's frames and their size (the first frame's, decoded once). */
export async function probeFrameFolder(dir: string): Promise<FrameFolderInfo> {
  const files = await listFrameFiles(dir);
  const first = await decodeImage(path.join(dir, files[0]));
  return { width: first.width, height: first.height, files, frames: files.length, fps: FOLDER_FPS };
}

export interface ReadFrameFolderOptions {
  /** Decode the frames scaled to this short side (bilinear, aspect kept, even sizes; never enlarged). */
  shortSide?: number;
  /** The folder's probeFrameFolder result, when the caller has it. */
  info?: FrameFolderInfo;
}

export async function* readFrameFolder(
  dir: string,
  opts: ReadFrameFolderOptions = {},
): AsyncGenerator<RgbFrame, void, undefined> {
  const info = opts.info ?? (await probeFrameFolder(dir));
  const size = scaledSize(info, opts.shortSide);
  const resize = sameSize(size, info) ? undefined : size;
  for (const name of info.files) {
    const file = path.join(dir, name);
    const image = await decodeImage(file, resize === undefined ? {} : { resize });
    if (!sameSize(image.sourceSize, info)) {
      throw dataError(
        `the frame is ${formatSize(image.sourceSize)}, the first frame (${info.files[0]}) ${formatSize(info)}: ` +
          'every frame of a video has one size',
        { file },
      );
    }
    yield { width: image.width, height: image.height, rgb: image.data };
  }
}
