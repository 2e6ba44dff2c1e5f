import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { TaskError } from '../../src/errors';
import { generateSyntheticProject, type SyntheticProject } from '../../src/example/synthetic-project';
import { projectItems, readSingleProject, type ProjectListing } from '../../src/format/project-reader';
import { createSegmentationClasses } from '../../src/model-state/class-map';
import {
  collateSamples,
  flipProbabilities,
  loadNativeSamples,
  loadSample,
  prepareSample,
  sampleFlips,
  type SampleRecipe,
} from '../../src/training/data/sample';
import { projectClassesJson } from '../../src/training/plan';
import { PAD_LABEL } from '../../src/training/data/native-crops';

const STATS = {
  mean: [0.5, 0.25, 0.75] as [number, number, number],
  std: [0.5, 0.25, 0.2] as [number, number, number],
};

function recipe(size: number, extra: Partial<SampleRecipe> = {}): SampleRecipe {
  return {
    inputSize: { height: size, width: size },
    drawingClassToIdx: { bg: 0, a: 1 },
    fill: 0,
    preprocessing: STATS,
    ...extra,
  };
}

describe('sample preparation (spec E.5, G.2)', () => {
  it('resizes the mask by nearest neighbour to the input size and normalises the image per channel', () => {
    // A 4x4 mask with four 2x2 quadrants 0, 1, 2, 3; the image is already at the 2x2 input size.
    const mask = Uint8Array.from([0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3]);
    const rgb = Uint8Array.from([0, 0, 0, 255, 255, 255, 51, 102, 153, 10, 20, 30]);
    const s = prepareSample({
      rgb,
      mask,
      maskSize: { height: 4, width: 4 },
      recipe: recipe(2),
      flips: { horizontal: false, vertical: false },
    });
    expect(Array.from(s.y)).toEqual([0, 1, 2, 3]);
    expect(s.y).toBeInstanceOf(Int32Array);
    for (let i = 0; i < rgb.length; i += 1) {
      const c = i % 3;
      expect(s.x[i]).toBeCloseTo((rgb[i] / 255 - STATS.mean[c]) / STATS.std[c], 5);
    }
  });

  it('flips the image and the mask together, so every pixel keeps its label', () => {
    // 2x3 image whose red channel is the pixel's own label: after any flip, red must still equal the label.
    const labels = [0, 1, 2, 3, 4, 5];
    const rgb = Uint8Array.from(labels.flatMap((l) => [l * 10, 7, 9]));
    const mask = Int32Array.from(labels);
    const size = { height: 2, width: 3 };
    const base = { rgb, mask, maskSize: size, recipe: { ...recipe(2), inputSize: size } };
    const plain = prepareSample({ ...base, flips: { horizontal: false, vertical: false } });
    const both = prepareSample({ ...base, flips: { horizontal: true, vertical: true } });
    expect(Array.from(both.y)).toEqual([5, 4, 3, 2, 1, 0]);
    const red = (x: Float32Array, i: number): number =>
      Math.round((x[i * 3] * STATS.std[0] + STATS.mean[0]) * 255);
    for (let i = 0; i < 6; i += 1) {
      expect(red(both.x, i)).toBe(both.y[i] * 10);
      expect(red(plain.x, i)).toBe(plain.y[i] * 10);
    }
    const h = prepareSample({ ...base, flips: { horizontal: true, vertical: false } });
    expect(Array.from(h.y)).toEqual([2, 1, 0, 5, 4, 3]);
  });

  it('draws flips from (seed, epoch, index) only: the same triple gives the same flips, others vary', () => {
    const p = flipProbabilities({ flip_horizontal: true, flip_vertical: true });
    expect(p).toEqual({ horizontal: 0.5, vertical: 0.5 });
    const draws = Array.from({ length: 64 }, (_, index) => sampleFlips(p, { seed: 42, epoch: 3, index }));
    const again = Array.from({ length: 64 }, (_, index) => sampleFlips(p, { seed: 42, epoch: 3, index }));
    expect(again).toEqual(draws);
    const horizontal = draws.filter((f) => f.horizontal).length;
    expect(horizontal).toBeGreaterThan(10);
    expect(horizontal).toBeLessThan(54);
    const otherEpoch = Array.from({ length: 64 }, (_, index) =>
      sampleFlips(p, { seed: 42, epoch: 4, index }),
    );
    expect(otherEpoch).not.toEqual(draws);
    // Switched off: never a flip, whatever the seed.
    const off = flipProbabilities({ flip_horizontal: false, flip_vertical: false });
    for (let index = 0; index < 32; index += 1) {
      expect(sampleFlips(off, { seed: 1, epoch: 0, index })).toEqual({ horizontal: false, vertical: false });
    }
    expect(sampleFlips(undefined, { seed: 1, epoch: 0, index: 0 })).toEqual({
      horizontal: false,
      vertical: false,
    });
  });

  it('collates samples into one NHWC batch and refuses mixed sizes', () => {
    const one = prepareSample({
      rgb: new Uint8Array(12).fill(255),
      mask: Int32Array.from([1, 1, 1, 1]),
      maskSize: { height: 2, width: 2 },
      recipe: recipe(2),
      flips: { horizontal: false, vertical: false },
    });
    const two = { ...one, x: one.x.map((v) => -v), y: Int32Array.from([0, 0, 0, 0]) };
    const batch = collateSamples([one, two], 'image');
    expect(Object.keys(batch.inputs)).toEqual(['image']);
    expect(batch.labels.shape).toEqual([2, 2, 2]);
    expect(Array.from(batch.labels.data)).toEqual([1, 1, 1, 1, 0, 0, 0, 0]);
    const x = batch.inputs.image;
    expect(x.shape).toEqual([2, 2, 2, 3]);
    expect(x.data.length).toBe(24);
    expect(x.data[0]).toBeCloseTo(one.x[0]);
    expect(x.data[12]).toBeCloseTo(-one.x[0]);
    expect(() => collateSamples([one, { ...one, height: 3 }], 'image')).toThrow(/batch is 2x2/);
    expect(() => collateSamples([], 'image')).toThrow(RangeError);
  });
});

