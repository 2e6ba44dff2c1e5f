/**
 * The video annotation JSON (docs/supervisely-video-format.md V.3-V.5): the worked example V.8 read and written
 * back equal, and the reader accepting and rejecting what the SDK does (the table of V.9), each rejection
 * naming the file, the object or figure, and the field.
 */
import { deflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { TaskError } from '../../src/errors';
import { decodeBitmapData, encodeBitmap } from '../../src/format/bitmap-codec';
import { parseProjectMeta, projectMetaToJson } from '../../src/format/meta';
import type { BitmapGeometry } from '../../src/format/model';
import { encodeMaskPng } from '../../src/format/png-chunks';
import {
  parseVideoAnnotation,
  parseVideoAnnotationText,
  serializeVideoAnnotation,
  videoAnnotationToJson,
  type VideoAnnotation,
} from '../../src/format/video-annotation';
import { workedExample } from './video-spec-example';

const example = workedExample();
const exampleMeta = parseProjectMeta(example.meta, { file: 'proj/meta.json' });
const file = 'proj/ds0/ann/clip.mp4.json';
const parseExample = (json: unknown): VideoAnnotation => parseVideoAnnotation(json, exampleMeta, { file });

function errorOf(fn: () => unknown): TaskError {
  try {
    fn();
  } catch (e) {
    if (e instanceof TaskError) return e;
    throw e;
  }
  throw new Error('expected a TaskError');
}

/** The set pixels of a bitmap figure, as "x,y" in frame coordinates. */
function pixels(geometry: BitmapGeometry): string[] {
  const out: string[] = [];
  const { width, height, data } = geometry.mask;
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      if (data[y * width + x] !== 0) out.push(`${geometry.origin.x + x},${geometry.origin.y + y}`);
  return out;
}

describe('the worked example of V.8', () => {
  it('reads and writes back equal: meta.json and the annotation', () => {
    expect(projectMetaToJson(exampleMeta)).toEqual(example.meta);
    const annotation = parseExample(example.annotation);
    expect(videoAnnotationToJson(annotation)).toEqual(example.annotation);
    expect(JSON.parse(serializeVideoAnnotation(annotation))).toEqual(example.annotation);
    // Parsing what was written gives the same values.
    expect(parseExample(JSON.parse(serializeVideoAnnotation(annotation)))).toEqual(annotation);
  });

  it('writes the SDK key order (V.3.1, V.3.4) with 4-space indentation', () => {
    const text = serializeVideoAnnotation(parseExample(example.annotation));
    expect(Object.keys(JSON.parse(text))).toEqual([
      'size',
      'description',
      'key',
      'tags',
      'objects',
      'frames',
      'framesCount',
    ]);
    const figure = JSON.parse(text).frames[0].figures[0];
    expect(Object.keys(figure)).toEqual([
      'key',
      'objectKey',
      'geometryType',
      'geometry',
      'nnCreated',
      'nnUpdated',
    ]);
    expect(Object.keys(figure.geometry)).toEqual(['bitmap', 'shape', 'geometryType']);
    expect(text.split('\n')[1]).toBe('    "size": {');
  });

  it('holds the pixels the spec describes: person moving right, ball hidden on frame 1, back as a 2x2 block', () => {
    const annotation = parseExample(example.annotation);
    expect(annotation.size).toEqual({ height: 6, width: 8 });
    expect(annotation.framesCount).toBe(3);
    expect(annotation.objects.map((o) => [o.key, o.classTitle])).toEqual([
      ['11111111111111111111111111111111', 'person'],
      ['22222222222222222222222222222222', 'ball'],
    ]);
    const person = '11111111111111111111111111111111';
    const figures = annotation.frames.map((f) =>
      f.figures.map((g) => [
        g.objectKey === person ? 'person' : 'ball',
        pixels(g.geometry as BitmapGeometry),
      ]),
    );
    expect(figures).toEqual([
      [
        ['person', ['1,1', '2,1', '1,2', '2,2', '1,3', '2,3']],
        ['ball', ['5,4']],
      ],
      [['person', ['2,1', '3,1', '2,2', '3,2', '2,3', '3,3']]],
      [
        ['person', ['3,1', '4,1', '3,2', '4,2', '3,3', '4,3']],
        ['ball', ['6,3', '7,3', '6,4', '7,4']],
      ],
    ]);
    expect(annotation.frames[0].figures.map((f) => [f.nnCreated, f.nnUpdated])).toEqual([
      [false, false],
      [false, false],
    ]);
    expect(annotation.objects[1].tags[0]).toMatchObject({
      name: 'occluded',
      frameRange: [1, 1],
      isFinished: true,
    });
  });

  it('a mask made in code is encoded as the SDK encodes it, to the same pixels', () => {
    const annotation = parseExample(example.annotation);
    const ball = annotation.frames[2].figures[1];
    const { type, origin, mask } = ball.geometry as BitmapGeometry;
    const recoded = { ...ball, geometry: { type, origin, mask } };
    const frames = [annotation.frames[0], annotation.frames[1], { index: 2, figures: [recoded] }];
    const json = videoAnnotationToJson({ ...annotation, frames });
    const bitmap = (
      json.frames as { figures: { geometry: { bitmap: { data: string; origin: number[] } } }[] }[]
    )[2].figures[0].geometry.bitmap;
    expect(bitmap.data.startsWith('eJ')).toBe(true);
    expect(bitmap.origin).toEqual([6, 3]);
    expect(decodeBitmapData(bitmap.data)).toEqual(mask);
  });
});

// ---------------------------------------------------------------------------------------------------------------

const meta = parseProjectMeta(
  {
    classes: [
      { title: 'car', shape: 'bitmap', color: '#FF0000' },
      { title: 'road', shape: 'polygon', color: '#00FF00' },
      { title: 'thing', shape: 'any', color: '#0000FF' },
    ],
    tags: [
      { name: 'fast', value_type: 'none' },
      { name: 'speed', value_type: 'any_number' },
      { name: 'when', value_type: 'date', target_type: 'framesOnly' },
    ],
  },
  { file: 'proj/meta.json' },
);
const parse = (json: unknown): VideoAnnotation => parseVideoAnnotation(json, meta, { file });
const KEY_A = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const KEY_B = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';

const block = (w: number, h: number): { width: number; height: number; data: Uint8Array } => ({
  width: w,
  height: h,
  data: new Uint8Array(w * h).fill(1),
});
/** A bitmap figure of a w x h block at (x, y). */
function bitmapFigure(objectKey: string, x: number, y: number, w = 2, h = 2): Record<string, unknown> {
  return {
    objectKey,
    geometryType: 'bitmap',
    geometry: { bitmap: encodeBitmap(block(w, h), { x, y }) },
  };
}
/** A 20x10 video of 5 frames with a car (A) and a road (B); `frames` as given. */
function video(frames: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    size: { height: 10, width: 20 },
    tags: [],
    objects: [
      { key: KEY_A, classTitle: 'car', tags: [] },
      { key: KEY_B, classTitle: 'road', tags: [] },
    ],
    frames,
    framesCount: 5,
    ...extra,
  };
}
const withBitmapData = (data: string): unknown =>
  video([
    {
      index: 0,
      figures: [{ objectKey: KEY_A, geometryType: 'bitmap', geometry: { bitmap: { origin: [0, 0], data } } }],
    },
  ]);

