/**
 * The tracked project as the SDK would read it (docs/supervisely-video-format.md V.1-V.4, V.6, V.9), read by a
 * small parser of this test's own that shares no code with src/format: required fields, keys as UUID hex,
 * figures referring to objects, frame indices in the video, bitmaps that are zlib-wrapped PNGs decodable with
 * pngjs, non-empty, inside the frame. Tracked with the `copy` and `colour-nn` baselines over frames rendered in
 * memory, with an object first given on frame 2.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { makeBaseline, type BaselineName } from '../../../src/tasks/video-tracking/baselines';
import { trackVideoProject } from '../../../src/tasks/video-tracking/track-video-project';
import {
  annotationJson,
  boxPixels,
  frameSource,
  renderFrames,
  writeProject,
  type Box,
  type SceneObject,
  type VideoSpec,
} from './video-fixtures';

// ---------------------------------------------------------------------------------------------------------------
// The independent reader: what the SDK checks when it reads a local video project, written out plainly.

const UUID_HEX = /^[0-9a-f]{32}$/;

interface ReadFigure {
  frame: number;
  key: string;
  objectKey: string;
  nn: [boolean, boolean];
  data: string;
  /** Inclusive pixel box in frame coordinates, and the set pixels. */
  box: { x0: number; y0: number; x1: number; y1: number };
  pixels: Set<string>;
}

interface ReadVideo {
  dataset: string;
  name: string;
  objects: { key: string; classTitle: string }[];
  figures: ReadFigure[];
  framesCount: number;
}

function fail(file: string, what: string): never {
  throw new Error(`${file}: ${what}`);
}

/** A bitmap payload as the SDK decodes it: base64, zlib (required for 1-bit masks), PNG; alpha or grey > 0. */
function decodeMask(file: string, data: string): { w: number; h: number; on: boolean[] } {
  let png: ReturnType<typeof PNG.sync.read>;
  try {
    png = PNG.sync.read(inflateSync(Buffer.from(data, 'base64')));
  } catch (e) {
    fail(file, `bitmap does not decode: ${(e as Error).message}`);
  }
  // pngjs expands to RGBA; `alpha` says there was transparency (a palette with tRNS: the SDK's 4 channels).
  if (!png.alpha && png.color) fail(file, 'an RGB bitmap without alpha ("Wrong internal mask format")');
  const channel = png.alpha ? 3 : 0;
  const on: boolean[] = [];
  for (let i = 0; i < png.width * png.height; i++) on.push(png.data[i * 4 + channel] > 0);
  return { w: png.width, h: png.height, on };
}

async function readAsSdk(root: string): Promise<ReadVideo[]> {
  const meta = JSON.parse(await fs.readFile(path.join(root, 'meta.json'), 'utf8'));
  const shapes = new Map<string, string>(
    meta.classes.map((c: { title: string; shape: string }) => [c.title, c.shape]),
  );
  // Optional on read (V.7); the SDK writes all four sections.
  const keyIdMap = await fs.readFile(path.join(root, 'key_id_map.json'), 'utf8').catch(() => undefined);
  if (keyIdMap !== undefined) {
    expect(Object.keys(JSON.parse(keyIdMap)).sort()).toEqual(['figures', 'objects', 'tags', 'videos']);
  }
  const out: ReadVideo[] = [];
  const walk = async (dir: string, name: string): Promise<void> => {
    const entries = (await fs.readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory());
    const names = entries.map((e) => e.name);
    if (names.includes('video') && names.includes('ann')) {
      for (const video of (await fs.readdir(path.join(dir, 'video'))).sort()) {
        out.push(await readVideo(path.join(dir, 'ann', `${video}.json`), name, video, shapes));
      }
    }
    for (const e of entries) {
      if (e.name === 'datasets') {
        for (const child of (await fs.readdir(path.join(dir, 'datasets'))).sort())
          await walk(path.join(dir, 'datasets', child), `${name}/${child}`);
      } else if (!['video', 'ann', 'video_info', 'metadata'].includes(e.name) && name === '') {
        await walk(path.join(dir, e.name), e.name);
      }
    }
  };
  await walk(root, '');
  return out;
}

