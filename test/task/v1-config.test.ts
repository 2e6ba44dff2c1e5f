import { convertFromV1InferenceConfig, isV1InferenceConfig } from '../../src/task/v1-config';

describe('v1 inference config conversion (spec A.3)', () => {
  it('leaves a v2 config (one with "model") as it is', () => {
    const v2 = { model: { gpu_device: 1 }, mode: { source: 'roi' }, other: 1 };
    expect(isV1InferenceConfig(v2)).toBe(false);
    expect(convertFromV1InferenceConfig(v2)).toEqual(v2);
  });

  it('renames mode.source to mode.name, lifts model_classes, and puts every other key under model', () => {
    const v1 = {
      mode: { source: 'bboxes', save: true },
      model_classes: { add_suffix: '_m', save_classes: ['a'] },
      gpu_device: 1,
      batch_size: 2,
    };
    expect(convertFromV1InferenceConfig(v1)).toEqual({
      model: { gpu_device: 1, batch_size: 2 },
      mode: { name: 'bboxes', save: true, model_classes: { add_suffix: '_m', save_classes: ['a'] } },
    });
  });

  it('keeps mode.model_classes over the top-level one, and uses {} when there is none', () => {
    expect(
      convertFromV1InferenceConfig({
        mode: { name: 'roi', model_classes: { add_suffix: 'x' } },
        model_classes: { add_suffix: 'y' },
      }).mode,
    ).toEqual({
      name: 'roi',
      model_classes: { add_suffix: 'x' },
    });
    expect(convertFromV1InferenceConfig({})).toEqual({ model: {}, mode: { model_classes: {} } });
  });

  it('passes a mode that is not an object through, for validation to name', () => {
    expect(convertFromV1InferenceConfig({ mode: 'roi' }).mode).toBe('roi');
  });
});
