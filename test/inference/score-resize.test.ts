/**
 * The two-pass score resize (src/inference/score-resize.ts) must give exactly the numbers of stitch.ts
 * `resizeScores` (the reference, cv2 INTER_LINEAR pixel centres), for any sizes, up or down (spec G.3: scores are
 * resized back to the image).
 */
import fc from 'fast-check';
import { argmaxOfResized, resizeScores } from '../../src/inference/score-resize';
import { argmaxMask, scoreMap } from '../../src/inference/stitch';
import { referenceResizeScores } from './helpers/reference-resize';

/** Seeded scores; `levels` > 0 quantises them to that many values, so ties and equal neighbours are common. */
function randomMap(h: number, w: number, c: number, seed: number, levels = 0) {
  let s = seed >>> 0;
  const data = new Float32Array(h * w * c);
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 4294967296;
    data[i] = levels > 0 ? Math.floor(u * levels) / levels : u;
  }
  return scoreMap(h, w, c, data);
}

/** Smooth blobs: large areas of one class with borders between them, like a real network's output. */
function blobMap(h: number, w: number, c: number, seed: number) {
  const data = new Float32Array(h * w * c);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let sum = 0;
      for (let k = 0; k < c; k++) {
        const v = Math.exp(3 * Math.sin(0.11 * (k + 1) * y + 0.07 * (k + 2) * x + seed + k));
        data[(y * w + x) * c + k] = v;
        sum += v;
      }
      for (let k = 0; k < c; k++) data[(y * w + x) * c + k] /= sum;
    }
  }
  return scoreMap(h, w, c, data);
}

function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

