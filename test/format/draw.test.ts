import reference from './fixtures/cv2-draw-reference.json';
import { drawPolyline, fillPolygons, fillRectangle, paintMask, type Canvas } from '../../src/format/draw';
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
