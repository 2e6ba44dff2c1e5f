/**
 * Video I/O through the real ffmpeg (Debian's, `apt-get install -y ffmpeg`): the writer, ffprobe and the
 * reader agree on sizes, frame counts and pixels; a consumer that stops early leaves no ffmpeg behind; a
 * missing ffmpeg, a garbage, cut-short or empty file are errors that name the file and say what to do.
 */
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TaskError } from '../../src/errors';
import type { RgbFrame } from '../../src/video/frame';
import { probeVideo } from '../../src/video/probe';
import { readVideoFrames, type ReadVideoOptions } from '../../src/video/reader';
import { openVideoWriter } from '../../src/video/writer';
import { ffmpegChildren, smoothFrame, taskError, withEnv, writeVideo } from './helpers';

let dir: string;
beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'video-io-'));
});
afterAll(() => fsp.rm(dir, { recursive: true, force: true }));

async function readAll(file: string, opts: ReadVideoOptions = {}): Promise<RgbFrame[]> {
  const frames: RgbFrame[] = [];
  for await (const f of readVideoFrames(file, opts)) frames.push(f);
  return frames;
}

/** Mean absolute difference per byte. */
function meanDiff(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}

describe('writer -> ffprobe -> reader', () => {
  it('keeps the size, the frame count, the rate and the pixels (within H.264 loss)', async () => {
    const file = path.join(dir, 'round.mp4');
    const frames = Array.from({ length: 12 }, (_, t) => smoothFrame(64, 48, t));
    await writeVideo(file, frames, 10);
    expect(await probeVideo(file)).toEqual({ width: 64, height: 48, fps: 10, frames: 12, codec: 'h264' });
    const back = await readAll(file);
    expect(back.map((f) => [f.width, f.height, f.rgb.length])).toEqual(
      frames.map(() => [64, 48, 64 * 48 * 3]),
    );
    for (let t = 0; t < frames.length; t++) expect(meanDiff(back[t].rgb, frames[t].rgb)).toBeLessThan(6);
    // Frames are buffers of their own: a tracker may keep one.
    expect(new Set(back.map((f) => f.rgb.buffer)).size).toBe(back.length);
    // Nothing left beside the video: the temporary was renamed.
    expect((await fsp.readdir(dir)).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('pads odd sizes to even ones, and reads at a short side keeping the aspect with even sizes', async () => {
    const file = path.join(dir, 'odd.mp4');
    await writeVideo(file, [smoothFrame(63, 47, 0), smoothFrame(63, 47, 1)], 5);
    expect(await probeVideo(file)).toMatchObject({ width: 64, height: 48, frames: 2 });
    const small = await readAll(file, { shortSide: 24 });
    expect(small.map((f) => [f.width, f.height, f.rgb.length])).toEqual([
      [32, 24, 32 * 24 * 3],
      [32, 24, 32 * 24 * 3],
    ]);
    // Never enlarged.
    expect((await readAll(file, { shortSide: 100 }))[0]).toMatchObject({ width: 64, height: 48 });
  });

  it('turns a video with display rotation as players do: ffprobe and the reader agree', async () => {
    const plain = path.join(dir, 'plain.mp4');
    const turned = path.join(dir, 'turned.mp4');
    await writeVideo(plain, [smoothFrame(64, 48, 0)], 5);
    execFileSync('ffmpeg', ['-v', 'error', '-i', plain, '-c', 'copy', '-metadata:s:v', 'rotate=90', turned]);
    expect(await probeVideo(turned)).toMatchObject({ width: 48, height: 64 });
    expect((await readAll(turned)).map((f) => [f.width, f.height])).toEqual([[48, 64]]);
  });
});

describe('the reader streams', () => {
  it('holds ffmpeg back while a frame is out; stopping after one frame kills ffmpeg and reaps it', async () => {
    const file = path.join(dir, 'long.mp4');
    await writeVideo(
      file,
      Array.from({ length: 60 }, (_, t) => smoothFrame(96, 64, t)),
      25,
    );
    const before = ffmpegChildren();
    const frames = readVideoFrames(file);
    const first = await frames.next();
    expect(first.done).toBe(false);
    // Backpressure: half a second later ffmpeg still runs, held back by the unread pipe (the 60 frames, 1.1 MB,
    // would have been decoded and written long before if the reader took them all in).
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(ffmpegChildren().length).toBe(before.length + 1);
    await frames.return();
    expect(ffmpegChildren()).toEqual(before);
  });

  it('a consumer that throws stops ffmpeg as well', async () => {
    const before = ffmpegChildren();
    await expect(
      (async () => {
        for await (const _ of readVideoFrames(path.join(dir, 'long.mp4'))) throw new Error('consumer failed');
      })(),
    ).rejects.toThrow('consumer failed');
    expect(ffmpegChildren()).toEqual(before);
  });
});

describe('errors users can act on', () => {
  it('a missing ffmpeg or ffprobe says how to install it (FFMPEG_PATH / FFPROBE_PATH point elsewhere)', async () => {
    const file = path.join(dir, 'round.mp4');
    const info = await probeVideo(file);
    const probe = await withEnv({ FFPROBE_PATH: '/nonexistent/ffprobe' }, () => taskError(probeVideo(file)));
    expect(probe.message).toContain('/nonexistent/ffprobe');
    expect(probe.message).toContain('apt-get install -y ffmpeg');
    expect(probe.message).toMatch(/Docker image installs it/);
    const read = await withEnv({ FFMPEG_PATH: '/nonexistent/ffmpeg' }, () =>
      taskError(readAll(file, { info })),
    );
    expect(read.message).toMatch(/ffmpeg is needed .*apt-get install -y ffmpeg/);
    const out = path.join(dir, 'never.mp4');
    const written = await withEnv({ FFMPEG_PATH: '/nonexistent/ffmpeg' }, async () => {
      const writer = openVideoWriter(out, { width: 8, height: 8, fps: 5 });
      return taskError(
        (async () => {
          await writer.write(new Uint8Array(8 * 8 * 3));
          await writer.close();
        })(),
      );
    });
    expect(written.message).toContain('apt-get install -y ffmpeg');
    await expect(fsp.access(out)).rejects.toThrow();
  });

  it('garbage, an empty file and a missing file name the file and say what is wrong', async () => {
    const garbage = path.join(dir, 'garbage.mp4');
    await fsp.writeFile(garbage, Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7919) % 256)));
    const e = await taskError(probeVideo(garbage));
    expect(e.context.file).toBe(garbage);
    expect(e.message).toMatch(/cannot read the video .*: .*(Invalid data|moov atom not found)/);
    const empty = path.join(dir, 'empty.mp4');
    await fsp.writeFile(empty, '');
    expect((await taskError(readAll(empty))).message).toContain('cannot read the video');
    expect((await taskError(probeVideo(path.join(dir, 'nope.mp4')))).message).toContain('file not found');
  });

  it('a video cut short is an error saying how many of its frames decoded', async () => {
    const whole = path.join(dir, 'faststart.mp4');
    // moov first (as streaming-ready files are): the cut file still says how many frames it should have.
    const frames = Array.from({ length: 30 }, (_, t) => smoothFrame(160, 120, t));
    const raw = path.join(dir, 'faststart-src.mp4');
    await writeVideo(raw, frames, 10);
    execFileSync('ffmpeg', ['-v', 'error', '-i', raw, '-c', 'copy', '-movflags', '+faststart', whole]);
    const bytes = await fsp.readFile(whole);
    const cut = path.join(dir, 'cut.mp4');
    await fsp.writeFile(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const e = await taskError(readAll(cut));
    expect(e.context.file).toBe(cut);
    expect(e.message).toMatch(/damaged or cut short: \d+ of its 30 frames decoded/);
  });

  it('a video without frames, or without a video stream, says so', async () => {
    const y4m = path.join(dir, 'header-only.y4m');
    await fsp.writeFile(y4m, 'YUV4MPEG2 W64 H48 F10:1 Ip A1:1 C420jpeg\n');
    expect((await taskError(readAll(y4m))).message).toContain('the video has no frames');
    const audio = path.join(dir, 'audio.m4a');
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=d=0.2', '-c:a', 'aac', audio]);
    expect((await taskError(probeVideo(audio))).message).toContain('no video stream');
  });

  it('an unsupported codec and output that stops inside a frame are said (a stand-in ffmpeg prints them)', async () => {
    const file = path.join(dir, 'round.mp4');
    const fake = async (name: string, body: string): Promise<string> => {
      const script = path.join(dir, name);
      const version = 'case "$*" in *-version*) echo "ffmpeg version 5.1.9"; exit 0;; esac';
      await fsp.writeFile(script, `#!/bin/sh\n${version}\n${body}\n`, { mode: 0o755 });
      return script;
    };
    const noDecoder = await fake(
      'no-decoder.sh',
      'echo "[h264 @ 0x55d0] Decoder (codec h264) not found for input stream #0:0" >&2; exit 1',
    );
    const codec = await withEnv({ FFMPEG_PATH: noDecoder }, () => taskError(readAll(file)));
    expect(codec.message).toContain(
      "this ffmpeg cannot decode the video's codec (h264): Decoder (codec h264) not found for input stream #0:0",
    );
    const short = await fake('short.sh', 'head -c 100 /dev/zero; exit 0');
    const cut = await withEnv({ FFMPEG_PATH: short }, () => taskError(readAll(file)));
    expect(cut.message).toContain(
      "ffmpeg's output ended inside frame 1: 100 of the 9216 bytes of a 64x48 RGB frame",
    );
  });

  it('the writer refuses a frame of the wrong size; abort leaves nothing under either name', async () => {
    const out = path.join(dir, 'aborted.mp4');
    const writer = openVideoWriter(out, { width: 16, height: 8, fps: 5 });
    await writer.write(smoothFrame(16, 8, 0).rgb);
    await expect(writer.write(new Uint8Array(10))).rejects.toThrow(/10 bytes for a 16x8 RGB video/);
    await writer.abort();
    await expect(fsp.access(out)).rejects.toThrow();
    expect((await fsp.readdir(dir)).filter((f) => f.startsWith('.aborted'))).toEqual([]);
    const empty = openVideoWriter(path.join(dir, 'no-frames.mp4'), { width: 16, height: 8, fps: 5 });
    expect((await taskError(empty.close())).message).toContain('no frames to write');
  });

  it('a folder that cannot be written to is an encoding error naming the video', async () => {
    const out = path.join(dir, 'missing-folder', 'x.mp4');
    const writer = openVideoWriter(out, { width: 16, height: 8, fps: 5 });
    const e = await taskError(
      (async () => {
        await writer.write(smoothFrame(16, 8, 0).rgb);
        await writer.close();
      })(),
    );
    expect(e).toBeInstanceOf(TaskError);
    expect(e.context.file).toBe(out);
    expect(e.message).toMatch(/cannot (write|encode) the video/);
  });
});
