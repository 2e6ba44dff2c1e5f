/**
 * @jest-environment ./test/onnx/ort-environment.js
 *
 * inference.py with a tracker checkpoint in model/ and a Supervisely video project (a real mp4, decoded by
 * ffmpeg) in data/, as the agent runs it: progress per frame, then "model applied" once the results project is
 * complete; the result read back by a reader of the test's own (the SDK's rules: figures per frame referring to
 * objects, bitmap PNGs that decode inside the frame) and by our reader. An object given on frame 2 is tracked
 * from there. A wrong framesCount fails before anything is written. The tracker is untrained (seeded):
 * this is the path, not the quality. Needs the build and ffmpeg.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { PNG } from 'pngjs';
import { parseVideoAnnotationText } from '../../../src/format/video-annotation';
import {
  readSingleVideoProject,
  readVideoAnnotation,
  videoProjectItems,
} from '../../../src/format/video-project-reader';
import { openVideoWriter } from '../../../src/video/writer';
import { createLogger } from '../../../src/protocol/logger';
import { memorySink } from '../../../src/protocol/sink';
import { taskPathsAt } from '../../../src/task/paths';
import { runTrackingInference } from '../../../src/tasks/video-tracking/run-inference';
import { events, runLauncher } from '../../helpers/launcher';
import { writeTrackerCheckpoint } from '../../helpers/tiny-checkpoints';
import { annotationJson, HEIGHT, META, renderFrames, WIDTH, type SceneObject } from './video-fixtures';

const FRAMES = 6;
const OBJECTS: SceneObject[] = [
  {
    key: '1'.repeat(32),
    classTitle: 'person',
    colour: [250, 20, 20],
    at: (t) => ({ x: 2 + t, y: 3, w: 8, h: 8 }),
  },
  {
    key: '2'.repeat(32),
    classTitle: 'ball',
    colour: [20, 20, 250],
    at: (t) => ({ x: 20, y: 8 + (t % 2), w: 6, h: 6 }),
  },
];

let root: string;

async function makeTrackingTask(framesCount: number): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'track-infer-'));
  const project = path.join(dir, 'data', 'clips');
  await fsp.mkdir(path.join(project, 'ds0', 'video'), { recursive: true });
  await fsp.mkdir(path.join(project, 'ds0', 'ann'), { recursive: true });
  await fsp.writeFile(path.join(project, 'meta.json'), JSON.stringify(META));
  const writer = openVideoWriter(path.join(project, 'ds0', 'video', 'clip.mp4'), {
    width: WIDTH,
    height: HEIGHT,
    fps: 10,
  });
  for (const f of renderFrames(OBJECTS, FRAMES)) await writer.write(f.rgb);
  await writer.close();
  const ann = annotationJson(OBJECTS, framesCount, { 0: [OBJECTS[0].key], 2: [OBJECTS[1].key] });
  await fsp.writeFile(path.join(project, 'ds0', 'ann', 'clip.mp4.json'), JSON.stringify(ann));
  await fsp.mkdir(path.join(dir, 'results'), { recursive: true });
  await writeTrackerCheckpoint(path.join(dir, 'model'));
  await fsp.writeFile(path.join(dir, 'task_config.json'), JSON.stringify({}));
  return dir;
}

beforeAll(async () => {
  root = await makeTrackingTask(FRAMES);
}, 60_000);
afterAll(() => fsp.rm(root, { recursive: true, force: true }));

/** A bitmap figure as the SDK reads it: base64 of zlib of a PNG, alpha or grey marking the mask. */
function decodeFigure(data: string): PNG {
  return PNG.sync.read(zlib.inflateSync(Buffer.from(data, 'base64')));
}