describe('two-pass score resize (spec G.3)', () => {
  it('equals the reference resize bit for bit, upsampling and downsampling, any channel count', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 24 }),
        fc.integer({ min: 1, max: 24 }),
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer(),
        (h, w, H, W, c, seed) => {
          const src = randomMap(h, w, c, seed);
          const fast = resizeScores(src, { height: H, width: W });
          const ref = referenceResizeScores(src, { height: H, width: W });
          expect(fast.height).toBe(H);
          expect(fast.width).toBe(W);
          expect(fast.channels).toBe(c);
          expect(sameBytes(fast.data, ref.data)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('the network-to-image case: 128x128x4 to 640x480 exactly, and a copy at the same size', () => {
    const src = randomMap(128, 128, 4, 9);
    const fast = resizeScores(src, { height: 480, width: 640 });
    const ref = referenceResizeScores(src, { height: 480, width: 640 });
    expect(fast.data).toHaveLength(480 * 640 * 4);
    expect(sameBytes(fast.data, ref.data)).toBe(true);
    const same = resizeScores(src, { height: 128, width: 128 });
    expect(same.data).toEqual(src.data);
    expect(same.data).not.toBe(src.data);
  });
});

describe('argmax of the resized scores without the resized map (spec G.3, F.1)', () => {
  const sizes = [
    fc.integer({ min: 1, max: 20 }),
    fc.integer({ min: 1, max: 20 }),
    fc.integer({ min: 1, max: 50 }),
    fc.integer({ min: 1, max: 50 }),
    fc.integer({ min: 1, max: 5 }),
    fc.integer(),
  ] as const;

  it('equals argmaxMask(referenceResizeScores(...)) for continuous scores', () => {
    fc.assert(
      fc.property(...sizes, (h, w, H, W, c, seed) => {
        const src = randomMap(h, w, c, seed);
        const mask = argmaxOfResized(src, { height: H, width: W });
        expect(sameBytes(mask, argmaxMask(referenceResizeScores(src, { height: H, width: W })))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('equals it where scores tie (ties go to the lowest class, as numpy argmax)', () => {
    fc.assert(
      fc.property(...sizes, fc.integer({ min: 1, max: 4 }), (h, w, H, W, c, seed, levels) => {
        const src = randomMap(h, w, c, seed, levels);
        const mask = argmaxOfResized(src, { height: H, width: W });
        expect(sameBytes(mask, argmaxMask(referenceResizeScores(src, { height: H, width: W })))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('equals it where some scores are NaN or infinite', () => {
    const specials = [NaN, Infinity, -Infinity];
    fc.assert(
      fc.property(...sizes, (h, w, H, W, c, seed) => {
        const src = randomMap(h, w, c, seed, 3);
        for (let i = seed & 7; i < src.data.length; i += 9) src.data[i] = specials[i % 3];
        const mask = argmaxOfResized(src, { height: H, width: W });
        expect(sameBytes(mask, argmaxMask(referenceResizeScores(src, { height: H, width: W })))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('equals it for scores one float32 step apart', () => {
    fc.assert(
      fc.property(...sizes, (h, w, H, W, c, seed) => {
        const src = randomMap(h, w, c, seed, 2);
        // Nudge every value up by zero or one ulp: near ties everywhere.
        const bits = new Uint32Array(src.data.buffer);
        for (let i = 0; i < bits.length; i++) if (src.data[i] > 0) bits[i] += (i * 2654435761) >>> 31;
        const mask = argmaxOfResized(src, { height: H, width: W });
        expect(sameBytes(mask, argmaxMask(referenceResizeScores(src, { height: H, width: W })))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('equals it where rounding to float32 turns a one-step lead into a tie (mixed magnitudes)', () => {
    // Two source pixels both ranking class 1 first by one float32 step, at magnitudes 0.4 and 0.6: between
    // them the interpolated lead is smaller than a float32 step at 0.5, so some pixels round to a tie (class 0).
    const up = (v: number): number => {
      const f = new Float32Array([v]);
      new Uint32Array(f.buffer)[0] += 1;
      return f[0];
    };
    const a = Math.fround(0.4);
    const b = Math.fround(0.6);
    const src = scoreMap(1, 2, 2, new Float32Array([a, up(a), b, up(b)]));
    for (const W of [3, 5, 7, 64, 101, 1000]) {
      const ref = argmaxMask(referenceResizeScores(src, { height: 1, width: W }));
      expect(sameBytes(argmaxOfResized(src, { height: 1, width: W }), ref)).toBe(true);
    }
    expect(argmaxMask(referenceResizeScores(src, { height: 1, width: 1000 }))).toContain(0);
  });

  it('the network-to-image case on blob-like softmax scores: 128x128x4 to 640x480', () => {
    const src = blobMap(128, 128, 4, 2);
    const mask = argmaxOfResized(src, { height: 480, width: 640 });
    const ref = argmaxMask(referenceResizeScores(src, { height: 480, width: 640 }));
    expect(new Set(ref).size).toBe(4); // every class appears: there are borders to get right
    expect(sameBytes(mask, ref)).toBe(true);
  });

  it('calls in turn do not leak into each other (it keeps a scratch buffer between calls)', () => {
    // A large map, then a small one whose scratch is a prefix of the large one's, then the large one again.
    const large = blobMap(64, 64, 4, 5);
    const small = blobMap(8, 8, 4, 9);
    const expectedLarge = argmaxMask(referenceResizeScores(large, { height: 150, width: 170 }));
    const expectedSmall = argmaxMask(referenceResizeScores(small, { height: 30, width: 20 }));
    const first = argmaxOfResized(large, { height: 150, width: 170 });
    const second = argmaxOfResized(small, { height: 30, width: 20 });
    const third = argmaxOfResized(large, { height: 150, width: 170 });
    expect(sameBytes(first, expectedLarge)).toBe(true);
    expect(sameBytes(second, expectedSmall)).toBe(true);
    expect(sameBytes(third, expectedLarge)).toBe(true);
    // Each result is its own array: a later call does not change an earlier mask.
    expect(first).not.toBe(third);
  });

  it('writes into a mask given for reuse when it fits, overwriting all of it; else makes a new one', () => {
    const src = blobMap(32, 32, 4, 3);
    const size = { height: 70, width: 90 };
    const expected = argmaxMask(referenceResizeScores(src, size));
    const spare = new Uint8Array(70 * 90).fill(200); // stale values from an earlier image
    const reused = argmaxOfResized(src, size, spare);
    expect(reused).toBe(spare);
    expect(sameBytes(reused, expected)).toBe(true);
    for (const unfit of [new Uint8Array(70 * 90 - 1), new Int32Array(70 * 90)]) {
      const made = argmaxOfResized(src, size, unfit);
      expect(made).not.toBe(unfit);
      expect(sameBytes(made, expected)).toBe(true);
    }
  });
});
