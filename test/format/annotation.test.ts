import { deflateSync } from 'node:zlib';
import { TaskError } from '../../src/errors';
import {
  annotationToJson,
  parseAnnotation,
  parseAnnotationText,
  serializeAnnotation,
} from '../../src/format/annotation';
import { encodeBitmap } from '../../src/format/bitmap-codec';
import { encodeMaskPng } from '../../src/format/png-chunks';
import { withDeclaredSize } from '../helpers/png';
import { parseProjectMeta } from '../../src/format/meta';
import { pyRound } from '../../src/format/py-round';

const meta = parseProjectMeta(
  {
    classes: [
      { title: 'bmp', shape: 'bitmap', color: '#00FF00' },
      { title: 'poly', shape: 'polygon', color: '#FF0000' },
      { title: 'rect', shape: 'rectangle', color: '#0000FF' },
      { title: 'pt', shape: 'point', color: '#FFFF00' },
      { title: 'ln', shape: 'line', color: '#00FFFF' },
      { title: 'anything', shape: 'any', color: '#FF00FF' },
      { title: 'skeleton', shape: 'graph', color: '#123456' },
    ],
    tags: [
      { name: 'train', value_type: 'none' },
      { name: 'conf', value_type: 'any_number' },
      { name: 'note', value_type: 'any_string' },
      { name: 'side', value_type: 'oneof_string', values: ['left', 'right'] },
    ],
  },
  { file: 'meta.json' },
);
const file = 'proj/ds/ann/x.jpg.json';
const parse = (json: unknown) => parseAnnotation(json, meta, { file });
const ann = (objects: unknown[], extra: Record<string, unknown> = {}) => ({
  size: { height: 50, width: 60 },
  tags: [],
  objects,
  ...extra,
});

/** A bitmap payload whose PNG header declares `width` x `height` (its pixel data is that of a 1x1 mask). */
function declaring(width: number, height: number): string {
  const png = encodeMaskPng({ width: 1, height: 1, data: Uint8Array.of(1) });
  return deflateSync(withDeclaredSize(png, width, height)).toString('base64');
}

function errorOf(fn: () => unknown): TaskError {
  try {
    fn();
  } catch (e) {
    if (e instanceof TaskError) return e;
    throw e;
  }
  throw new Error('expected a TaskError');
}

describe("Python's banker's rounding for coordinates (spec B.4)", () => {
  it.each([
    [2.5, 2],
    [3.5, 4],
    [-2.5, -2],
    [-3.5, -4],
    [0.5, 0],
    [1.5, 2],
    [2.4999999, 2],
    [2.5000001, 3],
    [-0.4, 0],
    [7, 7],
  ])('round(%p) == %p', (value, expected) => {
    expect(pyRound(value)).toBe(expected);
    expect(Object.is(pyRound(value), -0)).toBe(false);
  });
});

