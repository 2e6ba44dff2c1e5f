import fc from 'fast-check';
import { slidingWindows } from '../../src/inference/modes/sliding-window';
import type { Rect } from '../../src/inference/rect';
import {
  argmaxMask,
  featherProfile,
  scoreMap,
  ScoreStitcher,
  type ScoreMap,
} from '../../src/inference/stitch';
import { resizeScores } from '../../src/inference/score-resize';

/** A fake model: window k scores class 0 with p(k), class 1 with 1 - p(k), uniformly over the window. */
function constantWindowScores(win: Rect, p: number): ScoreMap {
  const h = win.bottom - win.top + 1;
  const w = win.right - win.left + 1;
  const m = scoreMap(h, w, 2);
  for (let i = 0; i < h * w; i++) {
    m.data[i * 2] = p;
    m.data[i * 2 + 1] = 1 - p;
  }
  return m;
}

/** Largest change of channel 0 between horizontally adjacent pixels. */
function maxHorizontalStep(m: ScoreMap): number {
  let max = 0;
  for (let y = 0; y < m.height; y++) {
    for (let x = 1; x < m.width; x++) {
      const a = m.data[(y * m.width + x - 1) * m.channels];
      const b = m.data[(y * m.width + x) * m.channels];
      max = Math.max(max, Math.abs(a - b));
    }
  }
  return max;
}

function stitch(
  blending: 'sum' | 'feather',
  size: { height: number; width: number },
  windows: Rect[],
  p: (k: number) => number,
): ScoreMap {
  const s = new ScoreStitcher({ size, channels: 2, blending });
  windows.forEach((w, k) => s.add(w, constantWindowScores(w, p(k))));
  return s.result();
}

describe('score stitching (spec F.3 sliding_window)', () => {
  const size = { height: 4, width: 40 };
  const windows = slidingWindows({
    image: size,
    window: { width: 16, height: 4 },
    minOverlap: { x: 8, y: 0 },
  });
  const alternating = (k: number): number => (k % 2 === 0 ? 0.9 : 0.1);

  it('sum: the per-pixel mean over the windows that cover it (the SDK summed_scores / summed_divisor)', () => {
    const rnd = fc.sample(fc.float({ min: 0, max: 1, noNaN: true }), windows.length * 64 * 2);
    const s = new ScoreStitcher({ size, channels: 2, blending: 'sum' });
    const sums = new Float64Array(size.height * size.width * 2);
    const counts = new Float64Array(size.height * size.width);
    let r = 0;
    for (const w of windows) {
      const m = scoreMap(4, 16, 2);
      for (let i = 0; i < m.data.length; i++) m.data[i] = rnd[r++];
      s.add(w, m);
      for (let y = 0; y < 4; y++) {
        for (let x = 0; x < 16; x++) {
          const pix = (w.top + y) * size.width + w.left + x;
          counts[pix] += 1;
          for (let c = 0; c < 2; c++) sums[pix * 2 + c] += m.data[(y * 16 + x) * 2 + c];
        }
      }
    }
    const out = s.result();
    for (let i = 0; i < out.data.length; i++) expect(out.data[i]).toBeCloseTo(sums[i] / counts[i >> 1], 5);
  });

  it('sum leaves a seam at window borders when windows disagree', () => {
    const out = stitch('sum', size, windows, alternating);
    // At x = 8 the pixel goes from one window (0.9) to the mean of two (0.5).
    expect(maxHorizontalStep(out)).toBeGreaterThanOrEqual(0.4 - 1e-6);
  });

  it('feather turns the same seam into a ramp across the overlap', () => {
    const sum = stitch('sum', size, windows, alternating);
    const feather = stitch('feather', size, windows, alternating);
    const step = maxHorizontalStep(feather);
    // The windows differ by 0.8; spread over an 8-pixel overlap no step may exceed a quarter of that.
    expect(step).toBeLessThan(0.8 / 4);
    expect(step).toBeLessThan(maxHorizontalStep(sum) / 2);
    // The blend still moves between the window values, it does not flatten them.
    const ch0 = Array.from({ length: size.width }, (_, x) => feather.data[x * 2]);
    expect(Math.max(...ch0)).toBeGreaterThan(0.8);
    expect(Math.min(...ch0)).toBeLessThan(0.2);
  });

  it('both blendings keep scores that all windows agree on, and keep a single window exact', () => {
    for (const blending of ['sum', 'feather'] as const) {
      const same = stitch(blending, size, windows, () => 0.3);
      for (let i = 0; i < same.data.length; i += 2) expect(same.data[i]).toBeCloseTo(0.3, 6);
      // Pixels 0..7 are in window 0 only.
      const alt = stitch(blending, size, windows, alternating);
      expect(alt.data[0]).toBeCloseTo(0.9, 6);
      expect(alt.data[7 * 2]).toBeCloseTo(0.9, 6);
    }
  });

  it('feather weights fall off toward the edges and are never zero', () => {
    const p = featherProfile(7);
    expect(Array.from(p)).toEqual([1, 2, 3, 4, 3, 2, 1].map((v) => v / 4));
    for (const n of [1, 2, 3, 16]) expect(Math.min(...featherProfile(n))).toBeGreaterThan(0);
  });

  it('a pixel no window covers is an implementation error, not a silent zero', () => {
    const s = new ScoreStitcher({ size: { height: 2, width: 4 }, channels: 2, blending: 'sum' });
    s.add(
      { top: 0, left: 0, bottom: 1, right: 1 },
      constantWindowScores({ top: 0, left: 0, bottom: 1, right: 1 }, 0.5),
    );
    expect(() => s.result()).toThrow(/Wrong sliding window moving.*row 0, column 2/);
  });

  it('rejects windows of the wrong size or outside the image', () => {
    const s = new ScoreStitcher({ size: { height: 4, width: 4 }, channels: 2, blending: 'feather' });
    const win = { top: 0, left: 0, bottom: 1, right: 1 };
    expect(() => s.add(win, scoreMap(3, 2, 2))).toThrow(/expected 2x2x2/);
    expect(() => s.add({ top: 3, left: 3, bottom: 4, right: 4 }, scoreMap(2, 2, 2))).toThrow(/outside/);
    // result() normalises its own buffer in place, so the stitcher is finished afterwards.
    const whole = { top: 0, left: 0, bottom: 3, right: 3 };
    s.add(whole, constantWindowScores(whole, 0.5));
    expect(s.result().data[0]).toBeCloseTo(0.5, 6);
    expect(() => s.result()).toThrow(/already/);
    expect(() => s.add(whole, constantWindowScores(whole, 0.5))).toThrow(/after result/);
  });
});

