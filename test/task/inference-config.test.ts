import { TaskError } from '../../src/errors';
import {
  builtInModeDefaults,
  effectiveModeConfig,
  resolveInferenceConfig,
  validateModeConfig,
} from '../../src/task/inference-config';
import { UNET_DEFAULT_MODE } from '../../plugin/unet/mode';

const unetDefault = {
  name: 'full_image',
  model_classes: { save_classes: '__all__', add_suffix: '_unet' },
  model_tags: { save_names: '__all__', add_suffix: '_unet' },
  save_probabilities: false,
};

function errorOf(run: () => unknown): TaskError {
  try {
    run();
  } catch (e) {
    if (e instanceof TaskError) return e;
    throw e;
  }
  throw new Error('expected a config error');
}

describe('inference mode built-in defaults (spec F.3)', () => {
  it('full_image: the common defaults', () => {
    expect(builtInModeDefaults('full_image')).toEqual({
      name: 'full_image',
      model_classes: { add_suffix: '', save_classes: '__all__' },
      model_tags: { add_suffix: '', save_classes: '__all__' },
      save_probabilities: false,
    });
  });

  it('roi, bboxes, sliding_window: their own fields, and feather blending', () => {
    expect(builtInModeDefaults('roi')).toMatchObject({
      bounds: { left: '0px', top: '0px', right: '0px', bottom: '0px' },
      save: false,
      class_name: 'inference_roi',
    });
    expect(builtInModeDefaults('bboxes')).toMatchObject({
      from_classes: '__all__',
      padding: { left: '0px', top: '0px', right: '0px', bottom: '0px' },
      save: false,
      add_suffix: '_input_bbox',
    });
    expect(builtInModeDefaults('sliding_window')).toMatchObject({
      window: { width: 128, height: 128 },
      min_overlap: { x: 0, y: 0 },
      save: false,
      class_name: 'sliding_window',
      blending: 'feather',
    });
  });
});

describe('effective mode config: task > plugin default (same mode) > built-in (spec F.3)', () => {
  it('an empty task mode takes the plugin default', () => {
    const mode = validateModeConfig(effectiveModeConfig({}, unetDefault));
    expect(mode).toEqual({
      name: 'full_image',
      model_classes: { add_suffix: '_unet', save_classes: '__all__' },
      model_tags: { add_suffix: '_unet', save_classes: '__all__' },
      save_probabilities: false,
    });
  });

  it('task values win over the plugin default', () => {
    const mode = validateModeConfig(
      effectiveModeConfig({ model_classes: { add_suffix: '_x' }, save_probabilities: true }, unetDefault),
    );
    expect(mode.model_classes.add_suffix).toBe('_x');
    expect(mode.model_tags.add_suffix).toBe('_unet');
    expect(mode.save_probabilities).toBe(true);
  });

  it('another mode does not inherit the plugin default (its suffix becomes "")', () => {
    const mode = validateModeConfig(
      effectiveModeConfig({ name: 'sliding_window', window: { width: 64, height: 64 } }, unetDefault),
    );
    expect(mode).toMatchObject({
      name: 'sliding_window',
      window: { width: 64, height: 64 },
      blending: 'feather',
    });
    expect(mode.model_classes.add_suffix).toBe('');
  });

  it('save_names wins over save_classes and is folded into save_classes', () => {
    const mode = validateModeConfig(
      effectiveModeConfig({ model_classes: { save_names: ['kiwi'] } }, unetDefault),
    );
    expect(mode.model_classes).toEqual({ add_suffix: '_unet', save_classes: ['kiwi'] });
  });

  it('no mode name anywhere is a clear error', () => {
    expect(errorOf(() => effectiveModeConfig({}, {})).message).toContain(
      'field "mode.name": no inference mode given',
    );
  });

  it('an unknown mode lists the valid ones and suggests the nearest', () => {
    const e = errorOf(() =>
      effectiveModeConfig({ name: 'slidingwindow' }, unetDefault, { file: 'task_config.json' }),
    );
    expect(e.message).toContain(
      'task_config.json: field "mode.name": unknown inference mode "slidingwindow"',
    );
    expect(e.message).toContain('did you mean "sliding_window"?');
    expect(e.message).toContain('valid modes: full_image, roi, bboxes, sliding_window');
  });
});