describe('annotation JSON (spec B.3-B.5)', () => {
  it('reads size, image tags, and labels of every geometry with their tags', () => {
    const bitmap = encodeBitmap(
      { width: 2, height: 2, data: Uint8Array.from([1, 0, 1, 1]) },
      { x: 4, y: 5 },
    )!;
    const a = parse(
      ann(
        [
          { classTitle: 'bmp', tags: [{ name: 'conf', value: 0.9 }], bitmap },
          {
            classTitle: 'poly',
            tags: ['train'],
            points: {
              exterior: [
                [0, 0],
                [10.5, 0],
                [10, 11.5],
              ],
              interior: [
                [
                  [2, 2],
                  [3, 2],
                  [3, 3],
                ],
              ],
            },
          },
          {
            classTitle: 'rect',
            tags: [],
            points: {
              exterior: [
                [30, 40],
                [10, 20],
              ],
              interior: [],
            },
          },
          { classTitle: 'pt', tags: [], points: { exterior: [[3.5, 4.5]], interior: [] } },
          {
            classTitle: 'ln',
            tags: [{ name: 'side', value: 'left' }],
            points: {
              exterior: [
                [0, 0],
                [5, 5],
                [9, 1],
              ],
              interior: [],
            },
          },
        ],
        { tags: [{ name: 'note', value: 'hello', labelerLogin: 'bob' }] },
      ),
    );
    expect(a.size).toEqual({ height: 50, width: 60 });
    expect(a.tags).toEqual([{ name: 'note', value: 'hello', extra: { labelerLogin: 'bob' } }]);
    expect(a.labels.map((l) => l.geometry.type)).toEqual(['bitmap', 'polygon', 'rectangle', 'point', 'line']);
    const [b, p, r, pt, ln] = a.labels.map((l) => l.geometry);
    expect(b).toMatchObject({
      origin: { x: 4, y: 5 },
      mask: { width: 2, height: 2, data: Uint8Array.from([1, 0, 1, 1]) },
    });
    expect(p).toEqual({
      type: 'polygon',
      exterior: [
        { x: 0, y: 0 },
        { x: 10, y: 0 },
        { x: 10, y: 12 },
      ], // 10.5 -> 10, 11.5 -> 12
      interior: [
        [
          { x: 2, y: 2 },
          { x: 3, y: 2 },
          { x: 3, y: 3 },
        ],
      ],
    });
    expect(r).toEqual({ type: 'rectangle', top: 20, left: 10, bottom: 40, right: 30 }); // corners sorted
    expect(pt).toEqual({ type: 'point', x: 4, y: 4 });
    expect(ln).toEqual({
      type: 'line',
      points: [
        { x: 0, y: 0 },
        { x: 5, y: 5 },
        { x: 9, y: 1 },
      ],
    });
    expect(a.labels[0].tags).toEqual([{ name: 'conf', value: 0.9, extra: {} }]);
    expect(a.labels[1].tags).toEqual([{ name: 'train', extra: {} }]);
  });

  it('parses the geometry with the class shape, not the JSON geometryType; "bitmap": null on polygons is fine', () => {
    const a = parse(
      ann([
        {
          classTitle: 'poly',
          geometryType: 'bitmap',
          shape: 'bitmap',
          bitmap: null,
          tags: [],
          points: {
            exterior: [
              [1, 1],
              [5, 1],
              [5, 5],
            ],
            interior: [],
          },
        },
      ]),
    );
    expect(a.labels[0].geometry.type).toBe('polygon');
  });

  it('lets a label of a class with shape "any" pick its geometry by geometryType, then shape', () => {
    const a = parse(
      ann([
        {
          classTitle: 'anything',
          geometryType: 'rectangle',
          tags: [],
          points: {
            exterior: [
              [1, 1],
              [5, 5],
            ],
            interior: [],
          },
        },
        { classTitle: 'anything', shape: 'point', tags: [], points: { exterior: [[2, 3]], interior: [] } },
      ]),
    );
    expect(a.labels.map((l) => l.geometry.type)).toEqual(['rectangle', 'point']);
    const e = errorOf(() =>
      parse(ann([{ classTitle: 'anything', tags: [], points: { exterior: [], interior: [] } }])),
    );
    expect(e.message).toMatch(/objects\[0\]: field "shape": the class has shape "any"/);
  });

  it('pads polygons with fewer than 3 points by repeating the last point, as [SDK] does (spec B.4)', () => {
    const a = parse(
      ann([
        {
          classTitle: 'poly',
          tags: [],
          points: {
            exterior: [
              [1, 2],
              [7, 8],
            ],
            interior: [[[3, 3]]],
          },
        },
        { classTitle: 'poly', tags: [], points: { exterior: [[4, 4]], interior: [] } },
      ]),
    );
    expect(a.labels[0].geometry).toEqual({
      type: 'polygon',
      exterior: [
        { x: 1, y: 2 },
        { x: 7, y: 8 },
        { x: 7, y: 8 },
      ],
      interior: [
        [
          { x: 3, y: 3 },
          { x: 3, y: 3 },
          { x: 3, y: 3 },
        ],
      ],
    });
    expect(a.labels[1].geometry).toMatchObject({
      exterior: [
        { x: 4, y: 4 },
        { x: 4, y: 4 },
        { x: 4, y: 4 },
      ],
    });
    const e = errorOf(() =>
      parse(ann([{ classTitle: 'poly', tags: [], points: { exterior: [], interior: [] } }])),
    );
    expect(e.message).toBe(
      `${file}: objects[0]: field "points.exterior": a polygon ring needs at least 1 point, got none`,
    );
  });

  it('keeps shapes it does not draw (graph) and unknown server keys, and writes them back', () => {
    const json = ann(
      [
        {
          classTitle: 'skeleton',
          tags: [],
          nodes: { a: { loc: [1, 2] } },
          id: 7,
          classId: 3,
          labelerLogin: 'bob',
          createdAt: '2020-01-01T00:00:00.000Z',
          instance: 'x',
        },
      ],
      { imageId: 42, customBigData: { keep: [1, 2] }, description: 'd' },
    );
    const a = parse(json);
    expect(a.labels[0].geometry).toEqual({ type: 'opaque', shape: 'graph', fields: {} });
    expect(a.labels[0].extra).toMatchObject({ nodes: { a: { loc: [1, 2] } }, id: 7, instance: 'x' });
    const out = annotationToJson(a);
    expect(out).toMatchObject({ imageId: 42, customBigData: { keep: [1, 2] }, description: 'd' });
    expect(out.objects[0]).toMatchObject({
      nodes: { a: { loc: [1, 2] } },
      id: 7,
      classId: 3,
      geometryType: 'graph',
      shape: 'graph',
    });
  });

  it('round-trips: read, write, read gives the same annotation, and the bitmap payload is kept byte for byte', () => {
    const bitmap = encodeBitmap({ width: 3, height: 1, data: Uint8Array.from([1, 1, 1]) }, { x: 1, y: 1 })!;
    const first = parse(
      ann(
        [
          {
            classTitle: 'bmp',
            tags: [{ name: 'conf', value: 1 }],
            bitmap,
            points: { exterior: [], interior: [] },
            id: 1,
          },
          {
            classTitle: 'poly',
            tags: [],
            bitmap: null,
            points: {
              exterior: [
                [0.0, 1.0],
                [5.0, 1.0],
                [5.0, 9.0],
              ],
              interior: [],
            },
          },
        ],
        { tags: ['train'] },
      ),
    );
    const text = serializeAnnotation(first);
    expect(text.split('\n')[1]).toMatch(/^ {4}"description"/); // indent=4, as json.dump(indent=4)
    const second = parseAnnotationText(text, meta, { file });
    expect(second).toEqual(first);
    expect(JSON.parse(text).objects[0].bitmap).toEqual(bitmap);
    expect(serializeAnnotation(second)).toBe(text);
  });

  it('leaves out a label whose bitmap is empty when writing (no throw)', () => {
    const a = parse(ann([{ classTitle: 'pt', tags: [], points: { exterior: [[1, 1]], interior: [] } }]));
    const withEmpty = {
      ...a,
      labels: [
        ...a.labels,
        {
          classTitle: 'bmp',
          description: '',
          tags: [],
          extra: {},
          geometry: {
            type: 'bitmap' as const,
            origin: { x: 0, y: 0 },
            mask: { width: 2, height: 2, data: new Uint8Array(4) },
          },
        },
      ],
    };
    expect(annotationToJson(withEmpty).objects.map((o) => o.classTitle)).toEqual(['pt']);
  });

  describe('each bad input gives one error naming the file, the object and the field', () => {
    it.each([
      [
        'unknown class',
        ann([{ classTitle: 'cat', tags: [], points: { exterior: [[1, 1]], interior: [] } }]),
        `${file}: objects[0]: field "classTitle": class "cat" is not defined in the project meta`,
      ],
      [
        'unknown tag on an object',
        ann([{ classTitle: 'pt', tags: [{ name: 'nope' }], points: { exterior: [[1, 1]], interior: [] } }]),
        `${file}: objects[0]: field "tags[0]": tag "nope" is not defined`,
      ],
      ['unknown image tag', ann([], { tags: ['val'] }), `${file}: field "tags[0]": tag "val" is not defined`],
      [
        'a value on a none tag',
        ann([], { tags: [{ name: 'train', value: 1 }] }),
        'tag "train" (none) needs no value, got number 1',
      ],
      [
        'a string on a number tag',
        ann([], { tags: [{ name: 'conf', value: 'high' }] }),
        'tag "conf" (any_number) needs a number',
      ],
      [
        'a value outside oneof_string',
        ann([], { tags: [{ name: 'side', value: 'up' }] }),
        'needs one of ["left","right"], got string "up"',
      ],
      ['a number on a string tag', ann([], { tags: [{ name: 'note', value: 3 }] }), 'needs a string'],
      ['missing size', { tags: [], objects: [] }, `${file}: field "size": expected an object`],
      [
        'bad size',
        ann([], { size: { height: 0, width: 3 } }),
        'field "size.height": expected a positive integer',
      ],
      ['missing objects', { size: { height: 1, width: 1 }, tags: [] }, 'field "objects": expected an array'],
      [
        'a rectangle with 3 points',
        ann([
          {
            classTitle: 'rect',
            tags: [],
            points: {
              exterior: [
                [1, 1],
                [2, 2],
                [3, 3],
              ],
              interior: [],
            },
          },
        ]),
        'objects[0]: field "points.exterior": a rectangle needs exactly 2 points, got 3',
      ],
      [
        'a point with 2 points',
        ann([
          {
            classTitle: 'pt',
            tags: [],
            points: {
              exterior: [
                [1, 1],
                [2, 2],
              ],
              interior: [],
            },
          },
        ]),
        'a point needs exactly 1 point(s), got 2',
      ],
      [
        'a line with 1 point',
        ann([{ classTitle: 'ln', tags: [], points: { exterior: [[1, 1]], interior: [] } }]),
        'a line needs at least 2 point(s), got 1',
      ],
      [
        'a coordinate that is not a number',
        ann([
          {
            classTitle: 'ln',
            tags: [],
            points: {
              exterior: [
                [1, 1],
                [2, 'x'],
              ],
              interior: [],
            },
          },
        ]),
        'field "points.exterior[1]": expected a number, got string "x"',
      ],
      [
        'a bitmap label without bitmap',
        ann([{ classTitle: 'bmp', tags: [], bitmap: null }]),
        'objects[0]: field "bitmap": expected an object, got null',
      ],
      [
        'broken base64 in a bitmap',
        ann([{ classTitle: 'bmp', tags: [], bitmap: { origin: [0, 0], data: 'eJ%%' } }]),
        'objects[0]: field "bitmap.data": bitmap data is not valid base64',
      ],
      [
        'broken zlib in a bitmap',
        ann([{ classTitle: 'bmp', tags: [], bitmap: { origin: [0, 0], data: 'eJzrDPBz' } }]),
        'field "bitmap.data": bitmap data is neither zlib-compressed nor a PNG',
      ],
      [
        'a non-PNG payload',
        ann([
          {
            classTitle: 'bmp',
            tags: [],
            bitmap: {
              origin: [0, 0],
              data: deflateSync(Buffer.from('hello')).toString('base64'),
            },
          },
        ]),
        'field "bitmap.data": bitmap data does not hold a PNG',
      ],
      [
        'a bitmap PNG declaring more pixels than the image (refused before decoding)',
        ann([{ classTitle: 'bmp', tags: [], bitmap: { origin: [2, 3], data: declaring(30000, 30000) } }]),
        'objects[0]: field "bitmap.data": bitmap PNG declares 30000x30000 pixels, larger than its 60x50 image',
      ],
    ])('%s', (_what, json, message) => {
      const e = errorOf(() => parse(json));
      expect(e.kind).toBe('data');
      expect(e.context.file).toBe(file);
      expect(e.message).toContain(message);
    });

    it('invalid JSON', () => {
      const e = errorOf(() => parseAnnotationText('{"size": {', meta, { file }));
      expect(e.message).toMatch(new RegExp(`^${file.replace(/\./g, '\\.')}: invalid JSON: `));
    });
  });
});
