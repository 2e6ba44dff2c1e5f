/**
 * The click protocol's pieces against brute force and hand-made cases: the exact distance transform, the next
 * click (RITM's rule), disks, IoU, NoC and the click series, with a fake network.
 */
import fc from 'fast-check';
import {
  clicksToReach,
  keepClickedComponents,
  distanceToOutside,
  drawClickDisks,
  nextClick,
  scaleClick,
  type Grid,
} from '../../../src/tasks/click-segmentation/clicks';
import { CLICK_INPUT_CHANNELS, encodeClickInput } from '../../../src/tasks/click-segmentation/encode';
import {
  clickMetrics,
  clickSeries,
  iouAfter,
  objectMask,
} from '../../../src/tasks/click-segmentation/series';
import {
  firstClick,
  morph,
  perturbMask,
  simulateClicks,
} from '../../../src/tasks/click-segmentation/simulate';
import { maskIou } from '../../../src/training/metrics';
import { mulberry32 } from '../../../src/util/random';

/** Distance to the nearest outside pixel by brute force (the border beyond the image counts as outside). */
function bruteDistance(region: Uint8Array, grid: Grid, borderOutside: boolean): number[] {
  const { width: W, height: H } = grid;
  const out: number[] = [];
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      if (region[y * W + x] === 0) {
        out.push(0);
        continue;
      }
      let best = Infinity;
      for (let v = -1; v <= H; v++) {
        for (let u = -1; u <= W; u++) {
          const beyond = u < 0 || v < 0 || u >= W || v >= H;
          const outside = beyond ? borderOutside : region[v * W + u] === 0;
          if (outside) best = Math.min(best, Math.hypot(u - x, v - y));
        }
      }
      out.push(best);
    }
  }
  return out;
}

const gridArb = fc.record({ height: fc.integer({ min: 1, max: 9 }), width: fc.integer({ min: 1, max: 9 }) });
const maskArb = gridArb.chain((grid) =>
  fc
    .array(fc.integer({ min: 0, max: 1 }), {
      minLength: grid.height * grid.width,
      maxLength: grid.height * grid.width,
    })
    .map((bits) => ({ grid, mask: Uint8Array.from(bits) })),
);

function disk(grid: Grid, cx: number, cy: number, r: number): Uint8Array {
  const m = new Uint8Array(grid.height * grid.width);
  for (let y = 0; y < grid.height; y++)
    for (let x = 0; x < grid.width; x++)
      if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) m[y * grid.width + x] = 1;
  return m;
}

describe('distanceToOutside', () => {
  it('is the exact Euclidean distance, with the border outside or inside', () => {
    fc.assert(
      fc.property(maskArb, ({ grid, mask }) => {
        const got = Array.from(distanceToOutside(mask, grid));
        bruteDistance(mask, grid, true).forEach((d, i) => expect(got[i]).toBeCloseTo(d, 4));
        const inside = Array.from(distanceToOutside(mask, grid, 'inside'));
        const brute = bruteDistance(mask, grid, false);
        // With nothing outside at all, every distance is infinite: compare only finite ones.
        brute.forEach((d, i) =>
          Number.isFinite(d) ? expect(inside[i]).toBeCloseTo(d, 4) : expect(inside[i]).toBeGreaterThan(1e6),
        );
      }),
      { numRuns: 150 },
    );
  });
});

describe('nextClick (the simulated user)', () => {
  const grid = { height: 20, width: 30 };

  it('puts the first click at the object centre, positive', () => {
    const gt = disk(grid, 12, 9, 5);
    expect(nextClick(gt, new Uint8Array(gt.length), grid)).toEqual({ x: 12, y: 9, positive: true });
  });

  it('goes to the larger error region: negative in a larger false positive, positive in a larger miss', () => {
    const gt = disk(grid, 10, 10, 6);
    const spill = Uint8Array.from(gt);
    for (const [i, v] of disk(grid, 24, 10, 4).entries()) if (v) spill[i] = 1; // a false-positive blob
    const fpClick = nextClick(gt, spill, grid);
    expect(fpClick).toEqual({ x: 24, y: 10, positive: false });
    const missing = Uint8Array.from(gt);
    for (const [i, v] of disk(grid, 10, 10, 3).entries()) if (v) missing[i] = 0; // a hole in the middle
    expect(nextClick(gt, missing, grid)).toEqual({ x: 10, y: 10, positive: true });
  });

  it('is null when the prediction is exact', () => {
    const gt = disk(grid, 10, 10, 6);
    expect(nextClick(gt, Uint8Array.from(gt), grid)).toBeNull();
  });
});

