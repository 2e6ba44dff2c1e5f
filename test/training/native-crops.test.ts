import fc from 'fast-check';
import {
  colourJitter,
  gridAxisPlacements,
  gridPlacements,
  PAD_LABEL,
  randomAxisPlacement,
  randomPlacement,
} from '../../src/training/data/native-crops';
import { placeSample, type SampleRecipe } from '../../src/training/data/sample';
import { prepareLabels } from '../../src/training/engine/batch';
import { mulberry32 } from '../../src/util/random';

const STATS = { mean: [0, 0, 0] as [number, number, number], std: [1, 1, 1] as [number, number, number] };

function recipe(width: number, height: number): SampleRecipe {
  return { inputSize: { width, height }, drawingClassToIdx: { bg: 0 }, fill: 0, preprocessing: STATS };
}

describe('native-resolution windows (issue #17)', () => {
  it('the validation grid covers every image pixel exactly once, at any scale', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 700 }),
        fc.integer({ min: 8, max: 256 }),
        fc.double({ min: 0.1, max: 4, noNaN: true }),
        (image, input, scale) => {
          const cover = new Uint8Array(image);
          for (const p of gridAxisPlacements(image, input, scale)) {
            expect(p.dstStart).toBe(0);
            expect(p.dstLength).toBeGreaterThanOrEqual(1);
            expect(p.dstLength).toBeLessThanOrEqual(input);
            for (let i = p.srcStart; i < p.srcStart + p.srcLength; i += 1) cover[i] += 1;
          }
          expect(cover.every((c) => c === 1)).toBe(true);
        },
      ),
    );
  });

  it('at scale 1 the grid is windows of the input size, the last one padded', () => {
    expect(gridAxisPlacements(300, 128, 1)).toEqual([
      { srcStart: 0, srcLength: 128, dstStart: 0, dstLength: 128 },
      { srcStart: 128, srcLength: 128, dstStart: 0, dstLength: 128 },
      { srcStart: 256, srcLength: 44, dstStart: 0, dstLength: 44 },
    ]);
    // Half scale: 256 image pixels per 128-pixel input.
    expect(gridAxisPlacements(300, 128, 0.5)).toEqual([
      { srcStart: 0, srcLength: 256, dstStart: 0, dstLength: 128 },
      { srcStart: 256, srcLength: 44, dstStart: 0, dstLength: 22 },
    ]);
    expect(gridPlacements({ width: 300, height: 100 }, { width: 128, height: 128 }, 1)).toHaveLength(3);
  });

  it('a random window stays inside the image and fills the input, or holds the whole (padded) axis', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 900 }),
        fc.integer({ min: 8, max: 256 }),
        fc.double({ min: 0.1, max: 4, noNaN: true }),
        fc.integer(),
        (image, input, scale, seed) => {
          const p = randomAxisPlacement(mulberry32(seed), image, input, scale);
          expect(p.srcStart).toBeGreaterThanOrEqual(0);
          expect(p.srcStart + p.srcLength).toBeLessThanOrEqual(image);
          expect(p.dstStart + p.dstLength).toBeLessThanOrEqual(input);
          if (p.dstLength < input) expect(p.srcLength).toBe(image);
          else expect(Math.abs(p.srcLength - Math.min(image, input / scale))).toBeLessThanOrEqual(1);
        },
      ),
    );
  });

  it('random scales are drawn log-uniformly within the range, and the same seed gives the same window', () => {
    const image = { width: 4000, height: 4000 };
    const input = { width: 100, height: 100 };
    const lengths: number[] = [];
    for (let s = 0; s < 400; s += 1) {
      const a = randomPlacement({ rand: mulberry32(s), image, input, scale: 1, randomScale: [0.5, 2] });
      const b = randomPlacement({ rand: mulberry32(s), image, input, scale: 1, randomScale: [0.5, 2] });
      expect(a).toEqual(b);
      expect(a.x.srcLength).toBe(a.y.srcLength);
      lengths.push(a.x.srcLength);
    }
    expect(Math.min(...lengths)).toBeGreaterThanOrEqual(50);
    expect(Math.max(...lengths)).toBeLessThanOrEqual(200);
    // Log-uniform: as many windows below the native size as above it (within sampling noise).
    const below = lengths.filter((l) => l < 100).length;
    expect(below).toBeGreaterThan(160);
    expect(below).toBeLessThan(240);
  });

  it('placeSample puts the crop at its place, pads with zeros and PAD_LABEL, and the engines count no padding', () => {
    // A 3x2 image region (src) resized to 3x2 (dst) placed at (1, 1) of a 5x4 input.
    const mask = Int32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]); // 4x3 mask
    const placement = {
      x: { srcStart: 1, srcLength: 3, dstStart: 1, dstLength: 3 },
      y: { srcStart: 1, srcLength: 2, dstStart: 1, dstLength: 2 },
    };
    const rgb = Uint8Array.from({ length: 3 * 2 * 3 }, (_, i) => i + 1);
    const s = placeSample({
      rgb,
      mask,
      maskSize: { width: 4, height: 3 },
      placement,
      recipe: recipe(5, 4),
      flips: { horizontal: false, vertical: false },
    });
    const P = PAD_LABEL;
    expect(Array.from(s.y)).toEqual([P, P, P, P, P, P, 6, 7, 8, P, P, 10, 11, 12, P, P, P, P, P, P]);
    expect(s.x[(1 * 5 + 1) * 3]).toBeCloseTo(1 / 255, 6);
    expect(s.x[0]).toBe(0);
    const prepared = prepareLabels(s.y, { numClasses: 13, ignoreIndex: null });
    expect(prepared.count).toBe(6);
  });

  it('colour jitter keeps bytes in range, changes the image when on, and draws the same numbers when off', () => {
    const rgb = Uint8Array.from({ length: 300 }, (_, i) => (i * 37) % 256);
    const jittered = rgb.slice();
    colourJitter(jittered, mulberry32(3), 0.5);
    expect(jittered).not.toEqual(rgb);
    const off = rgb.slice();
    const a = mulberry32(9);
    colourJitter(off, a, 0);
    expect(off).toEqual(rgb);
    const b = mulberry32(9);
    b();
    b();
    b();
    expect(a()).toBe(b());
  });
});