describe('what the reader accepts, as the SDK (V.9)', () => {
  it('frames unsorted, a frame without figures or with none, and index == framesCount (the SDK off-by-one)', () => {
    const a = parse(
      video([
        { index: 3, figures: [bitmapFigure(KEY_A, 1, 1)] },
        { index: 1 },
        { index: 0, figures: [] },
        { index: 5 },
      ]),
    );
    expect(a.frames.map((f) => [f.index, f.figures.length])).toEqual([
      [3, 1],
      [1, 0],
      [0, 0],
      [5, 0],
    ]);
  });

  it('two figures of one object on one frame, duplicate figure keys, and an object without figures', () => {
    const f1 = { ...bitmapFigure(KEY_A, 0, 0), key: 'cccccccccccccccccccccccccccccccc' };
    const f2 = { ...bitmapFigure(KEY_A, 5, 5), key: 'cccccccccccccccccccccccccccccccc' };
    const a = parse(video([{ index: 0, figures: [f1, f2] }]));
    expect(a.frames[0].figures.map((f) => f.objectKey)).toEqual([KEY_A, KEY_A]);
  });

  it('no key and no description: a random UUID hex and ""; keys in any UUID form, written as UUID hex', () => {
    const a = parse(
      video([{ index: 0, figures: [bitmapFigure('AAAAAAAA-AAAA-AAAA-AAAA-AAAAAAAAAAAA', 0, 0)] }]),
    );
    expect(a.key).toMatch(/^[0-9a-f]{32}$/);
    expect(a.description).toBe('');
    expect(a.frames[0].figures[0].objectKey).toBe(KEY_A);
    expect(a.frames[0].figures[0].key).toMatch(/^[0-9a-f]{32}$/);
    const b = parse(video([], { key: '{urn:uuid:12345678-1234-5678-1234-567812345678}' }));
    expect(b.key).toBe('12345678123456781234567812345678');
  });

  it('polygons on a polygon class, any geometry on an "any" class; an 8-bit grey PNG bitmap', () => {
    const grey = new PNG({ width: 2, height: 1, colorType: 0, inputColorType: 0, bitDepth: 8 });
    grey.data = Buffer.from([0, 255]);
    const greyData = deflateSync(PNG.sync.write(grey, { colorType: 0, inputColorType: 0 })).toString(
      'base64',
    );
    const a = parse({
      ...video([
        {
          index: 0,
          figures: [
            {
              objectKey: KEY_B,
              geometryType: 'polygon',
              geometry: {
                points: {
                  exterior: [
                    [0, 0],
                    [19, 0],
                    [19, 9],
                  ],
                  interior: [],
                },
              },
            },
            {
              objectKey: KEY_A,
              geometryType: 'bitmap',
              geometry: { bitmap: { origin: [3, 3], data: greyData } },
            },
            {
              objectKey: 'dddddddddddddddddddddddddddddddd',
              geometryType: 'rectangle',
              geometry: {
                points: {
                  exterior: [
                    [1, 1],
                    [4, 4],
                  ],
                  interior: [],
                },
              },
            },
          ],
        },
      ]),
      objects: [
        { key: KEY_A, classTitle: 'car', tags: [] },
        { key: KEY_B, classTitle: 'road', tags: [] },
        { key: 'dddddddddddddddddddddddddddddddd', classTitle: 'thing', tags: [] },
      ],
    });
    expect(a.frames[0].figures.map((f) => f.geometry.type)).toEqual(['polygon', 'bitmap', 'rectangle']);
    expect(pixels(a.frames[0].figures[1].geometry as BitmapGeometry)).toEqual(['4,3']);
  });

  it('tags: frameRange beyond the video or reversed, unfinished tags, a valued tag without its value, date tags', () => {
    const a = parse(
      video([], {
        tags: [
          { name: 'fast', frameRange: [3, 90] },
          { name: 'fast', frameRange: [4, 2] },
          { name: 'speed', frameRange: [1, 4], isFinished: false, nonFinalValue: true },
          { name: 'when', value: '2024-01-31', frameRange: [0, 0] },
        ],
      }),
    );
    expect(a.tags.map((t) => [t.frameRange, t.isFinished, t.value])).toEqual([
      [[3, 90], true, undefined],
      [[4, 2], true, undefined],
      [[1, 1], false, undefined], // an unfinished tag covers its first frame, as in the SDK
      [[0, 0], true, '2024-01-31'],
    ]);
    expect(JSON.parse(serializeVideoAnnotation(a)).tags[0]).toEqual({
      name: 'fast',
      frameRange: [3, 90],
      isFinished: true,
      nonFinalValue: false,
      key: a.tags[0].key,
    });
  });

  it('keeps unknown keys (server fields) and writes them back; escapes non-ASCII as json.dump does', () => {
    const json = video([], { videoId: 7, videoName: 'clip.mp4', description: 'über 🚗' });
    const a = parse(json);
    const text = serializeVideoAnnotation(a);
    expect(text).toContain('"description": "\\u00fcber \\ud83d\\ude97"');
    expect(JSON.parse(text)).toMatchObject({ videoId: 7, videoName: 'clip.mp4', description: 'über 🚗' });
  });
});

