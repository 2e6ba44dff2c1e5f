/**
 * @jest-environment ./test/onnx/ort-environment.js
 *
 * `trackVideo` and `sly-nn track INPUT` end to end on a generated clip, as an mp4 (through ffmpeg) and as a
 * folder of frames: index PNGs a frame with the first mask's ids, overlay and side-by-side videos of the right
 * size and length, and failures (a mask of another size, a broken video, a tracker that fails) that leave
 * nothing under the output names.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CliIo } from '../../../src/cli/command';
import { runCli } from '../../../src/cli/run-cli';
import { generateSyntheticClips } from '../../../src/tasks/video-tracking/generated-clips';
import { vocPalette } from '../../../src/format/palette';
import { encodeIndexPng } from '../../../src/format/png-chunks';
import { readIndexPng } from '../../../src/format/png-mask-reader';
import { makeBaseline, type TrackerFactory } from '../../../src/tasks/video-tracking/baselines';
import { trackVideo } from '../../../src/tasks/video-tracking/track-video';
import { readFrameFolder } from '../../../src/video/frame-folder';
import type { RgbFrame } from '../../../src/video/frame';
import { probeVideo } from '../../../src/video/probe';
import { ffmpegChildren, taskError, withEnv, writeVideo } from '../../video/helpers';
import { writeClickCheckpoint } from '../../helpers/tiny-checkpoints';

const W = 64;
const H = 48;
const FRAMES = 8;
/** The generated ids 1 and 2 become 5 and 200: ids need not be consecutive. */
const IDS = new Map([
  [0, 0],
  [1, 5],
  [2, 200],
]);

let root: string;
let framesDir: string;
let truthDir: string;
let video: string;
let firstMask: string;

const colourNn: TrackerFactory = async (first, mask) => makeBaseline('colour-nn', first, mask);

beforeAll(async () => {
  root = await fsp.mkdtemp(path.join(os.tmpdir(), 'track-video-'));
  const davis = path.join(root, 'DAVIS');
  await generateSyntheticClips({
    dir: davis,
    clips: 1,
    frames: FRAMES,
    width: W,
    height: H,
    seed: 7,
    objects: { min: 2, max: 2 },
    distractors: { min: 0, max: 0 },
  });
  framesDir = path.join(davis, 'JPEGImages', '480p', 'clip000');
  truthDir = path.join(davis, 'Annotations', '480p', 'clip000');
  const frames: RgbFrame[] = [];
  for await (const f of readFrameFolder(framesDir)) frames.push(f);
  video = path.join(root, 'clip.mp4');
  await writeVideo(video, frames, 10);
  const given = readIndexPng(await fsp.readFile(path.join(truthDir, '00000.png')));
  firstMask = path.join(root, 'first.png');
  const remapped = given.data.map((v) => IDS.get(v) ?? 255);
  await fsp.writeFile(firstMask, encodeIndexPng({ width: W, height: H, data: remapped }, vocPalette()));
}, 60_000);
afterAll(() => fsp.rm(root, { recursive: true, force: true }));

async function readMasks(dir: string): Promise<{ names: string[]; masks: Uint8Array[]; size: number[] }> {
  const names = (await fsp.readdir(dir)).sort();
  const images = await Promise.all(
    names.map(async (n) => readIndexPng(await fsp.readFile(path.join(dir, n)))),
  );
  return { names, masks: images.map((i) => i.data), size: [images[0].width, images[0].height] };
}

const fileNames = (n: number): string[] =>
  Array.from({ length: n }, (_, i) => `${String(i).padStart(5, '0')}.png`);

/** Entries of `dir` named like `name` or its hidden temporaries. */
async function leftovers(dir: string, name: string): Promise<string[]> {
  return (await fsp.readdir(dir)).filter((f) => f === name || f.startsWith(`.${name}.`));
}

