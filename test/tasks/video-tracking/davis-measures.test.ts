/**
 * The DAVIS measures against the official evaluation's own numbers: the test vectors in
 * shared/notes/video-object-segmentation.md §3.6, produced by running davis2017-evaluation's metrics.py.
 */
import {
  boundPixels,
  boundaryF,
  dbStatistics,
  dilateDisk,
  regionJ,
  seg2bmap,
} from '../../../src/tasks/video-tracking/davis-measures';

type Size = { height: number; width: number };

function rect(size: Size, y0: number, y1: number, x0: number, x1: number): Uint8Array {
  const m = new Uint8Array(size.height * size.width);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m[y * size.width + x] = 1;
  return m;
}

function circle(size: Size, cy: number, cx: number, r: number): Uint8Array {
  const m = new Uint8Array(size.height * size.width);
  for (let y = 0; y < size.height; y++)
    for (let x = 0; x < size.width; x++)
      if ((y - cy) ** 2 + (x - cx) ** 2 <= r * r) m[y * size.width + x] = 1;
  return m;
}

const grid = (m: Uint8Array, w: number): string[] =>
  Array.from({ length: m.length / w }, (_, y) => Array.from(m.subarray(y * w, (y + 1) * w)).join(''));

describe('seg2bmap', () => {
  it('6x6, object rows 2-3 cols 2-4: the boundary is outside on top and left, inside on bottom and right', () => {
    const size = { height: 6, width: 6 };
    expect(grid(seg2bmap(rect(size, 2, 4, 2, 5), size), 6)).toEqual([
      '000000',
      '011110',
      '010010',
      '011110',
      '000000',
      '000000',
    ]);
  });

  it('4x4, an object touching the bottom and right border: row 0 and column 0 only', () => {
    const size = { height: 4, width: 4 };
    expect(grid(seg2bmap(rect(size, 1, 4, 1, 4), size), 4)).toEqual(['1111', '1000', '1000', '1000']);
  });
});

describe('J and F', () => {
  const close = (got: number, want: number): void => expect(got).toBeCloseTo(want, 6);

  it('the repository test, with and without void (200x200)', () => {
    const size = { height: 200, width: 200 };
    const gt = rect(size, 100, 150, 100, 150);
    const pred = rect(size, 50, 150, 100, 150);
    const voidMask = rect(size, 50, 100, 100, 150);
    close(regionJ(pred, gt, voidMask), 1);
    close(boundaryF(pred, gt, size, { voidMask }), 1);
    close(regionJ(pred, gt), 0.5);
    close(boundaryF(pred, gt, size), 0.628);
  });

  it('64x64 squares, shifted and offset (bound 1 px)', () => {
    const size = { height: 64, width: 64 };
    expect(boundPixels(size)).toBe(1);
    const gt = rect(size, 10, 30, 10, 30);
    close(regionJ(rect(size, 13, 33, 10, 30), gt), 0.73913);
    close(boundaryF(rect(size, 13, 33, 10, 30), gt, size), 0.5);
    close(regionJ(rect(size, 11, 31, 11, 31), gt), 0.822323);
    close(boundaryF(rect(size, 11, 31, 11, 31), gt, size), 0.9875);
  });

  it('480x854 circles (bound 8 px): shifted by 10 and 20 px, and concentric r=100 vs r=90', () => {
    const size = { height: 480, width: 854 };
    expect(boundPixels(size)).toBe(8);
    const gt = circle(size, 240, 427, 100);
    close(regionJ(circle(size, 240, 437, 100), gt), 0.880751);
    close(boundaryF(circle(size, 240, 437, 100), gt, size), 0.649254);
    close(regionJ(circle(size, 240, 447, 100), gt), 0.775022);
    close(boundaryF(circle(size, 240, 447, 100), gt, size), 0.256219);
    close(regionJ(circle(size, 240, 427, 90), gt), 0.809912);
    close(boundaryF(circle(size, 240, 427, 90), gt, size), 0);
  });

  it('empty and full masks', () => {
    const size = { height: 40, width: 40 };
    const empty = new Uint8Array(1600);
    const some = rect(size, 5, 15, 5, 15);
    const full = new Uint8Array(1600).fill(1);
    expect([regionJ(empty, some), boundaryF(empty, some, size)]).toEqual([0, 0]);
    expect([regionJ(some, empty), boundaryF(some, empty, size)]).toEqual([0, 0]);
    expect([regionJ(empty, empty), boundaryF(empty, empty, size)]).toEqual([1, 1]);
    expect([regionJ(full, full), boundaryF(full, full, size)]).toEqual([1, 1]);
    const ten = rect({ height: 50, width: 50 }, 0, 10, 0, 10);
    const fullFifty = new Uint8Array(2500).fill(1);
    close(regionJ(ten, fullFifty), 0.04);
    close(boundaryF(ten, fullFifty, { height: 50, width: 50 }), 0);
  });

  it('disk(8) has 197 ones, as skimage draws it', () => {
    const size = { height: 17, width: 17 };
    const dot = new Uint8Array(289);
    dot[8 * 17 + 8] = 1;
    expect(dilateDisk(dot, size, 8).reduce((a, v) => a + v, 0)).toBe(197);
  });
});

describe('db_statistics', () => {
  it('mean, recall (strictly above 0.5) and decay over the linspace bins', () => {
    const ten = dbStatistics([1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]);
    expect(ten.mean).toBeCloseTo(0.55, 10);
    expect(ten.recall).toBeCloseTo(0.5, 10);
    expect(ten.decay).toBeCloseTo(0.7, 10);
    const three = dbStatistics([0.9, 0.8, 0.4]);
    expect(three.mean).toBeCloseTo(0.7, 10);
    expect(three.recall).toBeCloseTo(2 / 3, 10);
    expect(three.decay).toBeCloseTo(0.45, 10);
  });

  it('gives a real decay for long sequences, where the official uint8 cast wraps to NaN', () => {
    const long = Array.from({ length: 300 }, (_, i) => (i < 150 ? 1 : 0));
    expect(dbStatistics(long).decay).toBe(1);
  });
});