describe('loading one sample from a project (spec B, E.5)', () => {
  let dir: string;
  let synthetic: SyntheticProject;
  let project: ProjectListing;

  beforeAll(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'sample-test-'));
    synthetic = await generateSyntheticProject({
      dir,
      projectName: 'p',
      datasets: [{ name: 'ds', count: 6 }],
      width: 48,
      height: 32,
      neutral: true,
      seed: 11,
    });
    project = await readSingleProject(dir);
  });

  afterAll(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  const classes = () =>
    createSegmentationClasses({
      projectClasses: projectClassesJson(project),
      specialClasses: { background: 'bg', neutral: 'neutral' },
      weightsInitType: 'transfer_learning',
    });

  it('gives each object centre its class index, the neutral region the ignore index, and the image normalised', async () => {
    const c = classes();
    expect(c.ignoreIndex).toBe(4);
    const items = [...projectItems(project)];
    let neutralSeen = 0;
    for (const [i, item] of items.entries()) {
      const spec = synthetic.items[i];
      expect(spec.name).toBe(item.name);
      const s = await loadSample({
        project,
        item,
        recipe: {
          ...recipe(0),
          inputSize: { height: 32, width: 48 },
          drawingClassToIdx: c.drawingClassToIdx,
        },
        seed: { seed: 1, epoch: 0, index: i },
      });
      expect(s).toMatchObject({ height: 32, width: 48 });
      for (const object of spec.objects) {
        const [cx, cy] = object.center.map(Math.round);
        const value = s.y[cy * 48 + cx];
        if (object.figure === 'neutral') {
          neutralSeen += 1;
          expect(value).toBe(c.ignoreIndex);
        } else {
          expect(value).toBe(c.classTitleToIdx[object.classTitle]);
        }
      }
      const { data } = await sharp(item.imagePath).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      for (const k of [0, 1, 2, 1000, 4607]) {
        expect(s.x[k]).toBeCloseTo((data[k] / 255 - STATS.mean[k % 3]) / STATS.std[k % 3], 4);
      }
    }
    expect(neutralSeen).toBeGreaterThan(0);
  });

  it('resizes to a smaller input: image bilinear, ground truth nearest (only class indices appear)', async () => {
    const c = classes();
    const item = [...projectItems(project)][0];
    const s = await loadSample({
      project,
      item,
      recipe: { ...recipe(16), drawingClassToIdx: c.drawingClassToIdx },
      seed: { seed: 1, epoch: 0, index: 0 },
    });
    expect(s.x.length).toBe(16 * 16 * 3);
    const allowed = new Set([...Object.values(c.classTitleToIdx), c.ignoreIndex]);
    for (const v of s.y) expect(allowed.has(v)).toBe(true);
  });

  it('names the image and the item when the image is corrupted', async () => {
    const broken = await fsp.mkdtemp(path.join(os.tmpdir(), 'sample-broken-'));
    try {
      await generateSyntheticProject({
        dir: broken,
        projectName: 'p',
        datasets: [{ name: 'ds', count: 2 }],
        width: 32,
        height: 32,
        seed: 3,
      });
      const p = await readSingleProject(broken);
      const item = [...projectItems(p)][1];
      await fsp.writeFile(item.imagePath, Buffer.from('not an image at all'));
      const error = await loadSample({
        project: p,
        item,
        recipe: recipe(32, { drawingClassToIdx: { bg: 0, circle: 1, square: 2, triangle: 3 } }),
        seed: { seed: 1, epoch: 0, index: 1 },
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TaskError);
      const te = error as TaskError;
      expect(te.kind).toBe('data');
      expect(te.context.file).toBe(path.join('p', 'ds', 'img', item.name));
      expect(te.context.item).toBe(`ds/${item.name}`);
      expect(te.message).toContain(item.name);
    } finally {
      await fsp.rm(broken, { recursive: true, force: true });
    }
  });

  it('fails naming the object when a class has no index in the class map', async () => {
    const item = [...projectItems(project)][0];
    const error = await loadSample({
      project,
      item,
      recipe: recipe(32, { drawingClassToIdx: { bg: 0 } }),
      seed: { seed: 1, epoch: 0, index: 0 },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TaskError);
    expect((error as TaskError).context.file).toBe(path.join('p', 'ds', 'ann', `${item.name}.json`));
    expect((error as TaskError).context.field).toBe('classTitle');
  });

  it('native resolution: the validation grid at scale 1 reassembles into the whole image and its labels', async () => {
    const c = classes();
    const item = [...projectItems(project)][2];
    const base = { ...recipe(0), drawingClassToIdx: c.drawingClassToIdx, fill: c.ignoreIndex ?? 0 };
    const seed = { seed: 1, epoch: 0, index: 2 };
    const whole = await loadSample({
      project,
      item,
      recipe: { ...base, inputSize: { width: 48, height: 32 } },
      seed,
    });
    const tiles = await loadNativeSamples({
      project,
      item,
      recipe: { ...base, inputSize: { width: 16, height: 16 }, native: { scale: 1 } },
      seed,
    });
    expect(tiles).toHaveLength(6);
    const y = new Int32Array(48 * 32);
    const x = new Float32Array(48 * 32 * 3);
    tiles.forEach((t, k) => {
      const left = (k % 3) * 16;
      const top = Math.floor(k / 3) * 16;
      for (let r = 0; r < 16; r += 1) {
        y.set(t.y.subarray(r * 16, (r + 1) * 16), (top + r) * 48 + left);
        x.set(t.x.subarray(r * 48, (r + 1) * 48), ((top + r) * 48 + left) * 3);
      }
    });
    expect(Array.from(y)).toEqual(Array.from(whole.y));
    for (let k = 0; k < x.length; k += 97) expect(x[k]).toBeCloseTo(whole.x[k], 5);
  });

  it('native resolution: a training window at scale 1 is a crop of the labels, and a small image is padded', async () => {
    const c = classes();
    const item = [...projectItems(project)][3];
    const base = { ...recipe(0), drawingClassToIdx: c.drawingClassToIdx, fill: 0 };
    const whole = await loadSample({
      project,
      item,
      recipe: { ...base, inputSize: { width: 48, height: 32 } },
      seed: { seed: 1, epoch: 0, index: 3 },
    });
    const crops = new Set<string>();
    for (let epoch = 0; epoch < 6; epoch += 1) {
      const [w] = await loadNativeSamples({
        project,
        item,
        recipe: { ...base, inputSize: { width: 16, height: 16 }, native: { scale: 1, randomScale: [1, 1] } },
        seed: { seed: 1, epoch, index: 3 },
      });
      // Where the window came from: the offset whose image pixels it holds (the noise makes it unique); its
      // labels must be the whole mask's there.
      const fits: string[] = [];
      for (let top = 0; top <= 16; top += 1) {
        for (let left = 0; left <= 32; left += 1) {
          let ok = true;
          for (let r = 0; r < 16 && ok; r += 1) {
            for (let q = 0; q < 16 && ok; q += 1) {
              const k = (top + r) * 48 + left + q;
              ok = Math.abs(w.x[(r * 16 + q) * 3] - whole.x[k * 3]) < 1e-5 && w.y[r * 16 + q] === whole.y[k];
            }
          }
          if (ok) fits.push(`${left},${top}`);
        }
      }
      expect(fits).toHaveLength(1);
      crops.add(fits.join(' '));
    }
    expect(crops.size).toBeGreaterThan(1);
    // An input larger than the image: the image lands inside, the rest is padding nobody counts.
    const [big] = await loadNativeSamples({
      project,
      item,
      recipe: { ...base, inputSize: { width: 64, height: 64 }, native: { scale: 1, randomScale: [1, 1] } },
      seed: { seed: 1, epoch: 0, index: 3 },
    });
    expect(big.y.filter((v) => v === PAD_LABEL)).toHaveLength(64 * 64 - 48 * 32);
  });
});
