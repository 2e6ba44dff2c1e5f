/** Frames, videos and process checks for the video tests (no process is started here). */
import * as fs from 'node:fs';
import { TaskError } from '../../src/errors';
import type { RgbFrame } from '../../src/video/frame';
import { openVideoWriter } from '../../src/video/writer';

/** A smooth picture (gradients and a soft moving blob) that H.264 keeps within a few levels. */
export function smoothFrame(width: number, height: number, t: number): RgbFrame {
  const rgb = new Uint8Array(width * height * 3);
  const cx = (width / 4 + t * 2) % width;
  const cy = height / 2;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      const blob = Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * (Math.min(width, height) / 5) ** 2));
      rgb[o] = Math.round((255 * x) / width);
      rgb[o + 1] = Math.round((255 * y) / height);
      rgb[o + 2] = Math.round(60 + 180 * blob);
    }
  }
  return { width, height, rgb };
}

export async function writeVideo(file: string, frames: readonly RgbFrame[], fps: number): Promise<void> {
  const writer = openVideoWriter(file, { width: frames[0].width, height: frames[0].height, fps });
  for (const f of frames) await writer.write(f.rgb);
  await writer.close();
}

/** The TaskError a promise rejects with (anything else fails the test). */
export async function taskError(promise: Promise<unknown>): Promise<TaskError> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof TaskError) return e;
    throw e;
  }
  throw new Error('expected a TaskError');
}

/** Runs `fn` with environment variables set, then puts them back. */
export async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/**
 * The ffmpeg processes whose parent is this one, zombies included ("pid state"), from /proc: what a reader
 * that stopped early must not leave behind.
 */
export function ffmpegChildren(): string[] {
  const out: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // pid (comm) state ppid ...: comm may hold spaces, so split after its closing parenthesis.
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const [state, ppid] = stat
      .slice(close + 2)
      .split(' ')
      .slice(0, 2);
    if (Number(ppid) === process.pid && comm.startsWith('ffmpeg')) out.push(`${pid} ${state}`);
  }
  return out.sort();
}