describe('what the reader rejects, as the SDK (V.9), naming the file, the item and the field', () => {
  const figureOn = (index: number, figure: Record<string, unknown>): unknown =>
    video([{ index, figures: [figure] }]);
  const cases: [string, unknown, { item?: string; field?: string }, RegExp][] = [
    [
      'a frame index above framesCount',
      video([{ index: 6 }]),
      { item: 'frames[0]', field: 'index' },
      /outside the video/,
    ],
    [
      'a negative frame index',
      video([{ index: -1 }]),
      { item: 'frames[0]', field: 'index' },
      /outside the video/,
    ],
    [
      'two entries for one frame',
      video([{ index: 1 }, { index: 1 }]),
      { item: 'frames[1]', field: 'index' },
      /second entry for frame 1/,
    ],
    [
      'an unknown objectKey',
      figureOn(0, bitmapFigure('eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee', 0, 0)),
      { item: 'frames[0].figures[0]', field: 'objectKey' },
      /no object/,
    ],
    [
      'no objectKey',
      figureOn(0, { ...bitmapFigure(KEY_A, 0, 0), objectKey: undefined }),
      { field: 'objectKey' },
      /names no object/,
    ],
    [
      'objectId instead of objectKey',
      figureOn(0, { ...bitmapFigure(KEY_A, 0, 0), objectKey: undefined, objectId: 5 }),
      { field: 'objectKey' },
      /objectId/,
    ],
    [
      'no geometryType',
      figureOn(0, { ...bitmapFigure(KEY_A, 0, 0), geometryType: undefined }),
      { field: 'geometryType' },
      /geometry type/,
    ],
    [
      'a geometryType other than the class shape',
      figureOn(0, { ...bitmapFigure(KEY_B, 0, 0) }),
      { field: 'geometryType' },
      /shape is polygon/,
    ],
    [
      'a bitmap reaching outside the frame',
      figureOn(2, bitmapFigure(KEY_A, 19, 3)),
      { item: 'frames[0].figures[0]', field: 'geometry.bitmap' },
      /frame 2 covers x 19\.\.20.*outside the 20x10 frame/,
    ],
    [
      'a bitmap above the frame',
      figureOn(0, bitmapFigure(KEY_A, 0, -1)),
      { field: 'geometry.bitmap' },
      /outside/,
    ],
    [
      'a polygon outside the frame',
      figureOn(0, {
        objectKey: KEY_B,
        geometryType: 'polygon',
        geometry: {
          points: {
            exterior: [
              [0, 0],
              [20, 0],
              [5, 5],
            ],
            interior: [],
          },
        },
      }),
      { field: 'geometry.points' },
      /outside/,
    ],
    [
      'an all-zero bitmap',
      withBitmapData(
        deflateSync(encodeMaskPng({ width: 2, height: 2, data: new Uint8Array(4) })).toString('base64'),
      ),
      { field: 'geometry.bitmap.data' },
      /no pixel set/,
    ],
    [
      'a raw (non-zlib) 1-bit PNG',
      withBitmapData(encodeMaskPng(block(2, 2)).toString('base64')),
      { field: 'geometry.bitmap.data' },
      /without the zlib wrapper/,
    ],
    [
      'an RGB PNG',
      withBitmapData(
        deflateSync(
          PNG.sync.write(
            Object.assign(new PNG({ width: 1, height: 1 }), { data: Buffer.from([255, 255, 255, 255]) }),
            { colorType: 2 },
          ),
        ).toString('base64'),
      ),
      { field: 'geometry.bitmap.data' },
      /without transparency/,
    ],
    [
      'an object without tags',
      video([], { objects: [{ key: KEY_A, classTitle: 'car' }] }),
      { item: 'objects[0]', field: 'tags' },
      /expected an array/,
    ],
    [
      'an unknown classTitle',
      video([], { objects: [{ key: KEY_A, classTitle: 'bus', tags: [] }] }),
      { item: 'objects[0]', field: 'classTitle' },
      /"bus" is not defined/,
    ],
    [
      'duplicate object keys',
      video([], {
        objects: [
          { key: KEY_A, classTitle: 'car', tags: [] },
          { key: KEY_A, classTitle: 'car', tags: [] },
        ],
      }),
      { item: 'objects[1]', field: 'key' },
      /duplicate object key/,
    ],
    [
      'an object key that is not a UUID',
      video([], { objects: [{ key: 'car-1', classTitle: 'car', tags: [] }] }),
      { item: 'objects[0]', field: 'key' },
      /UUID/,
    ],
    ['an annotation key that is not a UUID', video([], { key: 'x' }), { field: 'key' }, /UUID/],
    ['no size.width', video([], { size: { height: 10 } }), { field: 'size.width' }, /positive integer/],
    ['no framesCount', video([], { framesCount: undefined }), { field: 'framesCount' }, /whole number/],
    ['framesCount as a string', video([], { framesCount: '5' }), { field: 'framesCount' }, /whole number/],
    ['no tags', video([], { tags: undefined }), { field: 'tags' }, /expected an array/],
    ['no objects', video([], { objects: undefined }), { field: 'objects' }, /expected an array/],
    ['no frames', video([], { frames: undefined }), { field: 'frames' }, /expected an array/],
    [
      'a frameRange with floats',
      video([], { tags: [{ name: 'fast', frameRange: [1.5, 2] }] }),
      { field: 'tags[0].frameRange' },
      /two integers/,
    ],
    [
      'a frameRange of 3 items',
      video([], { tags: [{ name: 'fast', frameRange: [1, 2, 3] }] }),
      { field: 'tags[0].frameRange' },
      /two integers/,
    ],
    [
      'an unfinished tag without frameRange',
      video([], { tags: [{ name: 'fast', isFinished: false }] }),
      { field: 'tags[0].isFinished' },
      /needs a frameRange/,
    ],
    [
      'a tag not in the meta',
      video([], { tags: [{ name: 'slow' }] }),
      { field: 'tags[0]' },
      /not defined in the project meta/,
    ],
    [
      'a tag value of the wrong type',
      video([], { tags: [{ name: 'speed', value: 'fast' }] }),
      { field: 'tags[0]' },
      /needs a number/,
    ],
    ['a bare-string tag', video([], { tags: ['fast'] }), { field: 'tags[0]' }, /bare tag name/],
    [
      'a bare-string object tag',
      video([], { objects: [{ key: KEY_A, classTitle: 'car', tags: ['fast'] }] }),
      { item: 'objects[0]', field: 'tags[0]' },
      /bare tag name/,
    ],
  ];
  it.each(cases)('%s', (_name, json, where, message) => {
    const e = errorOf(() => parse(json));
    expect(e.kind).toBe('data');
    expect(e.context.file).toBe(file);
    expect(e.context).toMatchObject(where);
    expect(e.message).toMatch(message);
  });

  it('invalid JSON text names the file', () => {
    const e = errorOf(() => parseVideoAnnotationText('{"size": ', meta, { file }));
    expect(e.message).toMatch(/^proj\/ds0\/ann\/clip\.mp4\.json: invalid JSON/);
  });
});
