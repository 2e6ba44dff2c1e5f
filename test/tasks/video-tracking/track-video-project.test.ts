/**
 * trackVideoProject: which ids the tracker sees for which objects (objects[] order, first masks, `added` on the
 * frame an object is first given), where each prediction goes back to (its object, across datasets and nested
 * datasets), what is left untracked and said so, progress, and bad inputs failing with the file and the field
 * while nothing is left under the result folder.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TaskError } from '../../../src/errors';
import type { BitmapGeometry } from '../../../src/format/model';
import {
  openVideoProject,
  readVideoAnnotation,
  videoProjectItems,
} from '../../../src/format/video-project-reader';
import { makeBaseline } from '../../../src/tasks/video-tracking/baselines';
import {
  trackVideoProject,
  type TrackVideoProjectOptions,
} from '../../../src/tasks/video-tracking/track-video-project';
import { MAX_OBJECTS_PER_VIDEO } from '../../../src/tasks/video-tracking/video-objects';
import {
  HEIGHT,
  WIDTH,
  annotationJson,
  bitmapPixels,
  boxFigure,
  boxPixels,
  colourKeyTracker,
  frameSource,
  renderFrames,
  writeProject,
  type Box,
  type SceneObject,
  type VideoSpec,
} from './video-fixtures';

const A = 'a1'.repeat(16);
const B = 'b2'.repeat(16);
const C = 'c3'.repeat(16);
const D = 'd4'.repeat(16);
const FRAMES = 6;
/** A moves right, B is static and hidden on frame 4, C appears on frame 2. */
const scene: SceneObject[] = [
  { key: A, classTitle: 'person', colour: [220, 30, 30], at: (t) => ({ x: 2 + t, y: 2, w: 4, h: 4 }) },
  {
    key: B,
    classTitle: 'ball',
    colour: [30, 30, 220],
    at: (t) => (t === 4 ? null : { x: 24, y: 12, w: 3, h: 3 }),
  },
  {
    key: C,
    classTitle: 'car',
    colour: [30, 220, 30],
    at: (t) => (t >= 2 ? { x: 12, y: 13, w: 4, h: 3 } : null),
  },
];

let tmp: string;
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'track-video-'));
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

async function run(videos: VideoSpec[], over: Partial<TrackVideoProjectOptions> = {}) {
  const input = path.join(tmp, 'in', 'proj');
  await writeProject(input, videos);
  const resultDir = path.join(tmp, 'out', 'proj');
  const calls: { first?: Uint8Array; added: Map<number, Uint8Array> } = { added: new Map() };
  const warnings: string[] = [];
  const progress: [number, number][] = [];
  const summary = await trackVideoProject({
    projectDir: input,
    resultDir,
    makeTracker: colourKeyTracker(calls),
    openFrames: frameSource(input, videos),
    logger: { info: () => undefined, warn: (m) => warnings.push(m) },
    onProgress: (done, total) => progress.push([done, total]),
    ...over,
  });
  return { input, resultDir, calls, warnings, progress, summary };
}

/** Every figure of the result: [frame, object key, nnCreated, pixels]. */
async function figuresOf(resultDir: string) {
  const project = await openVideoProject(resultDir);
  const out: Record<string, [number, string, boolean, string[]][]> = {};
  for (const item of videoProjectItems(project)) {
    const ann = await readVideoAnnotation(project, item);
    out[`${item.dataset}/${item.name}`] = ann.frames.flatMap((f) =>
      f.figures.map((g): [number, string, boolean, string[]] => [
        f.index,
        g.objectKey,
        g.nnCreated,
        bitmapPixels(g.geometry as BitmapGeometry),
      ]),
    );
  }
  return out;
}

