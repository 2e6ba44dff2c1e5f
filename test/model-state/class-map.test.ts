import { TaskError } from '../../src/errors';
import type { ObjClassJson } from '../../src/format/types';
import {
  checkSpecialClassIds,
  compareCodePoints,
  createSegmentationClasses,
  makeNewClassToIdxMap,
  makeOutClasses,
  readModelClassMap,
} from '../../src/model-state/class-map';

const cls = (title: string, shape: ObjClassJson['shape'] = 'polygon', color = '#51c6aa'): ObjClassJson => ({
  title,
  shape,
  color,
  geometry_config: {},
  hotkey: '',
  id: 7,
});

/** The spec's worked example: classes {lemon, kiwi, bg, neutral}. */
const EXAMPLE = [
  cls('lemon', 'bitmap'),
  cls('kiwi', 'polygon', '#FF0000'),
  cls('bg', 'rectangle', '#010203'),
  cls('neutral'),
];
const SPECIAL = { background: 'bg', neutral: 'neutral' };

function thrown(fn: () => unknown): TaskError {
  try {
    fn();
  } catch (e) {
    if (e instanceof TaskError) return e;
    throw e;
  }
  throw new Error('expected a TaskError');
}

describe('class indexing (spec E.3)', () => {
  it('gives the worked example {"bg": 0, "kiwi": 1, "lemon": 2}', () => {
    const r = createSegmentationClasses({
      projectClasses: EXAMPLE,
      specialClasses: SPECIAL,
      weightsInitType: 'transfer_learning',
    });
    expect(r.classTitleToIdx).toEqual({ bg: 0, kiwi: 1, lemon: 2 });
    expect(r.numClasses).toBe(3);
    expect(r.ignoreIndex).toBe(3);
    expect(r.drawingClassToIdx).toEqual({ bg: 0, kiwi: 1, lemon: 2, neutral: 3 });
    expect(r.modeMessage).toBe('Transfer learning mode, using a class mapping created from scratch.');
  });

  it('makes every out class a bitmap in meta.json order, keeping colours (upper-cased), neutral excluded', () => {
    const r = createSegmentationClasses({
      projectClasses: EXAMPLE,
      specialClasses: SPECIAL,
      weightsInitType: 'transfer_learning',
    });
    expect(r.outClasses).toEqual([
      { title: 'lemon', shape: 'bitmap', color: '#51C6AA', geometry_config: {}, hotkey: '' },
      { title: 'kiwi', shape: 'bitmap', color: '#FF0000', geometry_config: {}, hotkey: '' },
      { title: 'bg', shape: 'bitmap', color: '#010203', geometry_config: {}, hotkey: '' },
    ]);
  });

  it('adds an absent background class with colour #222222 at the end, and index 0 in the map', () => {
    const r = createSegmentationClasses({
      projectClasses: [cls('square'), cls('circle')],
      specialClasses: { background: 'bg' },
      weightsInitType: 'transfer_learning',
    });
    expect(r.outClasses.map((c) => [c.title, c.color])).toEqual([
      ['square', '#51C6AA'],
      ['circle', '#51C6AA'],
      ['bg', '#222222'],
    ]);
    expect(r.classTitleToIdx).toEqual({ bg: 0, circle: 1, square: 2 });
    expect(r.ignoreIndex).toBeNull();
    expect(r.drawingClassToIdx).toEqual(r.classTitleToIdx);
  });

  it('without special classes starts ordinary classes at 1 and leaves 0 unused', () => {
    const r = createSegmentationClasses({
      projectClasses: [cls('b'), cls('a')],
      weightsInitType: 'transfer_learning',
    });
    expect(r.classTitleToIdx).toEqual({ a: 1, b: 2 });
    expect(r.numClasses).toBe(3);
  });

  it('sorts by code point like Python, not by locale or UTF-16 unit', () => {
    const titles = ['b', 'B', 'ä', 'a', '\u{1F600}', '\uFF01', 'Z'];
    const r = makeNewClassToIdxMap({ titles, startClassId: 1 });
    expect(
      Object.entries(r)
        .sort((x, y) => x[1] - y[1])
        .map(([t]) => t),
    ).toEqual(['B', 'Z', 'a', 'b', 'ä', '\uFF01', '\u{1F600}']);
    expect(compareCodePoints('ab', 'a')).toBeGreaterThan(0);
    expect(compareCodePoints('a', 'ab')).toBeLessThan(0);
    expect(compareCodePoints('x', 'x')).toBe(0);
  });

  it('skips preset ids when numbering, and treats titles like "constructor" as ordinary keys', () => {
    const r = makeNewClassToIdxMap({
      titles: ['constructor', 'a', 'toString'],
      startClassId: 0,
      presetIds: { bg: 1 },
    });
    expect(r).toEqual({ bg: 1, a: 0, constructor: 2, toString: 3 });
  });

  it('rejects duplicate titles, naming meta.json and the repeated title', () => {
    const e = thrown(() => makeNewClassToIdxMap({ titles: ['a', 'b', 'a'], startClassId: 1 }));
    expect(e.kind).toBe('data');
    expect(e.message).toBe('meta.json: field "classes": class titles must be unique; repeated: "a"');
  });

  it('rejects the same class as background and neutral', () => {
    const e = thrown(() =>
      createSegmentationClasses({
        projectClasses: EXAMPLE,
        specialClasses: { background: 'bg', neutral: 'bg' },
        weightsInitType: 'transfer_learning',
      }),
    );
    expect(e.kind).toBe('config');
    expect(e.context.field).toBe('special_classes');
    expect(() =>
      makeOutClasses({
        projectClasses: [],
        shape: 'bitmap',
        excludeTitles: ['x'],
        extraClasses: { x: '#000000' },
      }),
    ).toThrow(/both excluded and added/);
  });

  it('rejects a project with nothing to train', () => {
    const e = thrown(() =>
      createSegmentationClasses({
        projectClasses: [cls('neutral')],
        specialClasses: { neutral: 'neutral' },
        weightsInitType: 'transfer_learning',
      }),
    );
    expect(e.message).toMatch(/^meta\.json: field "classes": the project has no classes to train on/);
  });
});

