/**
 * What a video file holds, from ffprobe: the size frames decode to, the frame rate, the frame count when the
 * container records it, and the codec. A file ffprobe cannot read, or one without a video stream, is a data
 * error naming the file and what ffprobe said.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { dataError, errorMessage } from '../errors';
import { runProgram, summariseStderr } from './ffmpeg';

export interface VideoInfo {
  /** The size of the decoded frames, as the video is shown: a rotated phone video is already turned. */
  width: number;
  height: number;
  /** Frames a second, from the stream's r_frame_rate (25 when the file does not say). */
  fps: number;
  /** The frame count the container records (nb_frames), null when it records none (mkv, webm, raw streams). */
  frames: number | null;
  /** ffprobe's codec_name, e.g. `h264`. */
  codec: string;
}

/** The rate assumed when a file records none. */
export const DEFAULT_FPS = 25;

interface ProbeStream {
  width?: number;
  height?: number;
  r_frame_rate?: string;
  nb_frames?: string;
  codec_name?: string;
  tags?: { rotate?: string };
  side_data_list?: { rotation?: number }[];
}

/**
 * The path as ffmpeg must see it: absolute, so a name that starts with `-` is not an option and one with a
 * colon is not taken for a protocol (`http:`).
 */
export function ffmpegInput(file: string): string {
  return path.resolve(file);
}

/** A missing or unreadable file, said before ffmpeg says it less clearly. */
export async function checkReadable(file: string): Promise<void> {
  let stat;
  try {
    stat = await fs.stat(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw dataError(code === 'ENOENT' ? 'file not found' : `cannot read the file: ${errorMessage(e)}`, {
      file,
    });
  }
  if (!stat.isFile()) throw dataError('not a video file', { file });
}

export async function probeVideo(file: string): Promise<VideoInfo> {
  await checkReadable(file);
  const { exit, stdout } = await runProgram('ffprobe', [
    '-v',
    'error',
    '-select_streams',
    'v:0',
    // The display rotation too: ffmpeg turns the frames it decodes, so width and height swap at 90 and 270.
    '-show_entries',
    'stream=width,height,r_frame_rate,nb_frames,codec_name:stream_side_data=rotation:stream_tags=rotate',
    '-of',
    'json',
    ffmpegInput(file),
  ]);
  if (exit.code !== 0) {
    const said = summariseStderr(exit.stderr) || `ffprobe failed (exit code ${exit.code ?? 'unknown'})`;
    throw dataError(`cannot read the video (not a video file, or damaged or cut short): ${said}`, { file });
  }
  let stream: ProbeStream | undefined;
  try {
    stream = (JSON.parse(stdout) as { streams?: ProbeStream[] }).streams?.[0];
  } catch (e) {
    throw dataError(`ffprobe's output is not JSON: ${errorMessage(e)}`, { file });
  }
  if (stream === undefined) {
    throw dataError('no video stream: the file holds no frames (audio only, or an empty video)', { file });
  }
  const codec = stream.codec_name ?? 'unknown';
  if (!(Number(stream.width) > 0 && Number(stream.height) > 0)) {
    throw dataError(`the video stream has no frame size (codec ${codec}): the codec is not supported`, {
      file,
    });
  }
  const turned = quarterTurned(stream);
  const frames = Number(stream.nb_frames);
  return {
    width: turned ? Number(stream.height) : Number(stream.width),
    height: turned ? Number(stream.width) : Number(stream.height),
    fps: parseRate(stream.r_frame_rate) ?? DEFAULT_FPS,
    frames: Number.isInteger(frames) && frames > 0 ? frames : null,
    codec,
  };
}

/** Rotated by 90 or 270 degrees: the display matrix (ffmpeg 5+) or the older `rotate` tag. */
function quarterTurned(stream: ProbeStream): boolean {
  const rotation =
    stream.side_data_list?.find((d) => d.rotation !== undefined)?.rotation ??
    Number(stream.tags?.rotate ?? 0);
  const quarter = (((Math.round(Number(rotation) / 90) % 4) + 4) % 4) as 0 | 1 | 2 | 3;
  return quarter === 1 || quarter === 3;
}

/** "30000/1001" -> 29.97; null for "0/0" or anything else not a positive rate. */
export function parseRate(text: string | undefined): number | null {
  const m = /^(\d+(?:\.\d+)?)(?:\/(\d+))?$/.exec(text ?? '');
  if (m === null) return null;
  const rate = Number(m[1]) / (m[2] === undefined ? 1 : Number(m[2]));
  return Number.isFinite(rate) && rate > 0 ? rate : null;
}