describe('ids and mapping', () => {
  it('ids in objects[] order whatever the figure order; an object first given later comes as `added`; each prediction goes to its object', async () => {
    // objects[] lists C, A, B; frame 0 lists B's figure before A's; C is first given on frame 2.
    const annotation = annotationJson([scene[2], scene[0], scene[1]], FRAMES, { 0: [B, A], 2: [C] });
    const { resultDir, calls, progress, summary } = await run([
      { where: 'ds0/clip.mp4', annotation, frames: renderFrames(scene, FRAMES) },
    ]);
    // C = 1, A = 2, B = 3: the first mask holds A and B, C arrives on frame 2 (the tracker's second call).
    const idsAt = (mask: Uint8Array, b: Box) =>
      new Set(boxPixels(b).map((p) => mask[Number(p.split(',')[1]) * WIDTH + Number(p.split(',')[0])]));
    expect(idsAt(calls.first as Uint8Array, scene[0].at(0) as Box)).toEqual(new Set([2]));
    expect(idsAt(calls.first as Uint8Array, scene[1].at(0) as Box)).toEqual(new Set([3]));
    expect(new Set(calls.first)).toEqual(new Set([0, 2, 3]));
    expect([...calls.added.keys()]).toEqual([2]);
    expect(new Set(calls.added.get(2))).toEqual(new Set([0, 1]));

    const figures = (await figuresOf(resultDir))['ds0/clip.mp4'];
    for (const o of scene) {
      const mine = figures.filter((f) => f[1] === o.key);
      const first = o.key === C ? 2 : 0;
      const visible = [...Array(FRAMES).keys()].filter((t) => t >= first && o.at(t) !== null);
      expect(mine.map((f) => f[0])).toEqual(visible); // B vanishes on frame 4: no figure there
      for (const [t, , nn, pixels] of mine) {
        expect(pixels).toEqual(boxPixels(o.at(t) as Box));
        expect(nn).toBe(t !== first);
      }
    }
    expect(summary).toMatchObject({
      videos: 1,
      frames: FRAMES,
      trackedObjects: 3,
      predictedFigures: 5 + 4 + 3,
    });
    expect(progress).toEqual([...Array(FRAMES).keys()].map((i) => [i + 1, FRAMES]));
  });

  it('two datasets and a nested one, each video its own ids; videos without objects are copied without decoding', async () => {
    const one = [scene[0]];
    const two = [scene[1], scene[0]];
    const videos: VideoSpec[] = [
      {
        where: 'ds0/a.mp4',
        annotation: annotationJson(one, FRAMES, { 1: [A] }),
        frames: renderFrames(one, FRAMES),
      },
      { where: 'ds1/b.mkv', annotation: annotationJson(two, 4, { 0: [B, A] }), frames: renderFrames(two, 4) },
      {
        where: 'ds0/datasets/child/c.avi',
        annotation: annotationJson(two, 3, { 2: [A], 0: [B] }),
        frames: renderFrames(two, 3),
      },
      {
        where: 'ds1/empty.mp4',
        // An empty entry on the frame after the last passes the SDK's check (V.3.3); it is dropped.
        annotation: { ...annotationJson([], 50, {}), frames: [{ index: 50, figures: [] }] },
        frames: [],
      },
    ];
    const opened: string[] = [];
    const source = frameSource(path.join(tmp, 'in', 'proj'), videos);
    const { resultDir, progress } = await run(videos, {
      openFrames: (file) => {
        opened.push(path.basename(file));
        return source(file);
      },
    });
    expect(opened).toEqual(['a.mp4', 'c.avi', 'b.mkv']);
    const figures = await figuresOf(resultDir);
    expect(Object.keys(figures)).toEqual(['ds0/a.mp4', 'ds0/child/c.avi', 'ds1/b.mkv', 'ds1/empty.mp4']);
    expect(figures['ds0/a.mp4'].map((f) => [f[0], f[1]])).toEqual([1, 2, 3, 4, 5].map((t) => [t, A]));
    expect(figures['ds1/b.mkv'].filter((f) => f[1] === A).map((f) => f[3])).toEqual(
      [0, 1, 2, 3].map((t) => boxPixels(scene[0].at(t) as Box)),
    );
    expect(figures['ds0/child/c.avi'].map((f) => [f[0], f[1], f[2]])).toEqual([
      [0, B, false],
      [1, B, true],
      [2, A, false], // the given figures of a frame first, then the predicted ones
      [2, B, true],
    ]);
    expect(figures['ds1/empty.mp4']).toEqual([]);
    await expect(
      fs.stat(path.join(resultDir, 'ds0', 'datasets', 'child', 'video', 'c.avi')),
    ).resolves.toBeDefined();
    expect(progress[progress.length - 1]).toEqual([FRAMES + 4 + 3 + 50, FRAMES + 4 + 3 + 50]);
  });

  it('keeps the input annotation whole: tags, given figures on later frames, other shapes; says what it does not track', async () => {
    const poly = {
      key: 'e'.repeat(32),
      objectKey: C,
      geometryType: 'polygon',
      geometry: {
        points: {
          exterior: [
            [12, 13],
            [15, 13],
            [15, 15],
            [12, 15],
          ],
          interior: [],
        },
      },
    };
    const road = {
      key: '9'.repeat(32),
      objectKey: D,
      geometryType: 'polygon',
      geometry: {
        points: {
          exterior: [
            [0, 19],
            [31, 19],
            [31, 18],
          ],
          interior: [],
        },
      },
    };
    const point = {
      key: '8'.repeat(32),
      objectKey: 'f'.repeat(32),
      geometryType: 'point',
      geometry: { points: { exterior: [[3, 3]], interior: [] } },
    };
    const annotation = {
      ...annotationJson(scene, FRAMES, { 0: [A] }),
      tags: [
        { name: 'occluded', frameRange: [4, 4], isFinished: true, nonFinalValue: false, key: '7'.repeat(32) },
      ],
      objects: [
        { key: A, classTitle: 'person', tags: [] },
        { key: C, classTitle: 'car', tags: [] },
        { key: D, classTitle: 'road', tags: [] },
        { key: 'f'.repeat(32), classTitle: 'car', tags: [] },
      ],
      frames: [
        { index: 0, figures: [boxFigure('1'.repeat(32), A, scene[0].at(0) as Box), road] },
        // A given again on frame 3 (kept; no prediction for A there); C given as a polygon on a class "any".
        { index: 3, figures: [poly, point, boxFigure('2'.repeat(32), A, { x: 0, y: 0, w: 2, h: 2 })] },
      ],
    };
    const { resultDir, warnings } = await run([
      { where: 'ds0/clip.mp4', annotation, frames: renderFrames(scene, FRAMES) },
    ]);
    const project = await openVideoProject(resultDir);
    const ann = await readVideoAnnotation(project, [...videoProjectItems(project)][0]);
    expect(ann.tags.map((t) => t.key)).toEqual(['7'.repeat(32)]);
    const at = (t: number) => ann.frames.find((f) => f.index === t)?.figures ?? [];
    expect(at(3).map((f) => [f.key, f.objectKey])).toEqual([
      ['e'.repeat(32), C],
      ['8'.repeat(32), 'f'.repeat(32)],
      ['2'.repeat(32), A],
    ]);
    expect(at(4).map((f) => [f.objectKey, f.geometry.type, f.nnCreated])).toEqual([
      [A, 'bitmap', true],
      [C, 'bitmap', true],
    ]);
    expect(bitmapPixels(at(5)[1].geometry as BitmapGeometry)).toEqual(boxPixels(scene[2].at(5) as Box));
    expect(at(1).map((f) => f.objectKey)).toEqual([A]); // the road is not tracked
    expect(warnings).toEqual([
      expect.stringMatching(new RegExp(`object ${D} \\("road"\\): its class has shape polygon`)),
      expect.stringMatching(
        new RegExp(`object ${'f'.repeat(32)} \\("car"\\): its first figure \\(frame 3\\) is a point`),
      ),
    ]);
  });
});

