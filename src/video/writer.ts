/**
 * Writing RGB frames to an H.264 mp4 (yuv420p, what every player and browser plays) through an ffmpeg pipe.
 * ffmpeg writes to a hidden temporary name beside the target (util/atomic.ts's temporarySibling), and `close`
 * renames it once ffmpeg has finished: the final name holds a whole video or nothing. `abort`, an error, or a
 * crash leaves at most the hidden temporary (which abort and errors remove). Odd sizes are padded by one
 * pixel to even ones, which yuv420p needs.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { dataError } from '../errors';
import { temporarySibling } from '../util/atomic';
import { describeExit, notStarted, startProgram, stopProgram, summariseStderr, type Exit } from './ffmpeg';

export interface VideoWriterOptions {
  width: number;
  height: number;
  fps: number;
}

export interface VideoWriter {
  /** Appends one frame (width x height x 3 RGB bytes); resolves once ffmpeg's pipe has taken it. */
  write(rgb: Uint8Array): Promise<void>;
  /** Finishes the file and renames it to its final name. */
  close(): Promise<void>;
  /** Stops ffmpeg and removes what was written; the final name is left as it was. */
  abort(): Promise<void>;
}

export function openVideoWriter(file: string, opts: VideoWriterOptions): VideoWriter {
  const { width, height, fps } = opts;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new Error(`cannot write a ${width}x${height} video`);
  }
  if (!(fps > 0 && Number.isFinite(fps))) throw new Error(`cannot write a video at ${fps} frames a second`);
  const temp = temporarySibling(path.resolve(file));
  const running = startProgram(
    'ffmpeg',
    [
      '-v',
      'error',
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      '-s',
      `${width}x${height}`,
      '-r',
      String(fps),
      '-i',
      'pipe:0',
      '-vf',
      'pad=ceil(iw/2)*2:ceil(ih/2)*2',
      '-c:v',
      'libx264',
      '-pix_fmt',
      'yuv420p',
      // The temporary name ends in .tmp: say the container.
      '-f',
      'mp4',
      '-y',
      temp,
    ],
    ['pipe', 'ignore', 'pipe'],
  );
  const frameBytes = width * height * 3;
  let state: 'open' | 'closing' | 'closed' | 'aborted' = 'open';
  let frames = 0;

  const failure = (exit: Exit, doing: string): Error => {
    if (exit.spawnError !== undefined) return notStarted('ffmpeg', exit.spawnError);
    const said = summariseStderr(exit.stderr);
    return dataError(`cannot ${doing} (ffmpeg: ${describeExit(exit)}${said === '' ? '' : `: ${said}`})`, {
      file,
    });
  };
  const discard = async (): Promise<void> => {
    await stopProgram(running);
    await fs.rm(temp, { force: true });
  };

  return {
    async write(rgb) {
      if (state !== 'open') throw new Error(`${file}: the video writer is ${state}`);
      if (rgb.length !== frameBytes) {
        throw new Error(
          `${file}: a frame of ${rgb.length} bytes for a ${width}x${height} RGB video (${frameBytes} bytes a frame)`,
        );
      }
      const stdin = running.child.stdin;
      // Waiting for each write to be taken is the backpressure: ffmpeg reads a frame, encodes, reads the next.
      // Until then the pipe holds a reference to the bytes, so they are not copied and must not change.
      const taken = await new Promise<boolean>((resolve) => {
        if (stdin === null || stdin.destroyed || running.exited()) resolve(false);
        else stdin.write(rgb, (e) => resolve(e === null || e === undefined));
      });
      if (!taken) {
        const error = failure(await stopProgram(running), 'write the video');
        state = 'aborted';
        await fs.rm(temp, { force: true });
        throw error;
      }
      frames += 1;
    },
    async close() {
      if (state !== 'open') throw new Error(`${file}: the video writer is ${state}`);
      state = 'closing';
      if (frames === 0) {
        await discard();
        state = 'aborted';
        throw dataError('no frames to write: a video needs at least one', { file });
      }
      running.child.stdin?.end();
      const exit = await running.done;
      if (exit.code !== 0 || exit.spawnError !== undefined) {
        await fs.rm(temp, { force: true });
        state = 'aborted';
        throw failure(exit, 'encode the video');
      }
      try {
        await fs.rename(temp, file);
      } catch (e) {
        await fs.rm(temp, { force: true });
        state = 'aborted';
        throw dataError(`cannot move the finished video into place: ${(e as Error).message}`, { file }, e);
      }
      state = 'closed';
    },
    async abort() {
      if (state === 'closed' || state === 'aborted') return;
      state = 'aborted';
      await discard();
    },
  };
}
