import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { TaskError } from '../../src/errors';
import { splitExt } from '../../src/format/item-names';
import {
  openProject,
  projectItems,
  readItemAnnotation,
  readSingleProject,
} from '../../src/format/project-reader';
import { decodeImage } from '../../src/image/decode';

let tmp: string;
let png: Buffer;
beforeAll(async () => {
  png = await sharp({ create: { width: 4, height: 3, channels: 3, background: '#336699' } })
    .png()
    .toBuffer();
});
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'reader-test-'));
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

const META = { classes: [{ title: 'a', shape: 'rectangle', color: '#FF0000' }], tags: [] };
const ANN = { size: { height: 3, width: 4 }, tags: [], objects: [] };

/** Writes a tree: a string value is a file's text, a Buffer its bytes, an object a folder. */
type Tree = { [name: string]: string | Buffer | Tree };
async function writeTree(dir: string, tree: Tree): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  for (const [name, value] of Object.entries(tree)) {
    const target = path.join(dir, name);
    if (typeof value === 'string' || Buffer.isBuffer(value)) await fs.writeFile(target, value);
    else await writeTree(target, value);
  }
}
const json = (value: unknown) => JSON.stringify(value);

async function errorOf(promise: Promise<unknown>): Promise<TaskError> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof TaskError) return e;
    throw e;
  }
  throw new Error('expected a TaskError');
}