describe('bad inputs fail naming the file and the field, and leave nothing under the result folder', () => {
  const good = (): VideoSpec => ({
    where: 'ds0/clip.mp4',
    annotation: annotationJson(scene, FRAMES, { 0: [A, B], 2: [C] }),
    frames: renderFrames(scene, FRAMES),
  });
  const ann = 'proj/ds0/ann/clip.mp4.json';

  async function failure(
    videos: VideoSpec[],
    over: Partial<TrackVideoProjectOptions> = {},
    prepare?: (input: string) => Promise<void>,
  ) {
    const input = path.join(tmp, 'in', 'proj');
    await writeProject(input, videos);
    await prepare?.(input);
    const out = path.join(tmp, 'out');
    await fs.mkdir(out, { recursive: true });
    await fs.writeFile(path.join(out, 'other-file'), 'x');
    const error = await trackVideoProject({
      projectDir: input,
      resultDir: path.join(out, 'proj'),
      makeTracker: async (f, m) => makeBaseline('copy', f, m),
      openFrames: frameSource(input, videos),
      ...over,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    // Nothing left: no result, no temporary beside it.
    expect(await fs.readdir(out)).toEqual(['other-file']);
    return error as Error;
  }

  it('a figure whose bitmap lies outside the video', async () => {
    const v = good();
    (v.annotation.frames as { figures: unknown[] }[])[0].figures.push(
      boxFigure('5'.repeat(32), A, { x: WIDTH - 2, y: 1, w: 4, h: 2 }),
    );
    const e = await failure([v]);
    expect(e).toBeInstanceOf(TaskError);
    expect(e.message).toMatch(
      new RegExp(
        `^${ann}: frames\\[0\\]\\.figures\\[2\\]: field "geometry.bitmap": the figure on frame 0 covers x 30..33`,
      ),
    );
  });

  it('framesCount above or below the decoded frames', async () => {
    const more = { ...good(), annotation: { ...good().annotation, framesCount: FRAMES + 1 } };
    expect((await failure([more])).message).toBe(
      `${ann}: field "framesCount": the video has ${FRAMES} frames, the annotation's framesCount says ${FRAMES + 1}`,
    );
    const fewer = { ...good(), annotation: { ...good().annotation, framesCount: FRAMES - 1 } };
    expect((await failure([fewer])).message).toMatch(
      new RegExp(
        `^${ann}: field "framesCount": the video has more frames than the annotation's ${FRAMES - 1}`,
      ),
    );
  });

  it('frames of another size than the annotation', async () => {
    const v = { ...good(), frames: renderFrames(scene, FRAMES, WIDTH + 2, HEIGHT) };
    expect((await failure([v])).message).toBe(
      `${ann}: field "size": frame 0 of the video is 34x20, the annotation's size 32x20`,
    );
  });

  it('a video file missing, or empty', async () => {
    const e = await failure([good()], {}, (input) => fs.rm(path.join(input, 'ds0', 'video', 'clip.mp4')));
    // With video/ empty the SDK names items after the annotations (V.1.2): the video is then missing.
    expect(e.message).toBe(`proj/ds0/video/clip.mp4: the video file is missing (the annotation is ${ann})`);
    const empty = await failure([good()], {}, (input) =>
      fs.writeFile(path.join(input, 'ds0', 'video', 'clip.mp4'), ''),
    );
    expect(empty.message).toMatch(/^proj\/ds0\/video\/clip.mp4: the video file is empty/);
  });

  it('figures on the frame after the last (which the SDK itself lets through)', async () => {
    const v = good();
    (v.annotation.frames as unknown[]).push({
      index: FRAMES,
      figures: [boxFigure('5'.repeat(32), A, { x: 1, y: 1, w: 1, h: 1 })],
    });
    expect((await failure([v])).message).toBe(
      `${ann}: frames[2]: field "index": figures on frame ${FRAMES}, but the video's frames are 0..${FRAMES - 1} (framesCount ${FRAMES})`,
    );
  });

  it(`more than ${MAX_OBJECTS_PER_VIDEO} objects in a video`, async () => {
    const many: SceneObject[] = [...Array(MAX_OBJECTS_PER_VIDEO + 1).keys()].map((i) => ({
      key: i.toString(16).padStart(32, '0'),
      classTitle: 'ball',
      colour: [i % 256, 0, 0],
      at: () => ({ x: i % WIDTH, y: Math.floor(i / WIDTH), w: 1, h: 1 }),
    }));
    const v = {
      where: 'ds0/clip.mp4',
      annotation: annotationJson(many, 2, { 0: many.map((o) => o.key) }),
      frames: [],
    };
    expect((await failure([v])).message).toBe(
      `${ann}: field "objects": 256 objects to track; at most 255 a video (ids 1..255 of an 8-bit index mask)`,
    );
  });

  it('a tracker that fails half-way, a second video that fails after the first was written', async () => {
    let calls = 0;
    const e = await failure([good()], {
      makeTracker: async (f, m) => {
        const inner = makeBaseline('copy', f, m);
        return {
          next: (frame, added) =>
            ++calls === 3 ? Promise.reject(new Error('session lost')) : inner.next(frame, added),
        };
      },
    });
    expect(e.message).toBe('session lost');
    const second = { ...good(), where: 'ds1/clip.mp4', frames: renderFrames(scene, FRAMES - 1) };
    expect((await failure([good(), second])).message).toMatch(
      /^proj\/ds1\/ann\/clip.mp4.json: field "framesCount"/,
    );
  });

  it('a result folder that is not empty', async () => {
    const input = path.join(tmp, 'in', 'proj');
    await writeProject(input, [good()]);
    await fs.mkdir(path.join(tmp, 'taken'));
    await fs.writeFile(path.join(tmp, 'taken', 'keep.txt'), 'mine');
    await expect(
      trackVideoProject({
        projectDir: input,
        resultDir: path.join(tmp, 'taken'),
        makeTracker: async (f, m) => makeBaseline('copy', f, m),
        openFrames: frameSource(input, [good()]),
      }),
    ).rejects.toThrow(/taken: the result folder is not empty \(keep.txt/);
    expect(await fs.readdir(path.join(tmp, 'taken'))).toEqual(['keep.txt']);
  });
});
