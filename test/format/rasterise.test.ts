import fc from 'fast-check';
import { TaskError } from '../../src/errors';
import type { Annotation, Geometry, Label } from '../../src/format/model';
import { classBitmapsFromMask, rasteriseAnnotation } from '../../src/format/rasterise';
import { runMaskArb } from '../helpers/run-masks';

const label = (classTitle: string, geometry: Geometry): Label => ({
  classTitle,
  description: '',
  tags: [],
  geometry,
  extra: {},
});
const annotation = (width: number, height: number, labels: Label[]): Annotation => ({
  size: { width, height },
  description: '',
  tags: [],
  labels,
  customBigData: {},
  extra: {},
});
const rows = (mask: ArrayLike<number>, width: number): string[] => {
  const out: string[] = [];
  for (let i = 0; i < mask.length; i += width)
    out.push(Array.from({ length: width }, (_, k) => mask[i + k]).join(''));
  return out;
};

describe('rasterising an annotation into a class-index mask (spec E.5 make_gt)', () => {
  const classToIndex = { bg: 0, a: 1, b: 2 };

  it('draws every geometry kind with its class index over the fill value', () => {
    const ann = annotation(8, 6, [
      label('a', { type: 'rectangle', top: 0, left: 0, bottom: 1, right: 2 }),
      label('b', { type: 'point', x: 7, y: 0 }),
      label('a', {
        type: 'line',
        points: [
          { x: 4, y: 5 },
          { x: 7, y: 2 },
        ],
      }),
      label('b', {
        type: 'bitmap',
        origin: { x: 0, y: 4 },
        mask: { width: 2, height: 2, data: Uint8Array.from([1, 0, 1, 1]) },
      }),
      label('b', {
        type: 'polygon',
        exterior: [
          { x: 4, y: 0 },
          { x: 5, y: 0 },
          { x: 5, y: 1 },
          { x: 4, y: 1 },
        ],
        interior: [],
      }),
    ]);
    const mask = rasteriseAnnotation(ann, { classToIndex, fill: 9 });
    expect(mask).toBeInstanceOf(Uint8Array);
    expect(rows(mask, 8)).toEqual(['11192292', '11192299', '99999991', '99999919', '29999199', '22991999']);
  });

  it('draws in annotation order: later objects cover earlier ones', () => {
    const big = label('a', { type: 'rectangle', top: 0, left: 0, bottom: 3, right: 3 });
    const small = label('b', { type: 'rectangle', top: 1, left: 1, bottom: 2, right: 2 });
    expect(rows(rasteriseAnnotation(annotation(4, 4, [big, small]), { classToIndex, fill: 0 }), 4)).toEqual([
      '1111',
      '1221',
      '1221',
      '1111',
    ]);
    expect(rows(rasteriseAnnotation(annotation(4, 4, [small, big]), { classToIndex, fill: 0 }), 4)).toEqual([
      '1111',
      '1111',
      '1111',
      '1111',
    ]);
  });

  it('fills polygons like cv2.fillPoly: boundary included, holes (with their boundary) left out', () => {
    const square = [
      { x: 0, y: 0 },
      { x: 6, y: 0 },
      { x: 6, y: 6 },
      { x: 0, y: 6 },
    ];
    const hole = [
      { x: 2, y: 2 },
      { x: 4, y: 2 },
      { x: 4, y: 4 },
      { x: 2, y: 4 },
    ];
    const mask = rasteriseAnnotation(
      annotation(7, 7, [label('a', { type: 'polygon', exterior: square, interior: [hole] })]),
      {
        classToIndex,
        fill: 0,
      },
    );
    expect(rows(mask, 7)).toEqual([
      '1111111',
      '1111111',
      '1100011',
      '1100011',
      '1100011',
      '1111111',
      '1111111',
    ]);
  });

  it('draws the neutral class with the ignore value, and clips geometry that leaves the image', () => {
    const ann = annotation(4, 3, [
      label('a', {
        type: 'polygon',
        exterior: [
          { x: -5, y: -5 },
          { x: 10, y: -5 },
          { x: 10, y: 10 },
          { x: -5, y: 10 },
        ],
        interior: [],
      }),
      label('neutral', { type: 'rectangle', top: 1, left: 2, bottom: 40, right: 40 }),
      label('b', { type: 'point', x: 99, y: 1 }),
    ]);
    const mask = rasteriseAnnotation(ann, {
      classToIndex,
      fill: 0,
      neutral: { classTitle: 'neutral', value: 3 },
    });
    expect(rows(mask, 4)).toEqual(['1111', '1133', '1133']);
  });

  it('uses Int32Array when a value does not fit in a byte (fill -1, or more than 255 classes)', () => {
    const ann = annotation(2, 1, [label('a', { type: 'point', x: 1, y: 0 })]);
    const negative = rasteriseAnnotation(ann, { classToIndex, fill: -1 });
    expect(negative).toBeInstanceOf(Int32Array);
    expect([...negative]).toEqual([-1, 1]);
    const many = rasteriseAnnotation(ann, { classToIndex: new Map([['a', 300]]), fill: 0 });
    expect(many).toBeInstanceOf(Int32Array);
    expect([...many]).toEqual([0, 300]);
  });

  it('fails on a class missing from the mapping, naming the file and the object', () => {
    const ann = annotation(2, 2, [
      label('a', { type: 'point', x: 0, y: 0 }),
      label('zebra', { type: 'point', x: 1, y: 1 }),
    ]);
    let error: unknown;
    try {
      rasteriseAnnotation(ann, { classToIndex, fill: 0, file: 'p/ds/ann/x.png.json' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TaskError);
    expect((error as TaskError).message).toMatch(
      /^p\/ds\/ann\/x\.png\.json: objects\[1\]: field "classTitle": class "zebra" has no index/,
    );
  });

  it('skips shapes that are not masks (graph, cuboid)', () => {
    const ann = annotation(2, 1, [label('a', { type: 'opaque', shape: 'graph', fields: {} })]);
    expect([...rasteriseAnnotation(ann, { classToIndex, fill: 0 })]).toEqual([0, 0]);
  });
});

describe('class-index mask to per-class tight bitmaps (spec G.3 segmentation_array_to_sly_bitmaps)', () => {
  it('gives one tight bitmap per class present, in index order, that rasterises back to the same mask', () => {
    const classToIndex = { bg: 0, a: 1, b: 2, c: 3 };
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 400, maxLength: 400 }),
        (width, height, values) => {
          const mask = Uint8Array.from(values.slice(0, width * height));
          const labels = classBitmapsFromMask({ mask, size: { width, height }, classToIndex });
          const present = [...new Set(mask)].sort();
          const again = rasteriseAnnotation(annotation(width, height, labels), { classToIndex, fill: 7 });
          return (
            JSON.stringify(labels.map((l) => classToIndex[l.classTitle as keyof typeof classToIndex])) ===
              JSON.stringify(present) &&
            labels.every((l) => l.geometry.type === 'bitmap' && isTight(l.geometry.mask)) &&
            Buffer.from(again).equals(Buffer.from(mask))
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it('gives the same for masks of long runs (rows of one class, as predicted masks are)', () => {
    const classToIndex = { bg: 0, a: 1, b: 2, c: 3 };
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 1, max: 12 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 1, max: 40 })), {
          minLength: 1,
          maxLength: 60,
        }),
        (width, height, runs) => {
          const mask = new Uint8Array(width * height);
          for (let i = 0, r = 0; i < mask.length; r++) {
            const [value, length] = runs[r % runs.length];
            mask.fill(value, i, Math.min(mask.length, i + length));
            i += length;
          }
          const labels = classBitmapsFromMask({ mask, size: { width, height }, classToIndex });
          const again = rasteriseAnnotation(annotation(width, height, labels), { classToIndex, fill: 4 });
          expect(labels.every((l) => l.geometry.type === 'bitmap' && isTight(l.geometry.mask))).toBe(true);
          expect(Buffer.from(again).equals(Buffer.from(mask))).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a byte mask (read four pixels at a time where aligned) gives what a plain array of it gives', () => {
    const classToIndex = { bg: 0, a: 1, top: 255 };
    fc.assert(
      fc.property(runMaskArb([0, 1, 255, 9], 8), ({ width, height, data }) => {
        const size = { width, height };
        const fromBytes = classBitmapsFromMask({ mask: data, size, classToIndex });
        const fromArray = classBitmapsFromMask({ mask: Array.from(data), size, classToIndex });
        expect(fromBytes).toEqual(fromArray);
      }),
      { numRuns: 300 },
    );
  });

  it('ignores indices that are not in the map', () => {
    const labels = classBitmapsFromMask({
      mask: [0, 5, 5, 1],
      size: { width: 2, height: 2 },
      classToIndex: { a: 1 },
    });
    expect(labels).toHaveLength(1);
    expect(labels[0]).toMatchObject({
      classTitle: 'a',
      geometry: { origin: { x: 1, y: 1 }, mask: { width: 1, height: 1 } },
    });
  });
});

function isTight(mask: { width: number; height: number; data: Uint8Array }): boolean {
  const rowHas = (y: number) => mask.data.subarray(y * mask.width, (y + 1) * mask.width).some((v) => v !== 0);
  const colHas = (x: number) =>
    Array.from({ length: mask.height }, (_, y) => mask.data[y * mask.width + x]).some((v) => v !== 0);
  return rowHas(0) && rowHas(mask.height - 1) && colHas(0) && colHas(mask.width - 1);
}