describe('project folders (spec B.1)', () => {
  it('follows os.path.splitext for extensions', () => {
    expect(splitExt('a.JPG')).toEqual(['a', '.JPG']);
    expect(splitExt('a.tar.png')).toEqual(['a.tar', '.png']);
    expect(splitExt('.png')).toEqual(['.png', '']);
    expect(splitExt('..a.png')).toEqual(['..a', '.png']);
    expect(splitExt('noext')).toEqual(['noext', '']);
  });

  it('lists supported images with current or old annotation names and ignores other files', async () => {
    await writeTree(path.join(tmp, 'proj'), {
      'meta.json': json(META),
      'README.txt': 'not a dataset',
      ds1: {
        img: { 'b.PNG': png, 'a.png': png, 'c.jpeg': png, 'notes.txt': 'x', 'anim.gif': png, 'x.tiff': png },
        ann: {
          'a.png.json': json(ANN),
          'b.json': json(ANN),
          'c.jpeg.json': json(ANN),
          'c.json': json(ANN),
          'stray.txt': '',
        },
      },
      ds0: {
        img: { 'z.webp': png, 'y.bmp': png, 'w.mpo': png },
        ann: { 'z.webp.json': json(ANN), 'y.bmp.json': json(ANN), 'w.mpo.json': json(ANN) },
      },
    });
    const project = await openProject(path.join(tmp, 'proj'));
    expect(project.name).toBe('proj');
    expect(project.datasets.map((d) => d.name)).toEqual(['ds0', 'ds1']); // sorted by code point
    expect(
      [...projectItems(project)].map((i) => `${i.dataset}/${i.name} -> ${path.basename(i.annotationPath)}`),
    ).toEqual([
      'ds0/w.mpo -> w.mpo.json',
      'ds0/y.bmp -> y.bmp.json',
      'ds0/z.webp -> z.webp.json',
      'ds1/a.png -> a.png.json',
      'ds1/b.PNG -> b.json', // old name, extension compared lower-cased
      'ds1/c.jpeg -> c.jpeg.json', // the current name wins over the old one
    ]);
  });

  it('finds the project as read_single_project does: the folder, its only sub-folder, or one more level down', async () => {
    const tree = { 'meta.json': json(META), ds: { img: { 'a.png': png }, ann: { 'a.png.json': json(ANN) } } };
    await writeTree(path.join(tmp, 'direct'), tree);
    await writeTree(path.join(tmp, 'one', 'myproj'), tree);
    await writeTree(path.join(tmp, 'two', 'wrapper', 'deep'), tree);
    expect((await readSingleProject(path.join(tmp, 'direct'))).name).toBe('direct');
    expect((await readSingleProject(path.join(tmp, 'one'))).name).toBe('myproj');
    expect((await readSingleProject(path.join(tmp, 'two'))).name).toBe('deep');
    await writeTree(path.join(tmp, 'many'), { p1: tree, p2: tree });
    const e = await errorOf(readSingleProject(path.join(tmp, 'many')));
    expect(e.message).toBe(
      `${path.join(tmp, 'many')}: expected a project (a folder with meta.json) or exactly one project folder inside; found 2 folders ("p1", "p2")`,
    );
  });

  it('reads annotations one item at a time, on demand', async () => {
    await writeTree(path.join(tmp, 'proj'), {
      'meta.json': json(META),
      ds: { img: { 'a.png': png, 'b.png': png }, ann: { 'a.png.json': json(ANN), 'b.png.json': '{broken' } },
    });
    const project = await openProject(path.join(tmp, 'proj')); // listing does not parse annotations
    const [a, b] = projectItems(project);
    expect((await readItemAnnotation(project, a)).size).toEqual({ height: 3, width: 4 });
    const e = await errorOf(readItemAnnotation(project, b));
    expect(e.message).toMatch(/^proj\/ds\/ann\/b\.png\.json: invalid JSON: /);
  });

  describe('each bad project gives one clear error naming the file', () => {
    const good = () => ({
      'meta.json': json(META),
      ds: { img: { 'a.png': png }, ann: { 'a.png.json': json(ANN) } } as Tree,
    });
    it.each<[string, (t: Tree) => void, string]>([
      ['missing img/', (t) => delete (t.ds as Tree).img, 'proj/ds/img: dataset "ds" has no img/ folder'],
      ['missing ann/', (t) => delete (t.ds as Tree).ann, 'proj/ds/ann: dataset "ds" has no ann/ folder'],
      [
        'an image without annotation',
        (t) => (((t.ds as Tree).img as Tree)['b.jpg'] = png),
        'proj/ds/img/b.jpg: image has no annotation (looked for ann/b.jpg.json and ann/b.json)',
      ],
      [
        'two images claiming one old-style annotation',
        (t) => {
          ((t.ds as Tree).img as Tree)['x.jpg'] = png;
          ((t.ds as Tree).img as Tree)['x.png'] = png;
          ((t.ds as Tree).ann as Tree)['x.json'] = json(ANN);
        },
        'proj/ds/ann/x.json: images "x.jpg" and "x.png" both match this annotation',
      ],
      [
        'an empty dataset',
        (t) => (t.empty = { img: {}, ann: {} }),
        'proj/empty: dataset "empty" is empty (0 images, 0 annotations)',
      ],
      ['no datasets', (t) => delete t.ds, 'proj: the project has no datasets'],
      ['invalid meta.json', (t) => (t['meta.json'] = '{"classes": ['), 'proj/meta.json: invalid JSON: '],
      [
        'a bad class colour',
        (t) => (t['meta.json'] = json({ classes: [{ title: 'a', shape: 'rectangle', color: '#F00' }] })),
        'proj/meta.json: classes[0]: field "color"',
      ],
    ])('%s', async (_what, damage, message) => {
      const tree = good();
      damage(tree);
      await writeTree(path.join(tmp, 'proj'), tree);
      const e = await errorOf(openProject(path.join(tmp, 'proj')));
      expect(e.kind).toBe('data');
      expect(e.message.startsWith(message)).toBe(true);
    });

    it.each([
      ['an image', 'ds/img/b.png', 'proj/ds/img/b.png: this is a character device, not a regular file'],
      ['an annotation', 'ds/ann/a.png.json', 'proj/ds/ann/a.png.json: this is a character device'],
      ['meta.json', 'meta.json', "proj/meta.json: cannot read the file: '"],
    ])('%s that is not a regular file (a device behind a link)', async (_what, rel, message) => {
      await writeTree(path.join(tmp, 'proj'), good());
      await fs.rm(path.join(tmp, 'proj', rel), { force: true });
      await fs.symlink('/dev/null', path.join(tmp, 'proj', rel));
      const e = await errorOf(readSingleProject(path.join(tmp, 'proj')));
      expect(e.kind).toBe('data');
      expect(e.message).toContain(message);
      expect(e.message).toContain('is a character device, not a regular file');
    });

    it('an annotation size that does not match its image', async () => {
      const tree = good();
      ((tree.ds as Tree).ann as Tree)['a.png.json'] = json({ ...ANN, size: { height: 4, width: 3 } });
      await writeTree(path.join(tmp, 'proj'), tree);
      const project = await openProject(path.join(tmp, 'proj'));
      const [item] = projectItems(project);
      const annotation = await readItemAnnotation(project, item);
      const e = await errorOf(
        decodeImage(item.imagePath, { expectedSize: annotation.size, displayName: 'proj/ds/img/a.png' }),
      );
      expect(e.message).toBe(
        'proj/ds/img/a.png: the image is 4x3 but its annotation says 3x4 (width x height)',
      );
    });

    it('an unknown class in an annotation', async () => {
      const tree = good();
      ((tree.ds as Tree).ann as Tree)['a.png.json'] = json({
        ...ANN,
        objects: [
          {
            classTitle: 'b',
            tags: [],
            points: {
              exterior: [
                [0, 0],
                [1, 1],
              ],
              interior: [],
            },
          },
        ],
      });
      await writeTree(path.join(tmp, 'proj'), tree);
      const project = await openProject(path.join(tmp, 'proj'));
      const e = await errorOf(readItemAnnotation(project, [...projectItems(project)][0]));
      expect(e.message).toMatch(
        /^proj\/ds\/ann\/a\.png\.json: objects\[0\]: field "classTitle": class "b" is not defined/,
      );
    });
  });
});
