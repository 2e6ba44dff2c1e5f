import fc from 'fast-check';
import reference from './fixtures/cv2-draw-reference.json';
import {
  drawLine,
  drawPolyline,
  fillPolygons,
  fillRectangle,
  paintMask,
  type Canvas,
} from '../../src/format/draw';
import type { PixelPoint } from '../../src/format/model';

const toPoints = (ring: number[][]): PixelPoint[] => ring.map(([x, y]) => ({ x, y }));

function unpack(hex: string, count: number): Uint8Array {
  const bytes = Buffer.from(hex, 'hex');
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) out[i] = (bytes[i >> 3] >> (7 - (i & 7))) & 1;
  return out;
}

function blank(width: number, height: number): Canvas {
  return { width, height, data: new Uint8Array(width * height) };
}

function diffCount(a: Uint8Array | Int32Array, b: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < b.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

describe('OpenCV drawing rules (spec E.5: make_gt draws with cv2)', () => {
  const { width, height } = reference;
  // Golden data drawn by OpenCV itself (see fixtures/make-cv2-draw-reference.py).
  it.each(reference.cases.map((c, i) => [i, c.kind, c] as const))(
    'case %i (%s) matches OpenCV pixel for pixel',
    (_i, kind, c) => {
      const canvas = blank(width, height);
      if (kind === 'polyline') {
        drawPolyline(canvas, toPoints(c.exterior), { closed: false, value: 1 });
      } else {
        fillPolygons(canvas, [toPoints(c.exterior)], 1);
        if (c.interior.length > 0) fillPolygons(canvas, c.interior.map(toPoints), 0);
      }
      expect(diffCount(canvas.data, unpack(c.mask, width * height))).toBe(0);
    },
  );

  it('fills a rectangle with inclusive corners, clipped to the canvas', () => {
    const canvas = blank(6, 5);
    fillRectangle(canvas, { top: 1, left: 4, bottom: 9, right: 8 }, 7);
    const set = [...canvas.data.keys()].filter((i) => canvas.data[i] === 7);
    expect(set).toEqual([10, 11, 16, 17, 22, 23, 28, 29]);
  });

  it('paints a mask at its origin, clipping what falls outside', () => {
    const canvas = blank(4, 3);
    paintMask(
      canvas,
      { x: -1, y: 1 },
      { width: 3, height: 3, data: Uint8Array.from([1, 1, 0, 0, 1, 1, 1, 0, 1]) },
      5,
    );
    expect([...canvas.data]).toEqual([0, 0, 0, 0, 5, 0, 0, 0, 5, 5, 0, 0]);
  });
});

/**
 * A canvas that counts how often its size is read (every pixel the drawing visits reads it) and throws past a
 * budget proportional to its area: drawing that walks outside the canvas fails here instead of running forever.
 */
function budgetCanvas(width: number, height: number): Canvas & { reads: number } {
  const budget = 20 * width * height;
  let reads = 0;
  const read = (v: number): number => {
    if (++reads > budget)
      throw new Error(`drawing visited more than ${budget} places on a ${width}x${height} canvas`);
    return v;
  };
  return {
    data: new Uint8Array(width * height),
    get width() {
      return read(width);
    },
    get height() {
      return read(height);
    },
    get reads() {
      return reads;
    },
  };
}

describe('geometry far outside the canvas is clipped: work bounded by the canvas, same pixels', () => {
  it('fills a polygon with a vertex at x = 1e12 visiting only the canvas', () => {
    const canvas = budgetCanvas(30, 20);
    const ring = toPoints([
      [2, 2],
      [1e12, 10],
      [2, 18],
    ]);
    fillPolygons(canvas, [ring], 1);
    // Rows 2..18 are filled from x = 2 to the right edge (the far vertex is almost straight right).
    for (let y = 0; y < 20; y++) {
      const row = [...canvas.data.subarray(y * 30, y * 30 + 30)];
      expect(row).toEqual(Array.from({ length: 30 }, (_, x) => (y >= 2 && y <= 18 && x >= 2 ? 1 : 0)));
    }
  });

  it('draws lines from and to 1e12, -1e12 and beyond 2^53 visiting only the canvas', () => {
    for (const far of [1e12, -1e12, 2 ** 60, -(2 ** 60), 1e300]) {
      const canvas = budgetCanvas(16, 12);
      drawLine(canvas, { x: 3, y: 4 }, { x: far, y: 4 }, 1);
      drawLine(canvas, { x: 5, y: far }, { x: 5, y: 6 }, 1);
      drawLine(canvas, { x: far, y: far }, { x: -far, y: -far }, 1);
      expect(canvas.reads).toBeLessThan(1000);
    }
    const canvas = blank(16, 12);
    drawLine(canvas, { x: 3, y: 4 }, { x: 1e12, y: 4 }, 1);
    expect([...canvas.data.subarray(4 * 16, 5 * 16)]).toEqual([
      0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    ]);
  });

  it('draws a line longer than 2^50 steps with the pixels of a short line of the same slope', () => {
    // Both walks are m(i) = ceil((i - 1) / 2) from the origin: the long one in exact integers, step by step.
    const long = budgetCanvas(16, 12);
    drawLine(long, { x: 0, y: 0 }, { x: 2 ** 52, y: 2 ** 51 }, 1);
    const short = blank(16, 12);
    drawLine(short, { x: 0, y: 0 }, { x: 40, y: 20 }, 1);
    expect([...long.data]).toEqual([...short.data]);
    expect([...long.data].filter((v) => v === 1)).toHaveLength(16);
  });

  it('gives a line with ends outside the canvas the pixels of the whole line drawn on a larger canvas', () => {
    // The larger canvas holds both ends, so it walks the whole line; its window over the small canvas must match.
    const [width, height, margin] = [13, 9, 60];
    const coord = (lo: number, hi: number) => fc.integer({ min: lo - margin + 1, max: hi + margin - 1 });
    const point = fc.record({ x: coord(0, width), y: coord(0, height) });
    fc.assert(
      fc.property(point, point, (a, b) => {
        const small = blank(width, height);
        drawLine(small, a, b, 1);
        const big = blank(width + 2 * margin, height + 2 * margin);
        const shift = (p: PixelPoint) => ({ x: p.x + margin, y: p.y + margin });
        drawLine(big, shift(a), shift(b), 1);
        for (let y = 0; y < height; y++) {
          const start = (y + margin) * big.width + margin;
          expect([...small.data.subarray(y * width, (y + 1) * width)]).toEqual([
            ...big.data.subarray(start, start + width),
          ]);
        }
      }),
      { numRuns: 2000, seed: 7 },
    );
  });
});
