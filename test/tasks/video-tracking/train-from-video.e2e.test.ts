/**
 * @jest-environment ./test/onnx/ort-environment.js
 *
 * A tracker trained through train.py on a Supervisely video project in data/ (real mp4s, decoded by ffmpeg):
 * the videos go to the folds by their video tags, the training clips come from the train video's annotated
 * frames alone (generated and image sources weigh 0), validation scores the val video beside a generated clip,
 * and the data digest covers the video. A video shorter than its annotation says fails naming the file. Needs
 * the build and ffmpeg.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openVideoWriter } from '../../../src/video/writer';
import { events, runLauncher } from '../../helpers/launcher';
import { TINY_TRACKER_CONFIG } from '../../training/e2e-helpers';
import { annotationJson, META, renderFrames, type SceneObject } from './video-fixtures';

const W = 64;
const H = 48;
const OBJECTS: SceneObject[] = [
  {
    key: '1'.repeat(32),
    classTitle: 'person',
    colour: [250, 20, 20],
    at: (t) => ({ x: 4 + 2 * t, y: 8, w: 12, h: 12 }),
  },
  {
    key: '2'.repeat(32),
    classTitle: 'ball',
    colour: [20, 20, 250],
    at: (t) => ({ x: 40, y: 20 + t, w: 10, h: 10 }),
  },
];
const TAG_META = [
  { name: 'train', value_type: 'none', target_type: 'all' },
  { name: 'val', value_type: 'none', target_type: 'all' },
];

/** A video project: one video per entry, `frames` frames decoded, the annotation naming `annotated` frames. */
async function makeTask(
  videos: { name: string; tag: string; frames: number; annotated: number }[],
): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'train-video-'));
  const project = path.join(dir, 'data', 'clips');
  await fsp.mkdir(path.join(project, 'ds0', 'video'), { recursive: true });
  await fsp.mkdir(path.join(project, 'ds0', 'ann'), { recursive: true });
  await fsp.writeFile(
    path.join(project, 'meta.json'),
    JSON.stringify({ ...META, tags: [...META.tags, ...TAG_META] }),
  );
  for (const v of videos) {
    const writer = openVideoWriter(path.join(project, 'ds0', 'video', v.name), {
      width: W,
      height: H,
      fps: 10,
    });
    for (const f of renderFrames(OBJECTS, v.frames, W, H)) await writer.write(f.rgb);
    await writer.close();
    const given = Object.fromEntries(
      [...Array(v.annotated).keys()].map((t) => [t, OBJECTS.map((o) => o.key)]),
    );
    const ann = annotationJson(OBJECTS, v.annotated, given, {
      size: { width: W, height: H },
      tags: [{ name: v.tag, key: (v.tag === 'train' ? 'c' : 'd').repeat(32) }],
    });
    await fsp.writeFile(path.join(project, 'ds0', 'ann', `${v.name}.json`), JSON.stringify(ann));
  }
  await fsp.mkdir(path.join(dir, 'results'), { recursive: true });
  await fsp.mkdir(path.join(dir, 'model'), { recursive: true });
  const config = {
    ...TINY_TRACKER_CONFIG,
    tracking: { ...TINY_TRACKER_CONFIG.tracking, sources: { generated: 0, project: 0, video: 1 } },
  };
  await fsp.writeFile(path.join(dir, 'task_config.json'), JSON.stringify(config));
  return dir;
}

const roots: string[] = [];
afterAll(() => Promise.all(roots.map((r) => fsp.rm(r, { recursive: true, force: true }))));

describe('a tracker trained on a video project', () => {
  it('draws its clips from the train video, validates on the val video, and digests the video', async () => {
    const root = await makeTask([
      { name: 'a.mp4', tag: 'train', frames: 10, annotated: 10 },
      { name: 'b.mp4', tag: 'val', frames: 8, annotated: 8 },
    ]);
    roots.push(root);
    const run = runLauncher(root);
    if (run.status !== 0) throw new Error(`exit ${run.status}\n${run.stdout.slice(-3000)}\n${run.stderr}`);
    const clips = run.lines.find((l) => l.message === 'Tracker training clips.');
    expect(clips?.fields).toMatchObject({
      generated_weight: 0,
      project_weight: 0,
      video_weight: 1,
      project_train_videos: 1,
      project_val_videos: 1,
      // 10 train frames, and the val video's first val_frames (4)
      video_frames_kept: 14,
    });
    expect(run.lines.find((l) => l.message === 'Tracker validation clips.')?.fields).toMatchObject({
      sequences: 2,
    });
    expect(run.lines.find((l) => l.message === 'Data digest')?.fields).toMatchObject({ items: 1 });
    const val = events(run.lines, 'METRICS').filter((l) => l.fields.type === 'val');
    expect(val).toHaveLength(2);
    for (const line of val)
      expect((line.fields.metrics as Record<string, number>)['J&F']).toBeGreaterThanOrEqual(0);
    expect(events(run.lines, 'CHECKPOINT')).toHaveLength(2);
  }, 300_000);

  it('fails naming the annotation when the video has fewer frames than its figures need', async () => {
    const root = await makeTask([{ name: 'short.mp4', tag: 'train', frames: 5, annotated: 9 }]);
    roots.push(root);
    const run = runLauncher(root);
    expect(run.status).toBe(3);
    const crash = events(run.lines, 'TASK_CRASHED');
    expect(crash).toHaveLength(1);
    expect(run.stdout).toMatch(/short\.mp4\.json/);
    expect(run.stdout).toMatch(/the video has 5 frames, but its annotation has figures on frame 8/);
  }, 300_000);
});
