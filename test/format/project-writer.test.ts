import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createProjectMeta } from '../../src/format/meta';
import type { Annotation, ObjClass } from '../../src/format/model';
import {
  openProject,
  projectItems,
  readItemAnnotation,
  readSingleProject,
} from '../../src/format/project-reader';
import { ResultsProjectWriter, linkOrCopy } from '../../src/format/project-writer';
import { classBitmapsFromMask } from '../../src/format/rasterise';

const fixture = path.join(__dirname, 'fixtures', 'tutorial_project');
let tmp: string;
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'writer-test-'));
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

const predictedClass: ObjClass = {
  title: 'person_unet',
  shape: 'bitmap',
  color: '#00FF12',
  geometryConfig: {},
  hotkey: '',
};

/** The input annotation plus one predicted bitmap: a block in the image's top-left corner. */
function withPrediction(annotation: Annotation): Annotation {
  const { width, height } = annotation.size;
  const mask = new Uint8Array(width * height);
  for (let y = 10; y < 30; y++) mask.fill(1, y * width + 5, y * width + 25);
  const [label] = classBitmapsFromMask({ mask, size: annotation.size, classToIndex: { person_unet: 1 } });
  return { ...annotation, labels: [...annotation.labels, label] };
}

/** A bitmap read from disk keeps its payload string; one made in code has none. Compare masks and origins. */
function withoutEncoded(annotation: Annotation): Annotation {
  return {
    ...annotation,
    labels: annotation.labels.map((l) => {
      if (l.geometry.type !== 'bitmap') return l;
      const { type, origin, mask } = l.geometry;
      return { ...l, geometry: { type, origin, mask } };
    }),
  };
}