describe('clicks in the network input', () => {
  it('draws disks of the radius in the positive and negative channels only', () => {
    const grid = { height: 11, width: 11 };
    const out = new Float32Array(grid.height * grid.width * 6);
    drawClickDisks({
      clicks: [
        { x: 5, y: 5, positive: true },
        { x: 0, y: 0, positive: false },
      ],
      grid,
      radius: 2,
      out,
      stride: 6,
      positiveChannel: 3,
      negativeChannel: 4,
    });
    const channel = (c: number): number => out.filter((_, i) => i % 6 === c).reduce((a, b) => a + b, 0);
    expect(channel(3)).toBe(13); // the 13 lattice points within distance 2
    expect(channel(4)).toBe(6); // the quarter of that disk inside the image
    for (const c of [0, 1, 2, 5]) expect(channel(c)).toBe(0);
  });

  it('encodes image, clicks and previous mask as six channels per pixel', () => {
    const grid = { height: 2, width: 2 };
    const x = encodeClickInput({
      rgb: Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]),
      grid,
      preprocessing: { mean: [0, 0, 0], std: [1, 1, 1] },
      clicks: [{ x: 1, y: 0, positive: true }],
      previous: Uint8Array.from([0, 0, 1, 0]),
      encoding: { radius: 0.5 },
    });
    expect(x.length).toBe(4 * CLICK_INPUT_CHANNELS);
    expect(Array.from(x.subarray(0, 6))).toEqual([1, 0, 0, 0, 0, 0]);
    expect(Array.from(x.subarray(6, 12))).toEqual([0, 1, 0, 1, 0, 0]);
    expect(Array.from(x.subarray(12, 18))).toEqual([0, 0, 1, 0, 0, 1]);
  });

  it('scales clicks between grids with pixel centres aligned', () => {
    expect(
      scaleClick({ x: 0, y: 0, positive: true }, { height: 10, width: 10 }, { height: 5, width: 5 }),
    ).toEqual({
      x: 0,
      y: 0,
      positive: true,
    });
    expect(
      scaleClick({ x: 9, y: 4, positive: false }, { height: 10, width: 10 }, { height: 20, width: 20 }),
    ).toEqual({ x: 19, y: 9, positive: false });
  });
});

describe('IoU and NoC', () => {
  it('IoU of masks', () => {
    expect(maskIou(Uint8Array.from([1, 1, 0, 0]), Uint8Array.from([1, 0, 1, 0]))).toBeCloseTo(1 / 3);
    expect(maskIou(new Uint8Array(4), new Uint8Array(4))).toBe(1);
  });

  it('counts clicks to a threshold as RITM does, the failures at the click budget', () => {
    expect(clicksToReach([0.5, 0.86, 0.91], 0.85)).toBe(2);
    expect(clicksToReach([0.5, 0.6], 0.85)).toBeNull();
    const m = clickMetrics([[0.9], [0.5, 0.7, 0.86, 0.88, 0.92], [0.1, 0.2]], 20);
    expect(m.noc['85']).toBeCloseTo((1 + 3 + 20) / 3);
    expect(m.noc['90']).toBeCloseTo((1 + 5 + 20) / 3);
    expect(m.failed['85']).toBeCloseTo(1 / 3);
    expect(m.iouAt['1']).toBeCloseTo((0.9 + 0.5 + 0.1) / 3);
    expect(m.iouAt['3']).toBeCloseTo((0.9 + 0.86 + 0.2) / 3); // short series keep their last value
    expect(iouAfter([0.4, 0.6], 5)).toBe(0.6);
  });
});