describe('trackVideo', () => {
  it('on an mp4: a mask a frame with the first mask ids, the first mask as given, an overlay video', async () => {
    const out = path.join(root, 'from-mp4');
    const overlay = path.join(root, 'from-mp4.mp4');
    const seen: number[] = [];
    const result = await trackVideo({
      input: video,
      firstMaskFile: firstMask,
      outDir: out,
      videoOut: overlay,
      makeTracker: colourNn,
      onFrame: (done) => seen.push(done),
    });
    expect(result).toMatchObject({ frames: FRAMES, size: { width: W, height: H }, fps: 10 });
    expect(seen).toEqual(Array.from({ length: FRAMES }, (_, i) => i + 1));
    const { names, masks, size } = await readMasks(out);
    expect(names).toEqual(fileNames(FRAMES));
    expect(size).toEqual([W, H]);
    expect(masks[0]).toEqual(readIndexPng(await fsp.readFile(firstMask)).data);
    for (const m of masks) expect(new Set(m)).toEqual(new Set([0, 5, 200]));
    expect(await probeVideo(overlay)).toMatchObject({ width: W, height: H, frames: FRAMES });
    expect(await leftovers(root, '.from-mp4')).toEqual([]);
  });

  it('on a folder of frames at a short side, with frame | prediction | truth: full-size masks, a 3-panel video', async () => {
    const out = path.join(root, 'from-folder');
    const panels = path.join(root, 'panels.mp4');
    const result = await trackVideo({
      input: framesDir,
      firstMaskFile: firstMask,
      outDir: out,
      videoOut: panels,
      sideBySideDir: truthDir,
      shortSide: 24,
      makeTracker: colourNn,
    });
    expect(result).toMatchObject({
      frames: FRAMES,
      size: { width: W, height: H },
      trackedSize: { width: 32, height: 24 },
    });
    const { names, masks, size } = await readMasks(out);
    expect(names).toEqual(fileNames(FRAMES));
    expect(size).toEqual([W, H]);
    for (const m of masks.slice(1)) for (const v of new Set(m)) expect([0, 5, 200]).toContain(v);
    expect(await probeVideo(panels)).toMatchObject({ width: 3 * 32, height: 24, frames: FRAMES, fps: 24 });
  });

  it('a first mask of another size fails naming both files and sizes, before anything is written', async () => {
    const small = path.join(root, 'small.png');
    await fsp.writeFile(
      small,
      encodeIndexPng({ width: 32, height: 24, data: new Uint8Array(32 * 24) }, vocPalette()),
    );
    const out = path.join(root, 'wrong-size');
    const e = await taskError(
      trackVideo({
        input: video,
        firstMaskFile: small,
        outDir: out,
        videoOut: `${out}.mp4`,
        makeTracker: colourNn,
      }),
    );
    expect(e.context.file).toBe(small);
    expect(e.message).toContain(`the first frame's mask is 32x24 but the video ${video} is 64x48`);
    expect(await leftovers(root, 'wrong-size')).toEqual([]);
    expect(await leftovers(root, 'wrong-size.mp4')).toEqual([]);
  });

  it('a ground truth with another frame count fails before anything is written', async () => {
    const few = path.join(root, 'few-truth');
    await fsp.mkdir(few);
    await fsp.copyFile(path.join(truthDir, '00000.png'), path.join(few, '00000.png'));
    const out = path.join(root, 'few-out');
    const e = await taskError(
      trackVideo({
        input: video,
        firstMaskFile: firstMask,
        outDir: out,
        videoOut: `${out}.mp4`,
        sideBySideDir: few,
        makeTracker: colourNn,
      }),
    );
    expect(e.message).toContain(`1 ground-truth masks (.png) but ${video} has ${FRAMES} frames`);
    expect(await leftovers(root, 'few-out')).toEqual([]);
  });

  it('a video cut short, or a tracker failing half way, leaves nothing under the output names nor an ffmpeg', async () => {
    const bytes = await fsp.readFile(video);
    const cut = path.join(root, 'cut.mp4');
    await fsp.writeFile(cut, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const out = path.join(root, 'broken');
    const before = ffmpegChildren();
    const e = await taskError(
      trackVideo({
        input: cut,
        firstMaskFile: firstMask,
        outDir: out,
        videoOut: `${out}.mp4`,
        makeTracker: colourNn,
      }),
    );
    expect(e.context.file).toBe(cut);
    expect(await leftovers(root, 'broken')).toEqual([]);
    expect(await leftovers(root, 'broken.mp4')).toEqual([]);
    const failing: TrackerFactory = async () => {
      let n = 0;
      return {
        next: async () => {
          if (++n === 3) throw new Error('the tracker failed');
          return new Uint8Array(W * H);
        },
      };
    };
    await expect(
      trackVideo({
        input: video,
        firstMaskFile: firstMask,
        outDir: out,
        videoOut: `${out}.mp4`,
        makeTracker: failing,
      }),
    ).rejects.toThrow('the tracker failed');
    expect(await leftovers(root, 'broken')).toEqual([]);
    expect(await leftovers(root, 'broken.mp4')).toEqual([]);
    expect(ffmpegChildren()).toEqual(before);
  });
});

function memoryIo(): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => void stdout.push(t), err: (t) => void stderr.push(t) };
}

