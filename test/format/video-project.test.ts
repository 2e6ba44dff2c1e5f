/**
 * Video project folders (docs/supervisely-video-format.md V.1, V.7): datasets found as the SDK's `Project._read`
 * finds them (nested under datasets/, reserved names by suffix, broken folders skipped and reported), items and
 * their annotations matched as `Dataset._read` does, and the writer's project read back the same.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TaskError } from '../../src/errors';
import { parseKeyIdMap } from '../../src/format/key-id-map';
import { parseVideoAnnotation, serializeVideoAnnotation } from '../../src/format/video-annotation';
import {
  openVideoProject,
  readSingleVideoProject,
  readVideoAnnotation,
  videoProjectItems,
} from '../../src/format/video-project-reader';
import { VideoProjectWriter, videoDatasetDir } from '../../src/format/video-project-writer';
import { workedExample } from './video-spec-example';

const example = workedExample();
let tmp: string;
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'video-project-'));
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

async function put(file: string, content: string | object): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, typeof content === 'string' ? content : JSON.stringify(content, null, 4));
}

/** The V.8 annotation with another key, so several videos can share it. */
const annotationFor = (n: number): object => ({
  ...example.annotation,
  key: n.toString(16).padStart(32, '0'),
});

/** A project in `root` with the V.8 meta; `videos` maps "dataset folder/video name" to whether it has an annotation. */
async function makeProject(root: string, videos: Record<string, 'ann' | 'old-ann' | 'no-ann' | 'ann-only'>) {
  await put(path.join(root, 'meta.json'), example.meta);
  let n = 0;
  for (const [where, kind] of Object.entries(videos)) {
    const dir = path.join(root, path.dirname(where));
    const name = path.basename(where);
    if (kind !== 'ann-only') await put(path.join(dir, 'video', name), `video bytes of ${where}`);
    else await fs.mkdir(path.join(dir, 'video'), { recursive: true });
    const annName = kind === 'old-ann' ? `${path.parse(name).name}.json` : `${name}.json`;
    if (kind !== 'no-ann') await put(path.join(dir, 'ann', annName), annotationFor(++n));
    else await fs.mkdir(path.join(dir, 'ann'), { recursive: true });
  }
}

