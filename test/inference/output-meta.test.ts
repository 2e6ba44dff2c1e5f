import { TaskError } from '../../src/errors';
import { modeConfig } from './helpers/mode-config';
import { colorForName } from '../../src/format/color';
import { parseObjClass, parseProjectMeta, parseTagMeta } from '../../src/format/meta';
import { buildOutputMeta, type ModelOutMeta } from '../../src/inference/output-meta';

const inputMeta = parseProjectMeta(
  {
    classes: [
      { title: 'kiwi', shape: 'polygon', color: '#00FF00', geometry_config: {}, id: 7, hotkey: 'k' },
      { title: 'lemon', shape: 'bitmap', color: '#FFFF00' },
    ],
    tags: [{ name: 'train', value_type: 'none', color: '#0000FF' }],
  },
  { file: 'meta.json' },
);

const model: ModelOutMeta = {
  classes: [
    parseObjClass({ title: 'bg', shape: 'bitmap', color: '#000000', id: 99 }, {}),
    parseObjClass({ title: 'kiwi', shape: 'bitmap', color: '#11AA11' }, {}),
  ],
  tagMetas: [parseTagMeta({ name: 'confidence', value_type: 'any_number', color: '#FF0000' }, {})],
};

const suffix = { add_suffix: '_unet', save_classes: '__all__' } as const;

function catchError(fn: () => unknown): TaskError {
  try {
    fn();
  } catch (e) {
    if (e instanceof TaskError) return e;
    throw e;
  }
  throw new Error('expected a TaskError');
}

describe('output meta (spec F.3, F.4)', () => {
  it('full_image: input meta + renamed model classes (shape and colour kept) + renamed model tag metas', () => {
    const mode = modeConfig({ name: 'full_image', model_classes: suffix, model_tags: suffix });
    const out = buildOutputMeta({ inputMeta, model, mode });
    expect(out.meta.classes.map((c) => [c.title, c.shape, c.color])).toEqual([
      ['kiwi', 'polygon', '#00FF00'],
      ['lemon', 'bitmap', '#FFFF00'],
      ['bg_unet', 'bitmap', '#000000'],
      ['kiwi_unet', 'bitmap', '#11AA11'],
    ]);
    // The model's class id is not the results project's.
    expect(out.meta.classes[2].id).toBeUndefined();
    expect(out.meta.tagMetas.map((t) => t.name)).toEqual(['train', 'confidence_unet']);
    expect(out.classRenamer.rename('kiwi')).toBe('kiwi_unet');
    expect(out.tagRenamer.rename('confidence')).toBe('confidence_unet');
    expect(out.regionClass).toBeNull();
  });

  it('leaves out model classes that are not in save_classes', () => {
    const mode = modeConfig({
      name: 'full_image',
      model_classes: { add_suffix: '_m', save_classes: ['kiwi'] },
    });
    const out = buildOutputMeta({ inputMeta, model, mode });
    expect(out.meta.classes.map((c) => c.title)).toEqual(['kiwi', 'lemon', 'kiwi_m']);
  });

  it('a renamed model class clashing with an input class is an error naming the class and add_suffix', () => {
    const mode = modeConfig({ name: 'full_image', model_classes: { add_suffix: '' } });
    const err = catchError(() => buildOutputMeta({ inputMeta, model, mode }));
    expect(err.kind).toBe('config');
    expect(err.context.field).toBe('mode.model_classes.add_suffix');
    expect(err.message).toContain('"kiwi"');
    expect(err.message).toContain('add_suffix');
  });

  it('a renamed model tag clashing with an input tag is an error naming model_tags.add_suffix', () => {
    const m: ModelOutMeta = {
      classes: [],
      tagMetas: [parseTagMeta({ name: 'train', value_type: 'none' }, {})],
    };
    const err = catchError(() =>
      buildOutputMeta({ inputMeta, model: m, mode: modeConfig({ name: 'full_image' }) }),
    );
    expect(err.context.field).toBe('mode.model_tags.add_suffix');
    expect(err.message).toContain('"train"');
  });

  it('roi / sliding_window with save add the class_name rectangle class; without save they do not', () => {
    const roi = modeConfig({
      name: 'roi',
      model_classes: suffix,
      bounds: { left: '0px', top: '0px', right: '0px', bottom: '0px' },
      save: true,
      class_name: 'inference_roi',
    });
    const out = buildOutputMeta({ inputMeta, model, mode: roi });
    const added = out.meta.classes.find((c) => c.title === 'inference_roi');
    expect(added).toEqual({
      title: 'inference_roi',
      shape: 'rectangle',
      color: colorForName('inference_roi'),
      geometryConfig: {},
      hotkey: '',
    });
    expect(out.meta.classByTitle.get('inference_roi')).toBe(added);
    expect(out.regionClass).toBe('inference_roi');
    const noSave = buildOutputMeta({ inputMeta, model, mode: modeConfig({ ...roi, save: false }) });
    expect(noSave.meta.classes.some((c) => c.title === 'inference_roi')).toBe(false);
    expect(noSave.regionClass).toBeNull();

    const sw = modeConfig({
      name: 'sliding_window',
      model_classes: suffix,
      window: { width: 8, height: 8 },
      min_overlap: { x: 0, y: 0 },
      save: true,
      class_name: 'lemon',
      blending: 'sum',
    });
    const err = catchError(() => buildOutputMeta({ inputMeta, model, mode: sw }));
    expect(err.context.field).toBe('mode.class_name');
  });

  it('bboxes with save add `<class><add_suffix>` rectangles for the selected input classes', () => {
    const mode = modeConfig({
      name: 'bboxes',
      model_classes: suffix,
      from_classes: ['kiwi'],
      padding: { left: '0px', top: '0px', right: '0px', bottom: '0px' },
      save: true,
      add_suffix: '_input_bbox',
    });
    const out = buildOutputMeta({ inputMeta, model, mode });
    expect(out.meta.classes.slice(4)).toEqual([
      { title: 'kiwi_input_bbox', shape: 'rectangle', color: '#00FF00', geometryConfig: {}, hotkey: '' },
    ]);
    expect([...out.boxClassBySource]).toEqual([['kiwi', 'kiwi_input_bbox']]);

    const clash = catchError(() =>
      buildOutputMeta({
        inputMeta,
        model,
        mode: modeConfig({ ...mode, from_classes: '__all__', add_suffix: '' }),
      }),
    );
    expect(clash.context.field).toBe('mode.add_suffix');
    expect(clash.message).toContain('"kiwi"');
  });

  it('does not change the input meta object', () => {
    const before = JSON.stringify(inputMeta.classes) + JSON.stringify(inputMeta.tagMetas);
    buildOutputMeta({ inputMeta, model, mode: modeConfig({ name: 'full_image', model_classes: suffix }) });
    expect(JSON.stringify(inputMeta.classes) + JSON.stringify(inputMeta.tagMetas)).toBe(before);
    expect(inputMeta.classByTitle.has('kiwi_unet')).toBe(false);
  });
});