describe('mode validation (unknown keys refused)', () => {
  it.each([
    [
      { name: 'roi', bounds: { left: '10', top: '0px', right: '0px', bottom: '0px' } },
      'mode.bounds.left',
      'expected a string like "10px" or "5%", found "10" (a string)',
    ],
    [
      { name: 'sliding_window', window: { width: 0, height: 10 } },
      'mode.window.width',
      'expected a number >= 1, found 0',
    ],
    [{ name: 'sliding_window', blending: 'max' }, 'mode.blending', 'expected one of "sum", "feather"'],
    [
      { name: 'sliding_window', min_overlp: { x: 1, y: 1 } },
      'mode.min_overlp',
      'did you mean "min_overlap"?',
    ],
    [
      { name: 'bboxes', from_classes: [] },
      'mode.from_classes',
      'expected "__all__" or a non-empty list of names, found a list of 0 items',
    ],
    [
      { name: 'full_image', model_classes: { add_sufix: '_a' } },
      'mode.model_classes.add_sufix',
      'did you mean "add_suffix"?',
    ],
  ])('%j → field "%s"', (taskMode, field, text) => {
    const e = errorOf(() => resolveInferenceConfig({ model: {}, mode: taskMode }));
    expect(e.context.field).toBe(field);
    expect(e.message).toContain(text);
  });

  it('sides missing from the task come from the defaults; a config that lacks them names them', () => {
    const merged = effectiveModeConfig({ name: 'roi', bounds: { left: '1px' } });
    expect(validateModeConfig(merged)).toMatchObject({
      bounds: { left: '1px', top: '0px', right: '0px', bottom: '0px' },
    });
    const bounds = { left: '1px' };
    const e = errorOf(() => validateModeConfig({ ...builtInModeDefaults('roi'), bounds }));
    expect(e.message).toContain('field "mode.bounds.top": missing (it is required)');
  });
});

describe('whole inference config (spec A.3, F.1)', () => {
  it('the model section is merged over {gpu_device: 0, batch_size: 8} and validated', () => {
    const { modelConfig } = resolveInferenceConfig({
      model: { batch_size: 2 },
      mode: { name: 'full_image' },
    });
    expect(modelConfig).toEqual({ gpu_device: 0, batch_size: 2 });
    expect(errorOf(() => resolveInferenceConfig({ model: { batch_size: 0 } })).message).toContain(
      'field "model.batch_size": expected a number >= 1, found 0',
    );
    expect(errorOf(() => resolveInferenceConfig({ model: { gpu_devce: 1 } })).message).toContain(
      'did you mean "gpu_device"?',
    );
  });

  it('the preset from the stock plugin is accepted as is (spec G.3)', () => {
    const preset = {
      model: { gpu_device: 0 },
      mode: {
        name: 'full_image',
        model_classes: { save_classes: '__all__', add_suffix: '_unet' },
        model_tags: { save_names: '__all__', add_suffix: '_unet' },
        save_probabilities: false,
      },
    };
    expect(resolveInferenceConfig(preset).modeConfig.name).toBe('full_image');
  });

  it('a v1 config is converted first', () => {
    const { modelConfig, modeConfig } = resolveInferenceConfig(
      { gpu_device: 1, mode: { source: 'roi', save: true }, model_classes: { add_suffix: '_v1' } },
      { defaultModeConfig: UNET_DEFAULT_MODE },
    );
    expect(modelConfig.gpu_device).toBe(1);
    expect(modeConfig).toMatchObject({
      name: 'roi',
      save: true,
      model_classes: { add_suffix: '_v1', save_classes: '__all__' },
    });
  });

  it('an unknown top-level key in a v2 config is an error with a suggestion', () => {
    expect(errorOf(() => resolveInferenceConfig({ model: {}, mdoe: {} })).message).toContain(
      'field "mdoe": unknown key; did you mean "mode"?',
    );
  });

  it('a null model or mode section is an error, not an empty section', () => {
    expect(errorOf(() => resolveInferenceConfig({ model: null })).message).toContain(
      'field "model": expected an object, found null',
    );
    expect(errorOf(() => resolveInferenceConfig({ model: {}, mode: null })).message).toContain(
      'field "mode": expected an object, found null',
    );
    expect(errorOf(() => resolveInferenceConfig({ model: {}, mode: 'roi' })).message).toContain(
      'field "mode": expected an object, found "roi"',
    );
  });

  it('uses the plugin default mode when the task has none', () => {
    const { modeConfig } = resolveInferenceConfig({ model: {} }, { defaultModeConfig: UNET_DEFAULT_MODE });
    expect(modeConfig.model_classes.add_suffix).toBe('_unet');
  });
});