describe('finding datasets and videos (V.1.1, V.1.2)', () => {
  it('nested datasets by name, reserved names by suffix, annotation names old and new, annotation-only copies', async () => {
    const root = path.join(tmp, 'proj');
    await makeProject(root, {
      'ds0/clip.mp4': 'ann',
      'ds0/b.AVI': 'old-ann',
      'ds0/datasets/child/c.mkv': 'ann',
      'ds0/datasets/child/datasets/grandchild/d.webm': 'ann',
      'ds1/e.mp4': 'ann-only',
      'my_video/f.mp4': 'ann', // ends with "video": not a dataset, silently
      'broken/g.mp4': 'no-ann', // a video without annotation: the whole dataset is skipped
    });
    await put(path.join(root, 'ds0', 'video', 'notes.txt'), 'not a video'); // ignored
    await fs.mkdir(path.join(root, 'extras'), { recursive: true }); // no video/ or ann/
    await put(path.join(root, 'ds0', 'video_info', 'clip.mp4.json'), { id: 7 });
    await put(path.join(root, 'ds0', 'metadata', 'clip.mp4.meta.json'), { fps: 25 });

    const project = await openVideoProject(root);
    expect(project.name).toBe('proj');
    expect(project.datasets.map((d) => [d.name, d.items.map((i) => i.name)])).toEqual([
      ['ds0', ['b.AVI', 'clip.mp4']],
      ['ds0/child', ['c.mkv']],
      ['ds0/child/grandchild', ['d.webm']],
      ['ds1', ['e.mp4']],
    ]);
    expect(project.skipped).toEqual([
      { folder: path.join('proj', 'broken'), reason: expect.stringMatching(/"g.mp4" has no annotation/) },
      { folder: path.join('proj', 'extras'), reason: 'no video/ folder' },
    ]);
    const items = [...videoProjectItems(project)];
    expect(path.basename(items[0].annotationPath)).toBe('b.json');
    expect(items[1].infoPath).toBe(path.join(root, 'ds0', 'video_info', 'clip.mp4.json'));
    expect(items[1].metadataPath).toBe(path.join(root, 'ds0', 'metadata', 'clip.mp4.meta.json'));
    expect(items[0].infoPath).toBeUndefined();
    const annotation = await readVideoAnnotation(project, items[2]);
    expect(annotation.objects).toHaveLength(2);
    expect(project.keyIdMap).toEqual({ tags: {}, objects: {}, figures: {}, videos: {} });
  });

  it('a video needs an annotation of the same case; a project with no videos is "empty", naming what was skipped', async () => {
    const root = path.join(tmp, 'proj');
    await makeProject(root, { 'ds0/clip.MP4': 'no-ann' });
    await put(path.join(root, 'ds0', 'ann', 'clip.mp4.json'), annotationFor(1));
    await expect(openVideoProject(root)).rejects.toThrow(
      /proj: the project has no videos .*"clip.MP4" has no annotation/,
    );
  });

  it('reads key_id_map.json and names its file and field when it is wrong', async () => {
    const root = path.join(tmp, 'proj');
    await makeProject(root, { 'ds0/clip.mp4': 'ann' });
    await put(path.join(root, 'key_id_map.json'), {
      tags: {},
      objects: { '11111111-1111-1111-1111-111111111111': 501 },
      figures: {},
      videos: { '00000000000000000000000000000001': null },
    });
    const project = await openVideoProject(root);
    expect(project.keyIdMap.objects).toEqual({ '11111111111111111111111111111111': 501 });
    await put(path.join(root, 'key_id_map.json'), { objects: { x: 1 } });
    const e = await openVideoProject(root).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(TaskError);
    expect((e as TaskError).message).toMatch(
      /^proj\/key_id_map.json: field "objects.x": the key is not a UUID/,
    );
    expect(() => parseKeyIdMap({ figures: { ['a'.repeat(32)]: 1.5 } }, { file: 'k' })).toThrow(/integer id/);
  });

  it('read_single_project: the folder itself, or the one project below it; two are an error', async () => {
    await makeProject(path.join(tmp, 'data', 'proj'), { 'ds0/clip.mp4': 'ann' });
    expect((await readSingleVideoProject(path.join(tmp, 'data'))).name).toBe('proj');
    expect((await readSingleVideoProject(path.join(tmp, 'data', 'proj'))).name).toBe('proj');
    await makeProject(path.join(tmp, 'data', 'deeper', 'other'), { 'ds0/clip.mp4': 'ann' });
    await expect(readSingleVideoProject(path.join(tmp, 'data'))).rejects.toThrow(
      /2 video projects in this folder \(deeper\/other, proj\)/,
    );
    await expect(readSingleVideoProject(path.join(tmp, 'nothing'))).rejects.toThrow(/does not exist/);
  });

  it('an annotation error names the file and the field', async () => {
    const root = path.join(tmp, 'proj');
    await makeProject(root, { 'ds0/clip.mp4': 'ann' });
    await put(path.join(root, 'ds0', 'ann', 'clip.mp4.json'), { ...annotationFor(1), framesCount: 1 });
    const project = await openVideoProject(root);
    await expect(readVideoAnnotation(project, project.datasets[0].items[0])).rejects.toThrow(
      'proj/ds0/ann/clip.mp4.json: frames[2]: field "index": frame index 2 is outside the video (framesCount 1)',
    );
  });
});

