import fc from 'fast-check';
import type { BinaryMask, BitmapGeometry, Geometry } from '../../src/format/model';
import { clipGeometry, geometryBounds } from '../../src/inference/label-geometry';

const image = { height: 10, width: 12 };

function mask(rows: string[]): BinaryMask {
  const height = rows.length;
  const width = rows[0].length;
  const data = new Uint8Array(width * height);
  rows.forEach((r, y) => [...r].forEach((ch, x) => (data[y * width + x] = ch === '1' ? 1 : 0)));
  return { width, height, data };
}

/** Image pixels `"x,y"` set by a bitmap. */
function pixels(g: BitmapGeometry): Set<string> {
  const out = new Set<string>();
  for (let y = 0; y < g.mask.height; y++) {
    for (let x = 0; x < g.mask.width; x++) {
      if (g.mask.data[y * g.mask.width + x] !== 0) out.add(`${g.origin.x + x},${g.origin.y + y}`);
    }
  }
  return out;
}

describe('label bounding boxes (SDK Geometry.to_bbox, used by the bboxes mode, spec F.3)', () => {
  it('covers every geometry the modes meet', () => {
    expect(geometryBounds({ type: 'rectangle', top: 1, left: 2, bottom: 3, right: 4 })).toEqual({
      top: 1,
      left: 2,
      bottom: 3,
      right: 4,
    });
    expect(geometryBounds({ type: 'point', x: 5, y: 6 })).toEqual({ top: 6, left: 5, bottom: 6, right: 5 });
    expect(
      geometryBounds({
        type: 'polygon',
        exterior: [
          { x: 3, y: 1 },
          { x: 9, y: 4 },
          { x: 1, y: 8 },
        ],
        interior: [],
      }),
    ).toEqual({ top: 1, left: 1, bottom: 8, right: 9 });
    expect(
      geometryBounds({
        type: 'line',
        points: [
          { x: 7, y: 2 },
          { x: 4, y: 5 },
        ],
      }),
    ).toEqual({ top: 2, left: 4, bottom: 5, right: 7 });
    expect(geometryBounds({ type: 'opaque', shape: 'graph', fields: {} })).toBeNull();
  });

  it('takes a bitmap by its set pixels, not by its stored size', () => {
    const g: Geometry = {
      type: 'bitmap',
      origin: { x: 10, y: 20 },
      mask: mask(['0000', '0010', '0110', '0000']),
    };
    expect(geometryBounds(g)).toEqual({ top: 21, left: 11, bottom: 22, right: 12 });
    expect(geometryBounds({ type: 'bitmap', origin: { x: 0, y: 0 }, mask: mask(['00']) })).toBeNull();
  });
});