describe('sly-nn track INPUT', () => {
  it('takes the first mask from clicks through a click checkpoint (--point, --click-checkpoint)', async () => {
    const ckpt = path.join(root, 'click-ckpt');
    await writeClickCheckpoint(ckpt);
    const io = memoryIo();
    const out = path.join(root, 'clicked');
    const code = await runCli(
      [
        'track',
        framesDir,
        '--point',
        '20,20',
        '--point',
        '50,40,-',
        '--click-checkpoint',
        ckpt,
        '--out',
        out,
        '--baseline',
        'copy',
      ],
      io,
    );
    expect([code, io.stderr]).toEqual([0, []]);
    expect(io.stdout[0]).toMatch(/^first mask from 2 click\(s\): \d+ pixels$/);
    const { names, masks } = await readMasks(out);
    expect(names).toEqual(fileNames(FRAMES));
    // The clicked mask is object 1 on the first frame, and copy carries it on.
    for (const v of masks[0]) expect([0, 1]).toContain(v);
    expect(masks.at(-1)).toEqual(masks[0]);
    // No temporary mask left behind.
    expect((await fsp.readdir(os.tmpdir())).filter((n) => n.startsWith('sly-nn-clicks-'))).toEqual([]);
  });

  it('tracks a video into index PNGs and an overlay video, printing progress with fps', async () => {
    const io = memoryIo();
    const out = path.join(root, 'cli-out');
    const code = await runCli(
      ['track', video, '--mask', firstMask, '--out', out, '--video', `${out}.mp4`, '--baseline', 'copy'],
      io,
    );
    expect([code, io.stderr]).toEqual([0, []]);
    expect(io.stdout.at(-1)).toMatch(
      new RegExp(`^Tracked ${FRAMES} frames of 64x48 in [\\d.]+ s \\([\\d.]+ fps\\)`),
    );
    const { names, masks } = await readMasks(out);
    expect(names).toEqual(fileNames(FRAMES));
    // The copy baseline: the first mask on every frame.
    for (const m of masks) expect(m).toEqual(masks[0]);
    expect(await probeVideo(`${out}.mp4`)).toMatchObject({ width: W, height: H, frames: FRAMES });
  });

  it('bad combinations are usage errors; a missing ffmpeg is a failure with the install hint', async () => {
    const cases: [string[], RegExp][] = [
      [['track', '--mask', firstMask, '--out', 'x'], /expected one INPUT/],
      [['track', video, '--out', 'x'], /\(--mask FIRST\.png\) or clicks on it/],
      [['track', video, '--mask', firstMask], /--out is required/],
      [['track', video, '--point', '3,4', '--out', 'x'], /--point needs --click-checkpoint/],
      [
        ['track', video, '--mask', firstMask, '--point', '3,4', '--out', 'x'],
        /\(--mask FIRST\.png\) or clicks on it/,
      ],
      [
        ['track', video, '--mask', firstMask, '--out', 'x', '--engine', 'tfjs'],
        /--engine goes with --checkpoint/,
      ],
      [
        ['track', video, '--mask', firstMask, '--out', 'x', '--adapt-steps', '5'],
        /--adapt-steps goes with --checkpoint/,
      ],
      [
        ['track', video, '--mask', firstMask, '--out', 'x', '--checkpoint', 'ck', '--adapt-steps', '2.5'],
        /--adapt-steps must be a whole number/,
      ],
      [
        ['track', video, '--mask', firstMask, '--out', 'x', '--side-by-side', truthDir],
        /--side-by-side needs --video/,
      ],
      [['track', video, '--mask', firstMask, '--out', 'x', '--short-side', '0'], /--short-side must be/],
      [
        ['track', video, '--mask', firstMask, '--out', 'x', '--baseline', 'magic'],
        /--baseline one of: copy, colour-nn/,
      ],
      [['track', video, '--davis', root, '--out', 'x', '--baseline', 'copy'], /--davis takes no INPUT/],
      [
        ['track', '--davis', root, '--out', 'x', '--baseline', 'copy', '--mask', firstMask],
        /--mask is for one video/,
      ],
      [['track', video, '--mask', firstMask, '--out', 'x', '--chunk', '0/2'], /--chunk goes with --davis/],
    ];
    for (const [argv, message] of cases) {
      const io = memoryIo();
      expect(await runCli(argv, io)).toBe(2);
      expect(io.stderr.join('\n')).toMatch(message);
    }
    const io = memoryIo();
    const out = path.join(root, 'no-ffmpeg');
    const code = await withEnv({ FFPROBE_PATH: '/nonexistent/ffprobe' }, () =>
      runCli(['track', video, '--mask', firstMask, '--out', out], io),
    );
    expect(code).toBe(2); // a missing program is the setup's (config's) to fix
    expect(io.stderr.join('\n')).toContain('apt-get install -y ffmpeg');
    expect(await leftovers(root, 'no-ffmpeg')).toEqual([]);
  });
});