describe('clickSeries with a fake network', () => {
  const grid = { height: 16, width: 16 };
  const gt = disk(grid, 8, 8, 5);

  /** A "network" that segments exactly the positive disks minus the negative ones, ignoring the image. */
  const clickEcho = async (x: Float32Array, n: number): Promise<Float32Array> => {
    const pixels = grid.height * grid.width;
    const out = new Float32Array(n * pixels * 2);
    for (let i = 0; i < n * pixels; i++) {
      const on = x[i * 6 + 3] > 0 && x[i * 6 + 4] === 0;
      out[i * 2] = on ? 0 : 1;
      out[i * 2 + 1] = on ? 1 : 0;
    }
    return out;
  };

  it('clicks where the errors are and feeds back the prediction, until the mask is exact', async () => {
    // One-pixel clicks: each click turns exactly one missed pixel on, so IoU rises by one pixel per click.
    const small = disk(grid, 8, 8, 2);
    const area = small.reduce((a, v) => a + v, 0);
    const x = new Float32Array(grid.height * grid.width * 6);
    const [series] = await clickSeries({
      run: clickEcho,
      x,
      gts: [small],
      grid,
      encoding: { radius: 0.5 },
      maxClicks: 20,
    });
    // It stops at the first click (from the fifth on) that reaches IoU 0.9, before the mask is exact.
    const stop = Math.ceil(0.9 * area);
    expect(stop).toBeLessThan(area);
    expect(series).toEqual(Array.from({ length: stop }, (_, k) => (k + 1) / area));
  });

  it('stops at the click budget', async () => {
    const x = new Float32Array(2 * grid.height * grid.width * 6);
    const big = disk(grid, 8, 8, 6);
    const [budget, early] = await clickSeries({
      run: clickEcho,
      x,
      gts: [big, gt],
      grid,
      encoding: { radius: 0.5 },
      maxClicks: 4,
    });
    expect(budget).toHaveLength(4);
    expect(early).toHaveLength(4);
  });

  it('gives the object mask of two-channel scores', () => {
    expect(Array.from(objectMask(Float32Array.from([0.9, 0.1, 0.2, 0.8]), 0, 2))).toEqual([0, 1]);
  });
});

describe('training clicks', () => {
  const grid = { height: 40, width: 40 };
  const gt = disk(grid, 20, 20, 9);

  it('are a function of the random stream, inside the grid, with at least one positive click', () => {
    for (let seed = 0; seed < 30; seed++) {
      const a = simulateClicks(gt, grid, mulberry32(seed));
      const b = simulateClicks(gt, grid, mulberry32(seed));
      expect(a).toEqual(b);
      expect(a.clicks.some((c) => c.positive)).toBe(true);
      for (const c of a.clicks) {
        expect(c.x).toBeGreaterThanOrEqual(0);
        expect(c.y).toBeLessThan(grid.height);
        if (c.positive && a.previous === null) expect(gt[c.y * grid.width + c.x]).toBe(1);
      }
    }
  });

  it('start near the object centre, and their newest correction follows the protocol', () => {
    const first = firstClick(gt, grid, mulberry32(3))!;
    expect(Math.hypot(first.x - 20, first.y - 20)).toBeLessThanOrEqual(5);
    let withPrevious = 0;
    for (let seed = 0; seed < 30; seed++) {
      const s = simulateClicks(gt, grid, mulberry32(seed));
      if (s.previous === null) continue;
      withPrevious++;
      expect(s.clicks[s.clicks.length - 1]).toEqual(nextClick(gt, s.previous, grid));
    }
    expect(withPrevious).toBeGreaterThan(5);
  });

  it('perturb the object into a plausible wrong prediction, and morph grows and shrinks', () => {
    const grown = morph(gt, grid, 2);
    const shrunk = morph(gt, grid, -2);
    const area = (m: Uint8Array): number => m.reduce((a, v) => a + v, 0);
    expect(area(grown)).toBeGreaterThan(area(gt));
    expect(area(shrunk)).toBeLessThan(area(gt));
    const ious = Array.from({ length: 20 }, (_, s) => maskIou(perturbMask(gt, grid, mulberry32(s)), gt));
    expect(Math.min(...ious)).toBeGreaterThan(0.2);
    expect(ious.some((v) => v < 1)).toBe(true);
  });
});

describe('keepClickedComponents', () => {
  const grid = { height: 5, width: 8 };
  // Two blobs: columns 0-1 and columns 5-7 (8-connected through the diagonal at row 4 for the second).
  const mask = Uint8Array.from([
    1, 1, 0, 0, 0, 1, 1, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0,
    1, 0, 0, 0, 0,
  ]);

  it('keeps the components that hold a positive click, 8-connected, and drops the rest', () => {
    const kept = keepClickedComponents(mask, [{ x: 6, y: 0, positive: true }], grid);
    const expected = new Uint8Array(mask.length);
    for (const i of [5, 6, 14, 23, 30]) expected[i] = 1;
    expect(Array.from(kept)).toEqual(Array.from(expected));
  });

  it('takes the nearest component for a positive click off the mask, and ignores negative clicks', () => {
    const kept = keepClickedComponents(
      mask,
      [
        { x: 2, y: 1, positive: true },
        { x: 6, y: 0, positive: false },
      ],
      grid,
    );
    expect(Array.from(kept.keys()).filter((i) => kept[i] === 1)).toEqual([0, 1, 8, 9]);
    expect(
      Array.from(keepClickedComponents(new Uint8Array(40), [{ x: 1, y: 1, positive: true }], grid)),
    ).toEqual(Array(40).fill(0));
  });
});