describe('weights_init_type (spec E.4)', () => {
  const model = (map: unknown) => ({
    config: { settings: {}, class_title_to_idx: map },
    file: 'model/config.json',
  });

  it('continue_training reuses the model map when the key sets match, even with other indices', () => {
    const r = createSegmentationClasses({
      projectClasses: EXAMPLE,
      specialClasses: SPECIAL,
      weightsInitType: 'continue_training',
      model: model({ bg: 0, kiwi: 2, lemon: 1 }),
    });
    expect(r.classTitleToIdx).toEqual({ bg: 0, kiwi: 2, lemon: 1 });
    expect(r.drawingClassToIdx.neutral).toBe(3);
    expect(r.modeMessage).toBe('Continued training mode, reusing the existing class mapping from the model.');
  });

  it('continue_training lists precisely which classes are only in the model and which only in the project', () => {
    const e = thrown(() =>
      createSegmentationClasses({
        projectClasses: [cls('kiwi'), cls('lemon'), cls('apple')],
        specialClasses: SPECIAL,
        weightsInitType: 'continue_training',
        model: model({ bg: 0, kiwi: 1, lemon: 2, pear: 3, fig: 4 }),
      }),
    );
    expect(e.kind).toBe('model');
    expect(e.message).toBe(
      'model/config.json: field "class_title_to_idx": Unable to continue_training, sets of classes for model and ' +
        'dataset do not match. Only in the model: "fig", "pear". Only in the project (with the special classes): ' +
        '"apple". Use weights_init_type "transfer_learning" to train a new head, or make the classes match.',
    );
  });

  it('counts the preset background as a project class even if the project lacks it', () => {
    const e = thrown(() =>
      createSegmentationClasses({
        projectClasses: [cls('kiwi')],
        specialClasses: { background: 'bg' },
        weightsInitType: 'continue_training',
        model: model({ kiwi: 1 }),
      }),
    );
    expect(e.detail).toMatch(/Only in the project \(with the special classes\): "bg"\./);
    expect(e.detail).not.toMatch(/Only in the model/);
  });

  it('continue_training without a model config, or without a map in it, names the file', () => {
    const missing = thrown(() =>
      createSegmentationClasses({
        projectClasses: EXAMPLE,
        weightsInitType: 'continue_training',
        modelConfigFile: 'model/config.json',
      }),
    );
    expect(missing.message).toMatch(
      /^model\/config\.json: Unable to continue_training, config for previous training wasn't found\./,
    );
    const noMap = thrown(() =>
      createSegmentationClasses({
        projectClasses: EXAMPLE,
        weightsInitType: 'continue_training',
        model: { config: { settings: {} }, file: 'model/config.json' },
      }),
    );
    expect(noMap.message).toMatch(
      /field "class_title_to_idx": Unable to continue_training, model does not have class mapping/,
    );
    expect(() => readModelClassMap({ class_title_to_idx: { a: 1.5 } }, 'm.json')).toThrow(
      'm.json: field "class_title_to_idx.a": class "a" has index 1.5; expected a natural number',
    );
    expect(readModelClassMap({ class_title_to_idx: { a: 1, b: 0 } }, 'm.json')).toEqual({ a: 1, b: 0 });
  });

  it('rejects a model whose background index differs from the requested one', () => {
    const e = thrown(() =>
      createSegmentationClasses({
        projectClasses: EXAMPLE,
        specialClasses: SPECIAL,
        weightsInitType: 'continue_training',
        model: model({ bg: 2, kiwi: 0, lemon: 1 }),
      }),
    );
    expect(e.message).toBe(
      'model/config.json: field "class_title_to_idx.bg": Unable to start training. Effective integer id for class ' +
        '"bg" (2) does not match the requested value 0.',
    );
    expect(() => checkSpecialClassIds({ bg: 0 }, { bg: 0 })).not.toThrow();
    expect(() => checkSpecialClassIds({}, { constructor: 0 })).toThrow(/"constructor" \(undefined\)/);
  });

  it('rejects an unknown weights_init_type, listing the valid ones', () => {
    const e = thrown(() =>
      createSegmentationClasses({ projectClasses: EXAMPLE, weightsInitType: 'from_scratch' }),
    );
    expect(e.message).toBe(
      'field "weights_init_type": Unknown weights init type: "from_scratch". Expected one of: "transfer_learning", "continue_training"',
    );
  });
});