describe('cutting labels to the image (spec B.3: every label added is cropped to the image)', () => {
  it('returns a geometry inside the image unchanged (a bitmap keeps its encoded data)', () => {
    const g: Geometry = { type: 'bitmap', origin: { x: 1, y: 1 }, mask: mask(['1']), encoded: 'kept' };
    expect(clipGeometry(g, image)[0]).toBe(g);
  });

  it('drops geometries outside the image', () => {
    expect(clipGeometry({ type: 'rectangle', top: 20, left: 0, bottom: 30, right: 5 }, image)).toEqual([]);
    expect(clipGeometry({ type: 'point', x: -1, y: 3 }, image)).toEqual([]);
    expect(clipGeometry({ type: 'bitmap', origin: { x: 12, y: 0 }, mask: mask(['11']) }, image)).toEqual([]);
  });

  it('cuts rectangles to [0, W-1] x [0, H-1]', () => {
    expect(clipGeometry({ type: 'rectangle', top: -3, left: 5, bottom: 4, right: 40 }, image)).toEqual([
      { type: 'rectangle', top: 0, left: 5, bottom: 4, right: 11 },
    ]);
  });

  it('cuts bitmaps to the pixels inside the image, tight again', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -6, max: 14 }),
        fc.integer({ min: -6, max: 12 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.boolean(), { minLength: 64, maxLength: 64 }),
        (ox, oy, w, h, bits) => {
          const m: BinaryMask = { width: w, height: h, data: Uint8Array.from(bits.slice(0, w * h), Number) };
          const g: BitmapGeometry = { type: 'bitmap', origin: { x: ox, y: oy }, mask: m };
          const expected = new Set(
            [...pixels(g)].filter((p) => {
              const [x, y] = p.split(',').map(Number);
              return x >= 0 && y >= 0 && x < image.width && y < image.height;
            }),
          );
          const out = clipGeometry(g, image) as BitmapGeometry[];
          const got = new Set(out.flatMap((b) => [...pixels(b)]));
          expect(got).toEqual(expected);
          // A bitmap inside the image comes back as it was; a cut one is new, and tight.
          for (const b of out.filter((x) => x !== g)) {
            expect(b.encoded).toBeUndefined();
            expect(geometryBounds(b)).toEqual({
              top: b.origin.y,
              left: b.origin.x,
              bottom: b.origin.y + b.mask.height - 1,
              right: b.origin.x + b.mask.width - 1,
            });
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('cuts polygons along the image edge and drops holes outside it', () => {
    const [cut] = clipGeometry(
      {
        type: 'polygon',
        exterior: [
          { x: -4, y: 2 },
          { x: 6, y: 2 },
          { x: 6, y: 6 },
          { x: -4, y: 6 },
        ],
        interior: [
          [
            { x: -3, y: 3 },
            { x: -1, y: 3 },
            { x: -1, y: 5 },
          ],
        ],
      },
      image,
    );
    expect(cut).toEqual({
      type: 'polygon',
      exterior: [
        { x: 0, y: 2 },
        { x: 6, y: 2 },
        { x: 6, y: 6 },
        { x: 0, y: 6 },
      ],
      interior: [],
    });
  });

  it('rounds cut points as Python round() (half to even)', () => {
    // The edge x = 11 cuts the segment (10, 0) -> (14, 5) at y = 1.25 and (14, 5) -> (10, 10) at y = 8.75.
    const [cut] = clipGeometry(
      {
        type: 'polygon',
        exterior: [
          { x: 10, y: 0 },
          { x: 14, y: 5 },
          { x: 10, y: 9 },
        ],
        interior: [],
      },
      image,
    );
    expect(cut.type === 'polygon' && cut.exterior).toEqual([
      { x: 10, y: 0 },
      { x: 11, y: 1 },
      { x: 11, y: 8 },
      { x: 10, y: 9 },
    ]);
  });

  it('keeps every cut polygon vertex inside the image', () => {
    const pt = fc.record({ x: fc.integer({ min: -20, max: 30 }), y: fc.integer({ min: -20, max: 30 }) });
    fc.assert(
      fc.property(fc.array(pt, { minLength: 3, maxLength: 8 }), (exterior) => {
        for (const g of clipGeometry({ type: 'polygon', exterior, interior: [] }, image)) {
          if (g.type !== 'polygon') throw new Error('expected a polygon');
          expect(g.exterior.length).toBeGreaterThanOrEqual(3);
          for (const p of g.exterior) {
            expect(p.x >= 0 && p.x <= 11 && p.y >= 0 && p.y <= 9).toBe(true);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('splits a line that leaves the image and comes back into two lines', () => {
    const out = clipGeometry(
      {
        type: 'line',
        points: [
          { x: 2, y: 4 },
          { x: 2, y: -5 },
          { x: 5, y: -5 },
          { x: 5, y: 4 },
        ],
      },
      image,
    );
    expect(out).toEqual([
      {
        type: 'line',
        points: [
          { x: 2, y: 4 },
          { x: 2, y: 0 },
        ],
      },
      {
        type: 'line',
        points: [
          { x: 5, y: 0 },
          { x: 5, y: 4 },
        ],
      },
    ]);
  });
});
