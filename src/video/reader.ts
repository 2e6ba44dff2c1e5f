/**
 * Reading a video's frames as RGB through an ffmpeg pipe, one frame at a time. ffmpeg writes raw rgb24 frames
 * to stdout; each is exactly width x height x 3 bytes, cut out of the stream as it comes. The pipe is read only
 * as fast as the consumer takes frames (the stream pauses while a frame is out), so memory holds about one
 * frame and the pipe's buffer however long the video is. Stopping early (a `break`, an error in the consumer)
 * kills ffmpeg and waits for it: no process is left behind.
 */
import { dataError } from '../errors';
import {
  describeExit,
  ffmpegVersion,
  isUnsupportedCodec,
  notStarted,
  passthroughOptions,
  startProgram,
  stopProgram,
  summariseStderr,
  type Exit,
} from './ffmpeg';
import { formatSize, scaledSize, type RgbFrame } from './frame';
import { ffmpegInput, probeVideo, type VideoInfo } from './probe';

export interface ReadVideoOptions {
  /** Read the frames scaled to this short side (aspect kept, even sizes; never enlarged). */
  shortSide?: number;
  /** The file's probeVideo result, when the caller has it (saves running ffprobe again). */
  info?: VideoInfo;
}

export async function* readVideoFrames(
  file: string,
  opts: ReadVideoOptions = {},
): AsyncGenerator<RgbFrame, void, undefined> {
  const info = opts.info ?? (await probeVideo(file));
  const { width, height } = scaledSize(info, opts.shortSide);
  const running = startProgram(
    'ffmpeg',
    [
      '-v',
      'error',
      '-nostdin',
      '-i',
      ffmpegInput(file),
      // Always the size the probe promised: a frame is then exactly this many bytes, whatever the stream does
      // (a rotation the probe missed would be squeezed, not garbled).
      '-vf',
      `scale=${width}:${height}`,
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      ...passthroughOptions(await ffmpegVersion()),
      'pipe:1',
    ],
    ['ignore', 'pipe', 'pipe'],
  );
  const frameBytes = width * height * 3;
  let frame = new Uint8Array(frameBytes);
  let filled = 0;
  let count = 0;
  let ended = false;
  try {
    const stdout = running.child.stdout as AsyncIterable<Buffer>;
    for await (const chunk of stdout) {
      let at = 0;
      while (at < chunk.length) {
        const n = Math.min(frameBytes - filled, chunk.length - at);
        frame.set(chunk.subarray(at, at + n), filled);
        filled += n;
        at += n;
        if (filled === frameBytes) {
          count += 1;
          // The consumer may keep a frame (a tracker keeps the previous one): each frame is a buffer of its own.
          const whole = frame;
          frame = new Uint8Array(frameBytes);
          filled = 0;
          yield { width, height, rgb: whole };
        }
      }
    }
    const exit = await running.done;
    ended = true;
    checkEnd(file, info, exit, { count, filled, frameBytes, size: formatSize({ width, height }) });
  } finally {
    // Left early (return or throw): kill ffmpeg and reap it.
    if (!ended) await stopProgram(running);
  }
}

/** The errors of a decode that ran to its end: ffmpeg failed, a frame cut short, no frames, frames missing. */
function checkEnd(
  file: string,
  info: VideoInfo,
  exit: Exit,
  got: { count: number; filled: number; frameBytes: number; size: string },
): void {
  if (exit.spawnError !== undefined) throw notStarted('ffmpeg', exit.spawnError);
  const said = summariseStderr(exit.stderr);
  const saying = said === '' ? '' : `: ${said}`;
  if (exit.code !== 0 && isUnsupportedCodec(exit.stderr)) {
    throw dataError(`this ffmpeg cannot decode the video's codec (${info.codec})${saying}`, { file });
  }
  // ffmpeg stops at some damage and carries on past other damage: either way, fewer frames than the file
  // records, with errors said, is a broken file.
  if (info.frames !== null && got.count < info.frames && (exit.code !== 0 || said !== '')) {
    throw dataError(
      `the video is damaged or cut short: ${got.count} of its ${info.frames} frames decoded${saying}`,
      { file },
    );
  }
  if (exit.code !== 0) {
    throw dataError(`cannot decode the video (${describeExit(exit)}) after ${got.count} frames${saying}`, {
      file,
    });
  }
  if (got.filled !== 0) {
    throw dataError(
      `ffmpeg's output ended inside frame ${got.count + 1}: ${got.filled} of the ${got.frameBytes} bytes of ` +
        `a ${got.size} RGB frame`,
      { file },
    );
  }
  if (got.count === 0) throw dataError(`the video has no frames that decode${saying}`, { file });
}
