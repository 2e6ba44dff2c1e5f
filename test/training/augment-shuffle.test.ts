import fc from 'fast-check';
import type { Raster } from '../../src/training/augment';
import { applyFlips, augmentPair, drawFlips, flipHorizontal, flipVertical } from '../../src/training/augment';
import { mixSeed, mulberry32, randomInt } from '../../src/util/random';
import { epochOrder, shuffled } from '../../src/training/shuffle';

/** 2 rows x 3 columns x 2 channels; value = 10 * pixel index + channel. */
function sample(): Raster<Uint8Array> {
  const data = new Uint8Array(12);
  for (let p = 0; p < 6; p += 1) for (let c = 0; c < 2; c += 1) data[p * 2 + c] = p * 10 + c;
  return { data, height: 2, width: 3, channels: 2 };
}

const rasterArb = fc
  .record({
    h: fc.integer({ min: 1, max: 5 }),
    w: fc.integer({ min: 1, max: 5 }),
    c: fc.integer({ min: 1, max: 3 }),
  })
  .chain(({ h, w, c }) =>
    fc
      .float32Array({ minLength: h * w * c, maxLength: h * w * c, noNaN: true })
      .map((data): Raster<Float32Array> => ({ data, height: h, width: w, channels: c })),
  );

describe('flips', () => {
  it('mirror columns or rows of a hand-worked 2x3x2 example, keeping channels together', () => {
    expect([...flipHorizontal(sample()).data]).toEqual([20, 21, 10, 11, 0, 1, 50, 51, 40, 41, 30, 31]);
    expect([...flipVertical(sample()).data]).toEqual([30, 31, 40, 41, 50, 51, 0, 1, 10, 11, 20, 21]);
    const both = applyFlips(sample(), { horizontal: true, vertical: true });
    expect([...both.data]).toEqual([50, 51, 40, 41, 30, 31, 20, 21, 10, 11, 0, 1]);
  });

  it('are their own inverses, keep the array type and leave the input untouched', () => {
    fc.assert(
      fc.property(rasterArb, (r) => {
        const before = r.data.slice();
        const h = flipHorizontal(r);
        const v = flipVertical(r);
        expect(h.data).toBeInstanceOf(Float32Array);
        expect(flipHorizontal(h).data).toEqual(before);
        expect(flipVertical(v).data).toEqual(before);
        expect(r.data).toEqual(before);
      }),
    );
  });

  it('without flips returns a copy, not the same array', () => {
    const r = sample();
    const out = applyFlips(r, { horizontal: false, vertical: false });
    expect(out.data).toEqual(r.data);
    expect(out.data).not.toBe(r.data);
  });

  it('move an image and its mask together, so each pixel keeps its label', () => {
    // Image channel 0 and the mask both hold the pixel index: after any flips they must still agree.
    const h = 4;
    const w = 5;
    const image = new Float32Array(h * w * 3);
    const mask = new Int32Array(h * w);
    for (let p = 0; p < h * w; p += 1) {
      image[p * 3] = p;
      image[p * 3 + 1] = -p;
      mask[p] = p;
    }
    const rand = mulberry32(5);
    const seen = new Set<string>();
    for (let k = 0; k < 40; k += 1) {
      const out = augmentPair({
        image: { data: image, height: h, width: w, channels: 3 },
        mask: { data: mask, height: h, width: w, channels: 1 },
        flips: { horizontal: 0.5, vertical: 0.5 },
        rand,
      });
      seen.add(`${out.flips.horizontal}${out.flips.vertical}`);
      expect(out.mask.data).toBeInstanceOf(Int32Array);
      for (let p = 0; p < h * w; p += 1) expect(out.image.data[p * 3]).toBe(out.mask.data[p]);
      const flipped = out.flips.horizontal || out.flips.vertical;
      expect(out.mask.data[0] !== 0).toBe(flipped);
    }
    expect(seen.size).toBe(4);
  });

  it('draws flips with the given probabilities, reproducibly from a seed', () => {
    expect(drawFlips(mulberry32(1), { horizontal: 0, vertical: 1 })).toEqual({
      horizontal: false,
      vertical: true,
    });
    const rate = (seed: number) => {
      const rand = mulberry32(seed);
      let n = 0;
      for (let k = 0; k < 2000; k += 1)
        if (drawFlips(rand, { horizontal: 0.3, vertical: 0 }).horizontal) n += 1;
      return n / 2000;
    };
    expect(rate(9)).toBeGreaterThan(0.26);
    expect(rate(9)).toBeLessThan(0.34);
    expect(rate(9)).toBe(rate(9));
    expect(() => drawFlips(mulberry32(1), { horizontal: 1.5, vertical: 0 })).toThrow(/\[0, 1\]/);
  });

  it('rejects an image and mask of different sizes, and data of the wrong length', () => {
    const rand = mulberry32(1);
    const image = { data: new Uint8Array(12), height: 2, width: 2, channels: 3 };
    expect(() =>
      augmentPair({
        image,
        mask: { data: new Uint8Array(6), height: 2, width: 3, channels: 1 },
        flips: { horizontal: 1, vertical: 1 },
        rand,
      }),
    ).toThrow(/2x2 but mask is 2x3/);
    expect(() => flipVertical({ data: new Uint8Array(5), height: 2, width: 2, channels: 1 })).toThrow(
      /5 values for 2x2x1/,
    );
  });
});

describe('seeded randomness and shuffles', () => {
  it('mulberry32 repeats for a seed, differs between seeds, and stays in [0, 1)', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const c = mulberry32(43);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(xs);
    expect(Array.from({ length: 1000 }, () => c())).not.toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.05);
  });

  it('mixSeed separates streams that a plain sum would merge', () => {
    expect(mixSeed(7, 1)).not.toBe(mixSeed(8, 0));
    expect(mixSeed(7, 1)).toBe(mixSeed(7, 1));
    const ints = Array.from({ length: 500 }, (_, i) => randomInt(mulberry32(mixSeed(3, i)), 0, 9));
    expect(new Set(ints).size).toBe(10);
  });

  it('shuffled is a permutation, leaves its input alone, and repeats for a seed', () => {
    fc.assert(
      fc.property(fc.array(fc.integer()), fc.integer(), (items, seed) => {
        const copy = items.slice();
        const out = shuffled(items, mulberry32(seed));
        expect(items).toEqual(copy);
        expect([...out].sort((x, y) => x - y)).toEqual([...items].sort((x, y) => x - y));
        expect(shuffled(items, mulberry32(seed))).toEqual(out);
      }),
    );
  });

  it('epochOrder gives a different permutation per epoch, the same for the same seed and epoch', () => {
    const e0 = epochOrder({ count: 50, seed: 1, epoch: 0 });
    const e1 = epochOrder({ count: 50, seed: 1, epoch: 1 });
    expect([...e0].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(e1).not.toEqual(e0);
    expect(epochOrder({ count: 50, seed: 1, epoch: 1 })).toEqual(e1);
    expect(epochOrder({ count: 50, seed: 2, epoch: 0 })).not.toEqual(e0);
    expect(epochOrder({ count: 0, seed: 1, epoch: 0 })).toEqual([]);
    expect(() => epochOrder({ count: -1, seed: 1, epoch: 0 })).toThrow(/natural/);
  });

  it('shuffles every position: over many epochs each item visits each slot', () => {
    const slots = new Set<string>();
    for (let epoch = 0; epoch < 200; epoch += 1) {
      epochOrder({ count: 4, seed: 3, epoch }).forEach((item, slot) => slots.add(`${item}@${slot}`));
    }
    expect(slots.size).toBe(16);
  });
});