describe('results project writer (spec F.4)', () => {
  it('writes a project that reads back with the same names, byte-identical linked images and the same annotations', async () => {
    const input = await readSingleProject(fixture);
    const meta = createProjectMeta({
      classes: [...input.meta.classes, predictedClass],
      tagMetas: input.meta.tagMetas,
    });
    // The task writes into a temporary folder and renames it: the folder name is not the project name.
    const dir = path.join(tmp, '.tmp-results-1234');
    const writer = await ResultsProjectWriter.create({ dir, projectName: input.name, meta });
    const written = new Map<string, Annotation>();
    for (const item of projectItems(input)) {
      const annotation = withPrediction(await readItemAnnotation(input, item));
      written.set(`${item.dataset}/${item.name}`, annotation);
      await writer.addItem({ dataset: item.dataset, name: item.name, imagePath: item.imagePath, annotation });
    }
    await expect(fs.access(path.join(dir, 'meta.json'))).rejects.toThrow(); // meta.json comes last
    await writer.finish();
    expect(writer.itemCount).toBe(5);
    const finalDir = path.join(tmp, input.name);
    await fs.rename(dir, finalDir);

    const output = await openProject(finalDir);
    expect(output.name).toBe('tutorial_project');
    expect(output.datasets.map((d) => [d.name, d.items.map((i) => i.name)])).toEqual(
      input.datasets.map((d) => [d.name, d.items.map((i) => i.name)]),
    );
    expect(output.meta.classes.map((c) => c.title)).toEqual(['bike', 'car', 'dog', 'person', 'person_unet']);
    const inputItems = [...projectItems(input)];
    for (const [i, item] of [...projectItems(output)].entries()) {
      expect(path.basename(item.annotationPath)).toBe(`${item.name}.json`); // written with the current naming
      const [a, b] = await Promise.all([fs.readFile(inputItems[i].imagePath), fs.readFile(item.imagePath)]);
      expect(b.equals(a)).toBe(true);
      const [sa, sb] = await Promise.all([fs.stat(inputItems[i].imagePath), fs.stat(item.imagePath)]);
      if (writer.copiedImages === 0) expect(sb.ino).toBe(sa.ino); // a hard link, not a copy
      const readBack = await readItemAnnotation(output, item);
      expect(withoutEncoded(readBack)).toEqual(withoutEncoded(written.get(`${item.dataset}/${item.name}`)!));
    }
    const leftovers = (await fs.readdir(finalDir, { recursive: true })).filter((f) =>
      String(f).endsWith('.tmp'),
    );
    expect(leftovers).toEqual([]);
  });

  it('a symlinked image becomes the file it points to, not a link leaving the folder', async () => {
    const outside = path.join(tmp, 'outside.jpg');
    await fs.writeFile(outside, Buffer.from([9, 8, 7]));
    const linked = path.join(tmp, 'linked.jpg');
    await fs.symlink(outside, linked);
    const target = path.join(tmp, 'result.jpg');
    expect(await linkOrCopy(linked, target)).toBe('linked');
    expect((await fs.lstat(target)).isSymbolicLink()).toBe(false);
    expect(await fs.readFile(target)).toEqual(Buffer.from([9, 8, 7]));
  });

  it('copies when asked to, or when a hard link is impossible (another device)', async () => {
    const source = path.join(tmp, 'src.jpg');
    await fs.writeFile(source, Buffer.from([1, 2, 3, 4]));
    const crossDevice = async () => {
      throw Object.assign(new Error('EXDEV: cross-device link not permitted'), { code: 'EXDEV' });
    };
    expect(await linkOrCopy(source, path.join(tmp, 'copy.jpg'), crossDevice)).toBe('copied');
    expect(await fs.readFile(path.join(tmp, 'copy.jpg'))).toEqual(Buffer.from([1, 2, 3, 4]));
    expect(await linkOrCopy(source, path.join(tmp, 'link.jpg'))).toBe('linked');
    expect((await fs.stat(path.join(tmp, 'link.jpg'))).nlink).toBe(2);

    const input = await readSingleProject(fixture);
    const writer = await ResultsProjectWriter.create({
      dir: path.join(tmp, 'out'),
      projectName: 'p',
      meta: input.meta,
      linkImages: false,
    });
    const [item] = projectItems(input);
    await writer.addItem({
      dataset: item.dataset,
      name: item.name,
      imagePath: item.imagePath,
      annotation: await readItemAnnotation(input, item),
    });
    expect(writer.copiedImages).toBe(1);
    const copy = path.join(tmp, 'out', item.dataset, 'img', item.name);
    expect((await fs.stat(copy)).ino).not.toBe((await fs.stat(item.imagePath)).ino);
    expect((await fs.readFile(copy)).equals(await fs.readFile(item.imagePath))).toBe(true);
  });

  it('refuses what would make an invalid project', async () => {
    const input = await readSingleProject(fixture);
    const [item] = projectItems(input);
    const annotation = await readItemAnnotation(input, item);
    const writer = await ResultsProjectWriter.create({
      dir: path.join(tmp, 'out'),
      projectName: 'p',
      meta: input.meta,
    });
    await expect(writer.finish()).rejects.toThrow('results project "p" has no items');
    const add = (changes: Partial<Parameters<typeof writer.addItem>[0]>) =>
      writer.addItem({ dataset: 'ds', name: 'a.jpg', imagePath: item.imagePath, annotation, ...changes });
    await expect(add({ name: 'a.txt' })).rejects.toThrow('supported image extension');
    await expect(add({ dataset: '../up' })).rejects.toThrow('not a plain folder name');
    await expect(add({ annotation: withPrediction(annotation) })).rejects.toThrow(
      /objects\[2\]: class "person_unet" is not in the results meta/,
    );
    await add({});
    await expect(add({})).rejects.toThrow('already written');
    await fs.writeFile(path.join(tmp, 'busy.txt'), 'x');
    await expect(
      ResultsProjectWriter.create({ dir: tmp, projectName: 'p', meta: input.meta }),
    ).rejects.toThrow('is not empty');
  });
});