describe('resizing scores back to a crop (bilinear, cv2 pixel centres)', () => {
  it('upsamples 1x2 -> 1x4 as cv2.resize INTER_LINEAR', () => {
    const out = resizeScores(scoreMap(1, 2, 1, Float32Array.from([0, 1])), { height: 1, width: 4 });
    expect(Array.from(out.data)).toEqual([0, 0.25, 0.75, 1]);
  });

  it('downsamples 2x -> the mean of each pixel pair', () => {
    const out = resizeScores(scoreMap(1, 4, 1, Float32Array.from([0, 2, 4, 8])), { height: 1, width: 2 });
    expect(Array.from(out.data)).toEqual([1, 6]);
  });

  it('returns a copy at the same size', () => {
    const src = scoreMap(1, 2, 1, Float32Array.from([3, 4]));
    const out = resizeScores(src, { height: 1, width: 2 });
    expect(out.data).toEqual(src.data);
    expect(out.data).not.toBe(src.data);
  });

  it('keeps per-pixel probabilities summing to 1 and inside [0, 1]', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 13 }),
        fc.integer({ min: 1, max: 13 }),
        fc.array(fc.float({ min: 0, max: 1, noNaN: true }), { minLength: 6 * 6, maxLength: 6 * 6 }),
        (h, w, H, W, raw) => {
          const src = scoreMap(h, w, 2);
          for (let i = 0; i < h * w; i++) {
            src.data[i * 2] = raw[i];
            src.data[i * 2 + 1] = 1 - raw[i];
          }
          const out = resizeScores(src, { height: H, width: W });
          let worstSum = 0;
          let lowest = Infinity;
          let highest = -Infinity;
          for (let i = 0; i < H * W; i++) {
            const a = out.data[i * 2];
            worstSum = Math.max(worstSum, Math.abs(a + out.data[i * 2 + 1] - 1));
            lowest = Math.min(lowest, a);
            highest = Math.max(highest, a);
          }
          expect(worstSum).toBeLessThan(1e-5);
          expect(lowest).toBeGreaterThanOrEqual(-1e-6);
          expect(highest).toBeLessThanOrEqual(1 + 1e-6);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('argmax of score maps', () => {
  it('takes the highest channel per pixel; ties go to the lowest index (numpy argmax)', () => {
    const m = scoreMap(1, 3, 3, Float32Array.from([0.1, 0.7, 0.2, 0.5, 0.5, 0, 0.2, 0.2, 0.6]));
    const mask = argmaxMask(m);
    expect(mask).toBeInstanceOf(Uint8Array);
    expect(Array.from(mask)).toEqual([1, 0, 2]);
  });

  it('uses Int32Array beyond 256 classes', () => {
    const m = scoreMap(1, 1, 300);
    m.data[299] = 1;
    const mask = argmaxMask(m);
    expect(mask).toBeInstanceOf(Int32Array);
    expect(mask[0]).toBe(299);
  });
});