describe('the video project writer (V.1.3)', () => {
  it('writes a project that reads back the same: names, linked videos, annotations, info files, meta, key-id map', async () => {
    const root = path.join(tmp, 'proj');
    await makeProject(root, {
      'ds0/clip.mp4': 'ann',
      'ds0/datasets/child/c.mkv': 'ann',
    });
    await put(path.join(root, 'ds0', 'video_info', 'clip.mp4.json'), { id: 7 });
    await put(path.join(root, 'key_id_map.json'), {
      tags: {},
      objects: {},
      figures: {},
      videos: { ['5'.repeat(32)]: 9 },
    });
    const input = await openVideoProject(root);
    const out = path.join(tmp, 'out-any-name');
    const writer = await VideoProjectWriter.create({
      dir: out,
      projectName: input.name,
      meta: input.meta,
      keyIdMap: input.keyIdMap,
    });
    for (const item of videoProjectItems(input)) {
      const annotation = await readVideoAnnotation(input, item);
      await writer.addItem({ ...item, annotation });
    }
    await writer.finish();
    expect(writer.itemCount).toBe(2);

    const again = await openVideoProject(out);
    expect(again.datasets.map((d) => [d.name, d.items.map((i) => i.name)])).toEqual([
      ['ds0', ['clip.mp4']],
      ['ds0/child', ['c.mkv']],
    ]);
    expect(again.datasets[1].dir).toBe(path.join(out, 'ds0', 'datasets', 'child'));
    expect(JSON.parse(await fs.readFile(path.join(out, 'meta.json'), 'utf8'))).toEqual(example.meta);
    expect(again.keyIdMap).toEqual(input.keyIdMap);
    for (const [a, b] of [...videoProjectItems(input)].map((item, i) => [
      item,
      [...videoProjectItems(again)][i],
    ])) {
      expect((await fs.stat(b.videoPath)).ino).toBe((await fs.stat(a.videoPath)).ino);
      expect(await readVideoAnnotation(again, b)).toEqual(await readVideoAnnotation(input, a));
      // The file is the SDK's json.dump(indent=4) of the same JSON.
      const text = await fs.readFile(b.annotationPath, 'utf8');
      expect(text).toBe(serializeVideoAnnotation(await readVideoAnnotation(input, a)));
    }
    expect(await fs.readFile(path.join(out, 'ds0', 'video_info', 'clip.mp4.json'), 'utf8')).toContain(
      '"id": 7',
    );
    expect(videoDatasetDir('a/b/c')).toBe(path.join('a', 'datasets', 'b', 'datasets', 'c'));
  });

  it('refuses what the SDK would not read back: a non-empty folder, reserved dataset names, figures outside the frame or the video', async () => {
    const meta = (
      await (async () => {
        const root = path.join(tmp, 'proj');
        await makeProject(root, { 'ds0/clip.mp4': 'ann' });
        return openVideoProject(root);
      })()
    ).meta;
    const video = path.join(tmp, 'proj', 'ds0', 'video', 'clip.mp4');
    const annotation = parseVideoAnnotation(example.annotation, meta, { file: 'x' });
    await put(path.join(tmp, 'full', 'x'), 'x');
    await expect(
      VideoProjectWriter.create({ dir: path.join(tmp, 'full'), projectName: 'p', meta }),
    ).rejects.toThrow(/is not empty/);
    const writer = await VideoProjectWriter.create({ dir: path.join(tmp, 'out'), projectName: 'p', meta });
    const add = (over: Partial<Parameters<VideoProjectWriter['addItem']>[0]>) =>
      writer.addItem({ dataset: 'ds0', name: 'clip.mp4', videoPath: video, annotation, ...over });
    await expect(add({ dataset: 'my_video' })).rejects.toThrow(/plain folder name not ending in video/);
    await expect(add({ name: 'clip.txt' })).rejects.toThrow(/supported video extension/);
    await expect(add({ annotation: { ...annotation, framesCount: 2 } })).rejects.toThrow(
      /frame 2: outside the video's 2 frames/,
    );
    await expect(add({ annotation: { ...annotation, size: { width: 7, height: 6 } } })).rejects.toThrow(
      /reaches outside the 7x6 frame/,
    );
    await expect(writer.finish()).rejects.toThrow(/has no videos/);
    await add({});
    await expect(add({})).rejects.toThrow(/already written/);
  });
});
