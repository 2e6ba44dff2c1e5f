import * as tf from '@tensorflow/tfjs';
import { TaskError } from '../../src/errors';
import { network, levelFilters, parseUnetSettings } from '../../plugin/unet';
import { HEAD_CONV_NAME, HEAD_SOFTMAX_NAME } from '../../plugin/unet/build';
import schema from '../../plugin/unet/settings.schema.json';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function countWeights(weights: tf.LayerVariable[]): number {
  return weights.reduce((sum, w) => sum + w.shape.reduce<number>((p, d) => p * (d ?? 1), 1), 0);
}

describe('U-Net plugin (spec G.1)', () => {
  test('the bench configuration (depth 4, 16 -> 128 filters, 4 classes, 128x128) has 1,289,188 parameters', () => {
    const settings = parseUnetSettings({ depth: 4, base_filters: 16, max_filters: 128 });
    const before = tf.memory().numTensors;
    const model = network.build({ inputSize: { height: 128, width: 128 }, numClasses: 4, settings });
    // 1.29 M in all: 1,286,756 trainable + 2,432 BatchNorm moving statistics (2 x 1,216 BN channels).
    expect(model.countParams()).toBe(1_289_188);
    expect(countWeights(model.trainableWeights)).toBe(1_286_756);
    expect(countWeights(model.nonTrainableWeights)).toBe(2_432);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  test('filters double per level up to max_filters', () => {
    expect(levelFilters(parseUnetSettings({ depth: 4, base_filters: 16, max_filters: 128 }))).toEqual([
      16, 32, 64, 128, 128,
    ]);
    expect(levelFilters(parseUnetSettings({ depth: 2, base_filters: 3, max_filters: 1000 }))).toEqual([
      3, 6, 12,
    ]);
  });

  test('defaults come from the schema file and are the bench configuration', () => {
    expect(network.defaults).toEqual({
      depth: schema.properties.depth.default,
      base_filters: schema.properties.base_filters.default,
      max_filters: schema.properties.max_filters.default,
      bn_momentum: schema.properties.bn_momentum.default,
    });
    expect(network.defaults).toMatchObject({ depth: 4, base_filters: 16, max_filters: 128 });
    expect(parseUnetSettings(undefined)).toEqual(network.defaults);
    expect(parseUnetSettings({ depth: 2 })).toEqual({ ...network.defaults, depth: 2 });
  });

  test('bad settings are config errors naming the field', () => {
    const cases: [unknown, string][] = [
      [{ depth: 0 }, 'custom_model_config.depth'],
      [{ depth: 2.5 }, 'custom_model_config.depth'],
      [{ base_filters: '16' }, 'custom_model_config.base_filters'],
      [{ bn_momentum: 1 }, 'custom_model_config.bn_momentum'],
      [{ dept: 3 }, 'custom_model_config.dept'],
      [[1, 2], 'custom_model_config'],
    ];
    for (const [raw, field] of cases) {
      let caught: unknown;
      try {
        parseUnetSettings(raw);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(TaskError);
      expect((caught as TaskError).kind).toBe('config');
      expect((caught as TaskError).context.field).toBe(field);
    }
  });

  test('an input size that is not a multiple of 2^depth is a config error naming input_size', () => {
    const settings = parseUnetSettings({ depth: 3, base_filters: 2 });
    expect(() => network.build({ inputSize: { height: 64, width: 36 }, numClasses: 2, settings })).toThrow(
      /input_size\.width.*multiple of 8, found 36/,
    );
  });

  test('softmax NHWC output, every layer named uniquely and stable across builds', () => {
    const settings = parseUnetSettings({ depth: 2, base_filters: 4, max_filters: 8 });
    const opts = { inputSize: { height: 16, width: 24 }, numClasses: 3, settings };
    const a = network.build(opts);
    const b = network.build(opts);
    const names = a.layers.map((l) => l.name);
    expect(new Set(names).size).toBe(names.length);
    expect(b.layers.map((l) => l.name)).toEqual(names);
    expect(names).toEqual(
      expect.arrayContaining(['image', 'enc0_conv1', 'mid_bn2', 'dec0_up', 'dec1_concat']),
    );
    expect(names.slice(-2)).toEqual([HEAD_CONV_NAME, HEAD_SOFTMAX_NAME]);
    expect(network.headLayerNames).toEqual([HEAD_CONV_NAME, HEAD_SOFTMAX_NAME]);
    // No auto-generated names (tfjs would call them conv2d_Conv2D1 and so on).
    for (const name of names) expect(name).not.toMatch(/_[A-Z][A-Za-z0-9]+\d+$/);

    const before = tf.memory().numTensors;
    const y = tf.tidy(() => a.predict(tf.randomUniform([2, 16, 24, 3])) as tf.Tensor);
    expect(y.shape).toEqual([2, 16, 24, 3]);
    const sums = tf.tidy(() => y.sum(-1).sub(1).abs().max().dataSync()[0]);
    expect(sums).toBeLessThan(1e-5);
    expect(tf.tidy(() => y.min().dataSync()[0])).toBeGreaterThanOrEqual(0);
    y.dispose();
    expect(tf.memory().numTensors).toBe(before);
    a.dispose();
    b.dispose();
  });

  test('buildHead puts a fresh head of the requested class count on given features', () => {
    const settings = parseUnetSettings({ depth: 1, base_filters: 2 });
    const features = tf.input({ shape: [8, 8, 5] });
    const out = network.buildHead(features, { numClasses: 7, settings });
    const model = tf.model({ inputs: features, outputs: out });
    expect(model.outputs[0].shape).toEqual([null, 8, 8, 7]);
    expect(model.layers.slice(1).map((l) => l.name)).toEqual([...network.headLayerNames]);
    model.dispose();
  });
});
