import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { AnnotationJson, ProjectMetaJson } from '../../src/format/types';
import type { SyntheticItem, SyntheticObject, SyntheticProject } from '../../src/example/synthetic-project';
import { assignFolds, generateSyntheticProject } from '../../src/example/synthetic-project';
import { decodeBitmapData } from '../../src/format/bitmap-codec';
import { openProject, projectItems, readItemAnnotation } from '../../src/format/project-reader';
import { rasteriseAnnotation } from '../../src/format/rasterise';

const SIZE = 64;
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'synthetic-project-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function generate(name: string, extra: Partial<Parameters<typeof generateSyntheticProject>[0]> = {}) {
  return generateSyntheticProject({
    dir: tmp,
    projectName: name,
    datasets: [
      { name: 'ds_a', count: 12 },
      { name: 'ds_b', count: 8 },
    ],
    width: SIZE,
    height: SIZE,
    seed: 11,
    ...extra,
  });
}

async function readJson<T>(file: string): Promise<T> {
  return JSON.parse(await readFile(file, 'utf8')) as T;
}

async function decodeRgb(file: string): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** Independent of the generator's own rasteriser: an even-odd test at pixel centres. */
function insidePolygon(points: [number, number][], x: number, y: number): boolean {
  let inside = false;
  for (let i = 0, j = points.length - 1; i < points.length; j = i, i += 1) {
    const [xi, yi] = points[i];
    const [xj, yj] = points[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function hexToRgb(hex: string): [number, number, number] {
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
}

/** The class whose meta colour is nearest, or 'grey' for the unsaturated background. */
function classifyPixel(rgb: number[], meta: ProjectMetaJson): string {
  if (Math.max(...rgb) - Math.min(...rgb) < 30) return 'grey';
  let best = 'grey';
  let bestDistance = Infinity;
  for (const c of meta.classes) {
    if (c.title === 'neutral') continue;
    const [r, g, b] = hexToRgb(c.color);
    const d = Math.hypot(rgb[0] - r, rgb[1] - g, rgb[2] - b);
    if (d < bestDistance) [best, bestDistance] = [c.title, d];
  }
  return bestDistance < 70 ? best : 'other';
}

function pixelAt(img: { data: Buffer; width: number }, x: number, y: number): number[] {
  const o = (y * img.width + x) * 3;
  return [img.data[o], img.data[o + 1], img.data[o + 2]];
}

describe('synthetic project generator (spec B.1-B.5)', () => {
  let project: SyntheticProject;
  beforeAll(async () => {
    project = await generate('shapes', { neutral: true, folds: { val: 0.25, both: 0.1, neither: 0.1 } });
  });

  it('writes meta.json, img/ and ann/ with annotation names "<image>.json" (B.1)', async () => {
    expect((await readdir(project.projectDir)).sort()).toEqual(['ds_a', 'ds_b', 'meta.json']);
    for (const ds of ['ds_a', 'ds_b']) {
      const images = (await readdir(path.join(project.projectDir, ds, 'img'))).sort();
      const anns = (await readdir(path.join(project.projectDir, ds, 'ann'))).sort();
      expect(images).toHaveLength(ds === 'ds_a' ? 12 : 8);
      expect(anns).toEqual(images.map((i) => `${i}.json`));
      expect(images.every((i) => i.endsWith('.png'))).toBe(true);
    }
    expect(project.items).toHaveLength(20);
  });

  it('declares classes with colours and shapes, and the fold tags as value_type none (B.2, B.5)', async () => {
    const meta = await readJson<ProjectMetaJson>(path.join(project.projectDir, 'meta.json'));
    expect(meta).toEqual(project.meta);
    expect(meta.classes.map((c) => [c.title, c.shape])).toEqual([
      ['circle', 'polygon'],
      ['square', 'rectangle'],
      ['triangle', 'polygon'],
      ['neutral', 'polygon'],
    ]);
    for (const c of meta.classes) expect(c.color).toMatch(/^#[0-9A-F]{6}$/);
    expect(new Set(meta.classes.map((c) => c.color)).size).toBe(4);
    expect(meta.tags?.map((t) => [t.name, t.value_type])).toEqual([
      ['train', 'none'],
      ['val', 'none'],
    ]);
  });

  it('writes annotations with size, image tags and polygon or rectangle objects (B.3, B.4)', async () => {
    const seenShapes = new Set<string>();
    for (const item of project.items) {
      const ann = await readJson<AnnotationJson>(item.annotationPath);
      expect(ann.size).toEqual({ height: SIZE, width: SIZE });
      expect(ann.tags).toEqual(item.tags.map((name) => ({ name })));
      expect(ann.objects.map((o) => o.classTitle)).toEqual(item.objects.map((o) => o.classTitle));
      for (const o of ann.objects) {
        const cls = project.meta.classes.find((c) => c.title === o.classTitle);
        expect(o.geometryType).toBe(cls?.shape);
        expect(o.shape).toBe(cls?.shape);
        expect(o.points?.interior).toEqual([]);
        const exterior = o.points?.exterior ?? [];
        if (o.shape === 'rectangle') expect(exterior).toHaveLength(2);
        else expect(exterior.length).toBeGreaterThanOrEqual(3);
        for (const [x, y] of exterior) {
          expect(Number.isInteger(x) && Number.isInteger(y)).toBe(true);
          expect(x >= 0 && x < SIZE && y >= 0 && y < SIZE).toBe(true);
        }
        seenShapes.add(o.classTitle);
      }
    }
    expect([...seenShapes].sort()).toEqual(['circle', 'neutral', 'square', 'triangle']);
  });

  it('tags folds with the requested counts: 5 val, 2 both, 2 neither, the rest train', () => {
    expect(project.foldCounts).toEqual({ train: 11, val: 5, both: 2, neither: 2 });
    const byTags = (tags: string[]) => project.items.filter((i) => i.tags.join() === tags.join()).length;
    expect(byTags(['train'])).toBe(11);
    expect(byTags(['val'])).toBe(5);
    expect(byTags(['train', 'val'])).toBe(2);
    expect(byTags([])).toBe(2);
  });

  it('is deterministic: the same seed gives byte-identical files, another seed different images', async () => {
    const again = await generate('shapes_again', {
      neutral: true,
      folds: { val: 0.25, both: 0.1, neither: 0.1 },
    });
    const other = await generate('shapes_other', {
      neutral: true,
      folds: { val: 0.25, both: 0.1, neither: 0.1 },
      seed: 12,
    });
    const bytes = async (p: SyntheticProject, i: number) =>
      Promise.all([readFile(p.items[i].imagePath), readFile(p.items[i].annotationPath)]);
    let differing = 0;
    for (let i = 0; i < project.items.length; i += 1) {
      const [img, ann] = await bytes(project, i);
      const [img2, ann2] = await bytes(again, i);
      expect(img.equals(img2)).toBe(true);
      expect(ann.equals(ann2)).toBe(true);
      const [img3] = await bytes(other, i);
      if (!img.equals(img3)) differing += 1;
    }
    expect(differing).toBe(project.items.length);
  });

  it('draws each object in its class colour with its shape, over grey (PNG, lossless)', async () => {
    let checked = 0;
    for (const item of project.items) {
      const img = await decodeRgb(item.imagePath);
      for (const object of item.objects) {
        if (object.figure === 'neutral') continue;
        expectShapeDrawn(img, object, project.meta);
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(20);
  });

  it('paints the annotated region: at least 97% of pixels inside each polygon have the class colour', async () => {
    for (const item of project.items.slice(0, 8)) {
      const img = await decodeRgb(item.imagePath);
      for (const object of item.objects.filter((o) => o.geometry === 'polygon' && o.figure !== 'neutral')) {
        let inside = 0;
        let coloured = 0;
        for (let y = 0; y < SIZE; y += 1) {
          for (let x = 0; x < SIZE; x += 1) {
            if (!insidePolygon(object.points, x, y)) continue;
            inside += 1;
            if (classifyPixel(pixelAt(img, x, y), project.meta) === object.classTitle) coloured += 1;
          }
        }
        expect(inside).toBeGreaterThan(0);
        expect(coloured / inside).toBeGreaterThanOrEqual(0.97);
      }
    }
  });

  it('paints exactly the pixels the format rasteriser draws from the annotation (read back with the reader)', async () => {
    const listing = await openProject(project.projectDir);
    const titles = ['circle', 'square', 'triangle'];
    const classToIndex = Object.fromEntries(titles.map((t, i) => [t, i + 1]));
    let itemsChecked = 0;
    for (const listed of projectItems(listing)) {
      const annotation = await readItemAnnotation(listing, listed);
      const mask = rasteriseAnnotation(annotation, {
        classToIndex,
        fill: 0,
        neutral: { classTitle: 'neutral', value: 9 },
      });
      const img = await decodeRgb(listed.imagePath);
      const mismatches: string[] = [];
      for (let y = 0; y < SIZE; y += 1) {
        for (let x = 0; x < SIZE; x += 1) {
          const label = mask[y * SIZE + x];
          if (label === 9) continue; // neutral: random colours, any class by chance
          const expected = label === 0 ? 'grey' : titles[label - 1];
          const got = classifyPixel(pixelAt(img, x, y), project.meta);
          if (got !== expected) mismatches.push(`${x},${y}: ${expected} painted as ${got}`);
        }
      }
      expect(`${listed.dataset}/${listed.name}: ${mismatches.slice(0, 3).join('; ')}`).toBe(
        `${listed.dataset}/${listed.name}: `,
      );
      itemsChecked += 1;
    }
    expect(itemsChecked).toBe(20);
  });

  it('leaves pixels outside all objects grey', async () => {
    const item = project.items[0];
    const img = await decodeRgb(item.imagePath);
    const far = (x: number, y: number) =>
      item.objects.every((o) => Math.hypot(x - o.center[0], y - o.center[1]) > o.radius + 1.5);
    let greyCount = 0;
    let farCount = 0;
    for (let y = 0; y < SIZE; y += 1) {
      for (let x = 0; x < SIZE; x += 1) {
        if (!far(x, y)) continue;
        farCount += 1;
        if (classifyPixel(pixelAt(img, x, y), project.meta) === 'grey') greyCount += 1;
      }
    }
    expect(farCount).toBeGreaterThan(1000);
    expect(greyCount).toBe(farCount);
  });
});

/** Centre coloured; just inside the outline coloured; just outside grey. From the annotation's geometry alone. */
function expectShapeDrawn(
  img: { data: Buffer; width: number; height: number },
  object: SyntheticObject,
  meta: ProjectMetaJson,
): void {
  const at = (x: number, y: number) => classifyPixel(pixelAt(img, Math.round(x), Math.round(y)), meta);
  const inImage = (x: number, y: number) => x >= 0 && y >= 0 && x < img.width && y < img.height;
  const [cx, cy] = object.center;
  if (object.figure === 'square') {
    const [[left, top], [right, bottom]] = object.points;
    for (const [x, y] of [
      [left, top],
      [right, bottom],
      [left, bottom],
      [right, top],
      [cx, cy],
    ]) {
      expect(at(x, y)).toBe(object.classTitle);
    }
    for (const [x, y] of [
      [left - 1, cy],
      [right + 1, cy],
      [cx, top - 1],
      [cx, bottom + 1],
    ]) {
      if (inImage(x, y)) expect(at(x, y)).toBe('grey');
    }
    return;
  }
  // Circle and triangle: vertices' centroid is inside; points 1.5 px beyond a vertex are outside.
  const n = object.points.length;
  const mx = object.points.reduce((s, p) => s + p[0], 0) / n;
  const my = object.points.reduce((s, p) => s + p[1], 0) / n;
  expect(at(mx, my)).toBe(object.classTitle);
  for (const [x, y] of object.points) {
    const d = Math.hypot(x - mx, y - my);
    const ox = x + ((x - mx) / d) * 2;
    const oy = y + ((y - my) / d) * 2;
    if (inImage(Math.round(ox), Math.round(oy))) expect(at(ox, oy)).toBe('grey');
    const ix = x - ((x - mx) / d) * 2;
    const iy = y - ((y - my) / d) * 2;
    if (object.figure === 'circle') expect(at(ix, iy)).toBe(object.classTitle);
  }
}

describe('synthetic project options', () => {
  it('writes JPEG images named .jpg that decode to the requested size', async () => {
    const p = await generate('jpeg', { imageFormat: 'jpeg', datasets: [{ name: 'only', count: 3 }] });
    for (const item of p.items) {
      expect(item.name).toMatch(/^img_\d{4}\.jpg$/);
      const info = await sharp(item.imagePath).metadata();
      expect([info.format, info.width, info.height]).toEqual(['jpeg', SIZE, SIZE]);
    }
  });

  it('uses custom titles, figures, tags, and one tag when train and val tags are the same', async () => {
    const p = await generate('custom', {
      datasets: [{ name: 'only', count: 10 }],
      classes: ['kiwi', { title: 'lemon', figure: 'circle' }, 'box'],
      folds: { trainTag: 'fit', valTag: 'fit', val: 0.3 },
      objectsPerImage: { min: 2, max: 2 },
    });
    expect(p.meta.classes.map((c) => [c.title, c.shape])).toEqual([
      ['kiwi', 'polygon'],
      ['lemon', 'polygon'],
      ['box', 'polygon'],
    ]);
    expect(p.meta.tags?.map((t) => t.name)).toEqual(['fit']);
    expect(p.items.every((i: SyntheticItem) => i.tags.join() === 'fit')).toBe(true);
    expect(p.items.every((i) => i.objects.length === 2)).toBe(true);
  });

  it('stores bitmap classes as encoded masks of exactly the drawn pixels (spec B.6)', async () => {
    const p = await generate('bitmaps', {
      datasets: [{ name: 'only', count: 6 }],
      classes: [{ title: 'blob', figure: 'circle', geometry: 'bitmap' }, 'square'],
      objectsPerImage: { min: 2, max: 3 },
    });
    expect(p.meta.classes.map((c) => [c.title, c.shape])).toEqual([
      ['blob', 'bitmap'],
      ['square', 'rectangle'],
    ]);
    let bitmaps = 0;
    for (const item of p.items) {
      const ann = await readJson<AnnotationJson>(item.annotationPath);
      const img = await decodeRgb(item.imagePath);
      for (const o of ann.objects.filter((l) => l.classTitle === 'blob')) {
        expect([o.geometryType, o.shape, o.points]).toEqual(['bitmap', 'bitmap', undefined]);
        const bitmap = o.bitmap ?? { origin: [0, 0], data: '' };
        expect(bitmap.data.startsWith('eJ')).toBe(true);
        const mask = decodeBitmapData(bitmap.data);
        const [ox, oy] = bitmap.origin;
        for (let y = -1; y <= mask.height; y += 1) {
          for (let x = -1; x <= mask.width; x += 1) {
            const inMask =
              y >= 0 && x >= 0 && y < mask.height && x < mask.width && mask.data[y * mask.width + x] === 1;
            if (ox + x < 0 || oy + y < 0 || ox + x >= SIZE || oy + y >= SIZE) continue;
            const painted = classifyPixel(pixelAt(img, ox + x, oy + y), p.meta) === 'blob';
            expect(painted).toBe(inMask);
          }
        }
        bitmaps += 1;
      }
    }
    expect(bitmaps).toBeGreaterThan(2);
  });

  it('rejects options that would make an unreadable or impossible project', async () => {
    await expect(generate('bad1', { datasets: [{ name: 'empty', count: 0 }] })).rejects.toThrow(/positive/);
    await expect(generate('bad2', { classes: ['a', 'a'] })).rejects.toThrow(/unique/);
    await expect(generate('bad3', { folds: { val: 0.7, neither: 0.5 } })).rejects.toThrow(/more than/);
    await expect(
      generate('bad4', { classes: [{ title: 'r', figure: 'circle', geometry: 'rectangle' }] }),
    ).rejects.toThrow(/squares/);
  });

  it('assigns folds by rounding the fractions over the whole project', () => {
    const folds = assignFolds(10, { val: 0.34, both: 0.05, neither: 0.2 }, 3);
    const count = (f: string) => folds.filter((a) => a === f).length;
    expect([count('val'), count('both'), count('neither'), count('train')]).toEqual([3, 1, 2, 4]);
    expect(assignFolds(10, { val: 0.34, both: 0.05, neither: 0.2 }, 3)).toEqual(folds);
  });
});