async function readVideo(
  file: string,
  dataset: string,
  name: string,
  shapes: Map<string, string>,
): Promise<ReadVideo> {
  const ann = JSON.parse(await fs.readFile(file, 'utf8'));
  for (const field of ['size', 'tags', 'objects', 'frames', 'framesCount']) {
    if (!(field in ann)) fail(file, `no ${field}`);
  }
  const { width, height } = ann.size;
  if (!Number.isInteger(width) || !Number.isInteger(height)) fail(file, 'size is not integers');
  if (!Number.isInteger(ann.framesCount)) fail(file, 'framesCount is not an integer');
  if (!UUID_HEX.test(ann.key)) fail(file, 'the annotation key is not UUID hex');
  const objects = new Map<string, string>();
  for (const o of ann.objects) {
    if (!UUID_HEX.test(o.key)) fail(file, `object key ${o.key} is not UUID hex`);
    if (objects.has(o.key)) fail(file, `duplicate object ${o.key}`);
    if (!shapes.has(o.classTitle)) fail(file, `class ${o.classTitle} not in meta`);
    if (!Array.isArray(o.tags)) fail(file, 'object without tags');
    objects.set(o.key, o.classTitle);
  }
  const figures: ReadFigure[] = [];
  const indices = new Set<number>();
  const figureKeys = new Set<string>();
  for (const frame of ann.frames) {
    if (!Number.isInteger(frame.index) || frame.index < 0 || frame.index >= ann.framesCount)
      fail(file, `frame index ${frame.index} outside 0..${ann.framesCount - 1}`);
    if (indices.has(frame.index)) fail(file, `two entries for frame ${frame.index}`);
    indices.add(frame.index);
    for (const f of frame.figures ?? []) {
      if (!UUID_HEX.test(f.key) || figureKeys.has(f.key))
        fail(file, `figure key ${f.key} not unique UUID hex`);
      figureKeys.add(f.key);
      const classTitle =
        objects.get(f.objectKey) ?? fail(file, `figure ${f.key}: unknown objectKey ${f.objectKey}`);
      const shape = shapes.get(classTitle);
      if (f.geometryType !== shape && shape !== 'any')
        fail(file, `figure ${f.key}: ${f.geometryType} on a ${shape} class`);
      if (f.geometryType !== 'bitmap') continue;
      const [ox, oy] = f.geometry.bitmap.origin;
      const mask = decodeMask(file, f.geometry.bitmap.data);
      const pixels = new Set<string>();
      let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
      mask.on.forEach((on, i) => {
        if (!on) return;
        const x = ox + (i % mask.w);
        const y = oy + Math.floor(i / mask.w);
        pixels.add(`${x},${y}`);
        [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
      });
      if (pixels.size === 0) fail(file, `figure ${f.key}: empty bitmap`);
      if (x0 < 0 || y0 < 0 || x1 >= width || y1 >= height) fail(file, `figure ${f.key} is outside the frame`);
      figures.push({
        frame: frame.index,
        key: f.key,
        objectKey: f.objectKey,
        nn: [f.nnCreated === true, f.nnUpdated === true],
        data: f.geometry.bitmap.data,
        box: { x0, y0, x1, y1 },
        pixels,
      });
    }
  }
  return {
    dataset,
    name,
    objects: ann.objects.map((o: { key: string; classTitle: string }) => ({
      key: o.key,
      classTitle: o.classTitle,
    })),
    figures,
    framesCount: ann.framesCount,
  };
}

// ---------------------------------------------------------------------------------------------------------------

const FRAMES = 6;
const PERSON = '1'.repeat(32);
const BALL = '2'.repeat(32);
const CAR = '3'.repeat(32);
const scene: SceneObject[] = [
  { key: PERSON, classTitle: 'person', colour: [220, 30, 30], at: (t) => ({ x: 2 + t, y: 2, w: 4, h: 4 }) },
  { key: BALL, classTitle: 'ball', colour: [30, 30, 220], at: () => ({ x: 24, y: 12, w: 3, h: 3 }) },
  {
    key: CAR,
    classTitle: 'car',
    colour: [30, 220, 30],
    at: (t) => (t >= 2 ? { x: 12, y: 13, w: 4, h: 3 } : null),
  },
];
const iou = (a: Set<string>, b: Set<string>): number => {
  let inter = 0;
  for (const p of a) if (b.has(p)) inter++;
  return inter / (a.size + b.size - inter);
};

let tmp: string;
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'track-sdk-'));
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe.each(['copy', 'colour-nn'] as BaselineName[])(
  'a project tracked with the %s baseline',
  (baseline) => {
    it('reads as the SDK reads it: every object followed from its first frame, given figures kept, one figure per object per frame', async () => {
      const input = path.join(tmp, 'clips');
      const videos: VideoSpec[] = [
        {
          where: 'ds0/clip.mp4',
          // The car is first given on frame 2.
          annotation: annotationJson(scene, FRAMES, { 0: [PERSON, BALL], 2: [CAR] }),
          frames: renderFrames(scene, FRAMES),
        },
      ];
      await writeProject(input, videos);
      const result = path.join(tmp, 'out', 'clips-tracked');
      await trackVideoProject({
        projectDir: input,
        resultDir: result,
        makeTracker: async (first, mask) => makeBaseline(baseline, first, mask),
        openFrames: frameSource(input, videos),
      });

      const [video] = await readAsSdk(result);
      expect([video.dataset, video.name, video.framesCount]).toEqual(['ds0', 'clip.mp4', FRAMES]);
      expect(video.objects.map((o) => o.key)).toEqual([PERSON, BALL, CAR]);
      const original = (await readAsSdk(input))[0].figures;
      for (const o of scene) {
        const mine = video.figures.filter((f) => f.objectKey === o.key);
        const first = o.key === CAR ? 2 : 0;
        // One figure a frame from the first annotated frame to the last, none before.
        expect(mine.map((f) => f.frame)).toEqual([...Array(FRAMES - first).keys()].map((i) => i + first));
        // The given figure is kept as it was; every other one is the model's.
        const given = original.find((f) => f.objectKey === o.key) as ReadFigure;
        expect(mine[0]).toEqual(given);
        expect(mine.slice(1).every((f) => f.nn[0] && f.nn[1])).toBe(true);
        for (const f of mine.slice(1)) {
          const truth = new Set(boxPixels(o.at(f.frame) as Box));
          if (baseline === 'copy') expect(f.pixels).toEqual(new Set(boxPixels(o.at(first) as Box)));
          else expect(iou(f.pixels, truth)).toBeGreaterThan(0.5);
        }
      }
      // The video is the input's, linked; meta.json is the input's.
      expect(await fs.readFile(path.join(result, 'ds0', 'video', 'clip.mp4'), 'utf8')).toBe(
        'not really a video: ds0/clip.mp4',
      );
      const meta = JSON.parse(await fs.readFile(path.join(result, 'meta.json'), 'utf8'));
      expect(meta.projectType).toBe('videos');
      expect(meta.tags[0].target_type).toBe('all');
    });
  },
);