describe('inference.py with a tracker on a video project', () => {
  it('tracks every object from its first annotated frame, reports progress per frame, then model applied', async () => {
    const run = runLauncher(root, {}, 240_000, 'inference');
    if (run.status !== 0) throw new Error(`exit ${run.status}\n${run.stdout.slice(-3000)}\n${run.stderr}`);
    const progress = events(run.lines, 'PROGRESS').filter((l) => l.fields.subtask === 'Tracking frames: ');
    expect(progress.at(-1)?.fields).toMatchObject({ current: FRAMES, total: FRAMES });
    const applied = events(run.lines, 'MODEL_APPLIED');
    expect(applied).toHaveLength(1);
    // After the last frame's progress: the agent uploads the results as soon as it reads this line.
    expect(run.lines.indexOf(applied[0])).toBeGreaterThan(
      run.lines.indexOf(progress.at(-1) as (typeof run.lines)[0]),
    );

    const resultAnn = path.join(root, 'results', 'clips', 'ds0', 'ann', 'clip.mp4.json');
    const json = JSON.parse(await fsp.readFile(resultAnn, 'utf8'));
    expect(json.framesCount).toBe(FRAMES);
    const keys = new Set((json.objects as { key: string }[]).map((o) => o.key));
    const figuresOf = new Map<string, number[]>();
    for (const frame of json.frames as { index: number; figures: Record<string, unknown>[] }[]) {
      for (const fig of frame.figures) {
        expect(keys.has(fig.objectKey as string)).toBe(true);
        expect(fig.geometryType).toBe('bitmap');
        const bmp = (fig.geometry as { bitmap: { data: string; origin: [number, number] } }).bitmap;
        const png = decodeFigure(bmp.data);
        expect(bmp.origin[0] + png.width).toBeLessThanOrEqual(WIDTH);
        expect(bmp.origin[1] + png.height).toBeLessThanOrEqual(HEIGHT);
        const list = figuresOf.get(fig.objectKey as string) ?? [];
        list.push(frame.index);
        figuresOf.set(fig.objectKey as string, list);
      }
    }
    // The given figures stay; the first object is on frame 0 (given) and the second from frame 2 (given).
    expect(figuresOf.get(OBJECTS[0].key)?.[0]).toBe(0);
    expect(Math.min(...(figuresOf.get(OBJECTS[1].key) ?? [Infinity]))).toBe(2);
    // Our reader reads the result back (the round trip), and the video file is there.
    const project = await readSingleVideoProject(path.join(root, 'results'));
    const items = [...videoProjectItems(project)];
    expect(items.map((i) => i.name)).toEqual(['clip.mp4']);
    const again = await readVideoAnnotation(project, items[0]);
    expect(again.framesCount).toBe(FRAMES);
    expect(
      parseVideoAnnotationText(await fsp.readFile(resultAnn, 'utf8'), project.meta, { file: resultAnn })
        .objects,
    ).toHaveLength(2);
  });

  it('runs on tfjs when onnxruntime does not load, saying why, with the same kind of result', async () => {
    const dir = await makeTrackingTask(FRAMES);
    try {
      const mem = memorySink();
      const logger = createLogger({ sink: mem.sink, level: 'debug' });
      await runTrackingInference(
        { paths: taskPathsAt(dir), logger },
        { loadOrt: () => Promise.reject(new Error('no native library here')) },
      );
      const lines = mem.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      const loaded = lines.find((l) => l.message === 'Tracker loaded.');
      expect(loaded).toMatchObject({ engine: 'tfjs' });
      expect(String(loaded?.onnxruntime)).toContain('no native library here');
      expect(lines.at(-1)?.message).toBe('model applied');
      const ann = JSON.parse(
        await fsp.readFile(path.join(dir, 'results', 'clips', 'ds0', 'ann', 'clip.mp4.json'), 'utf8'),
      );
      expect(ann.frames.length).toBeGreaterThan(2);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it('adapts to each video with tracking.adapt_steps, and refuses a bad value naming the field', async () => {
    const dir = await makeTrackingTask(FRAMES);
    try {
      await fsp.writeFile(
        path.join(dir, 'task_config.json'),
        JSON.stringify({ tracking: { adapt_steps: 2 } }),
      );
      const run = runLauncher(dir, {}, 240_000, 'inference');
      if (run.status !== 0) throw new Error(`exit ${run.status}\n${run.stdout.slice(-3000)}\n${run.stderr}`);
      expect(run.lines.find((l) => l.message === 'Tracker loaded.')?.fields).toMatchObject({
        adapt_steps: 2,
      });
      expect(run.lines.filter((l) => l.message === 'Adapting to the first frame')).toHaveLength(2);
      expect(events(run.lines, 'MODEL_APPLIED')).toHaveLength(1);
      const ann = JSON.parse(
        await fsp.readFile(path.join(dir, 'results', 'clips', 'ds0', 'ann', 'clip.mp4.json'), 'utf8'),
      );
      expect(ann.frames.length).toBeGreaterThan(2);
      await fsp.rm(path.join(dir, 'results', 'clips'), { recursive: true });
      await fsp.writeFile(
        path.join(dir, 'task_config.json'),
        JSON.stringify({ tracking: { adapt_steps: -1 } }),
      );
      const bad = runLauncher(dir, {}, 240_000, 'inference');
      expect(bad.status).toBe(2);
      expect(bad.stdout).toMatch(/tracking\.adapt_steps/);
      expect(await fsp.readdir(path.join(dir, 'results'))).toEqual([]);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it('a framesCount that disagrees with the video fails, naming the file, with nothing in results/', async () => {
    const bad = await makeTrackingTask(FRAMES + 3);
    try {
      const run = runLauncher(bad, {}, 240_000, 'inference');
      expect(run.status).not.toBe(0);
      expect(events(run.lines, 'MODEL_APPLIED')).toEqual([]);
      expect(run.stdout).toMatch(/clip\.mp4/);
      expect(await fsp.readdir(path.join(bad, 'results'))).toEqual([]);
    } finally {
      await fsp.rm(bad, { recursive: true, force: true });
    }
  });
});
