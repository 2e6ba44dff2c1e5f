import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { network } from '../../plugin/unet';
import { TaskError } from '../../src/errors';
import { saveModelToDir } from '../../src/network/io';
import { withSeededRandom } from '../../src/network/seeded-build';
import { buildAndInitModel, copyWeights } from '../../src/network/transfer';
import { predictArray, TINY_SETTINGS, TINY_SIZE, tinyBatch, tinyUnet, trainStep, weightValues } from './tiny';

let tmp: string;
/** A tiny U-Net with 3 classes, trained two steps (so no weight is at its initial value), saved with Adam. */
let checkpointDir: string;
let trained: tf.LayersModel;

beforeAll(async () => {
  await tf.setBackend('cpu');
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'transfer-test-'));
  checkpointDir = path.join(tmp, 'checkpoint');
  trained = tinyUnet(3);
  const adam = tf.train.adam(0.01);
  for (const seed of [1, 2]) {
    const batch = tinyBatch(2, 3, seed);
    trainStep(trained, adam, batch);
    tf.dispose([batch.x, batch.y]);
  }
  await saveModelToDir(trained, checkpointDir, { optimizer: adam });
  adam.dispose();
});
afterAll(async () => {
  trained.dispose();
  await fsp.rm(tmp, { recursive: true, force: true });
});

const HEAD = network.headLayerNames;
const isHeadWeight = (name: string): boolean => HEAD.some((h) => name.startsWith(`${h}/`));

async function caught(p: Promise<unknown>): Promise<TaskError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(TaskError);
  return e as TaskError;
}

describe('transfer learning (spec E.4, weights_init_type = transfer_learning)', () => {
  test('onto another class count and input size: every non-head weight bit-identical, the head fresh', async () => {
    const before = tf.memory().numTensors;
    const { model, init, report } = await buildAndInitModel({
      network,
      settings: TINY_SETTINGS,
      inputSize: { height: 16, width: 24 },
      numClasses: 5,
      weightsInitType: 'transfer_learning',
      modelDir: checkpointDir,
    });
    expect(init).toBe('transfer_learning');
    expect(report.freshLayers).toEqual(['head_conv']);
    const source = weightValues(trained);
    const target = weightValues(model);
    let compared = 0;
    for (const [name, values] of target) {
      if (isHeadWeight(name)) continue;
      expect(values).toEqual(source.get(name));
      compared++;
    }
    expect(compared).toBe(trained.weights.length - 2);
    expect(model.getLayer('head_conv').getWeights()[0].shape).toEqual([1, 1, 2, 5]);
    expect(model.outputs[0].shape).toEqual([null, 16, 24, 5]);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  test('with the same class count the head is still re-initialised', () => {
    const target = tinyUnet(3);
    const report = copyWeights({ source: trained, target, mode: 'transfer_learning', headLayerNames: HEAD });
    expect(report.freshLayers).toEqual(['head_conv']);
    const src = weightValues(trained).get('head_conv/kernel')!;
    const dst = weightValues(target).get('head_conv/kernel')!;
    expect(dst.length).toBe(src.length);
    expect(dst).not.toEqual(src);
    // The fresh bias is zero (the initialiser), the trained one is not.
    expect(Array.from(weightValues(target).get('head_conv/bias')!)).toEqual([0, 0, 0]);
    target.dispose();
  });

  test('the source stays intact when the target trains', () => {
    const target = tinyUnet(4);
    copyWeights({ source: trained, target, mode: 'transfer_learning', headLayerNames: HEAD });
    const before = weightValues(trained);
    const adam = tf.train.adam(0.05);
    const batch = tinyBatch(2, 4, 9);
    trainStep(target, adam, batch);
    expect(weightValues(trained)).toEqual(before);
    expect(weightValues(target).get('enc0_conv1/kernel')).not.toEqual(before.get('enc0_conv1/kernel'));
    tf.dispose([batch.x, batch.y]);
    adam.dispose();
    target.dispose();
  });

  test('a checkpoint of other network settings is a model error naming the layer and both shapes', async () => {
    const err = await caught(
      buildAndInitModel({
        network,
        settings: network.parseSettings({ depth: 2, base_filters: 4, max_filters: 4 }),
        inputSize: TINY_SIZE,
        numClasses: 3,
        weightsInitType: 'transfer_learning',
        modelDir: checkpointDir,
      }),
    );
    expect(err.kind).toBe('model');
    expect(err.context.file).toBe(path.join(checkpointDir, 'model.json'));
    expect(err.context.item).toBe('layer "enc0_conv1"');
    expect(err.message).toMatch(
      /layer "enc0_conv1" weight "enc0_conv1\/kernel" has shape \[3, 3, 3, 2\] in the checkpoint and \[3, 3, 3, 4\] in the network/,
    );
    expect(err.message).toMatch(/and \d+ more\. transfer_learning needs the same network settings/);
  });

  test('a deeper network than the checkpoint lists the missing layers', async () => {
    const err = await caught(
      buildAndInitModel({
        network,
        settings: network.parseSettings({ depth: 3, base_filters: 2, max_filters: 4 }),
        inputSize: TINY_SIZE,
        numClasses: 3,
        weightsInitType: 'transfer_learning',
        modelDir: checkpointDir,
      }),
    );
    expect(err.message).toMatch(
      /layer "enc2_conv1" missing from the checkpoint; the network needs enc2_conv1\/kernel \[3, 3, 4, 4\]/,
    );
  });
});

describe('continue training (spec E.4, weights_init_type = continue_training)', () => {
  test('restores identical predictions and the optimizer state', async () => {
    const before = tf.memory().numTensors;
    const adam = tf.train.adam(0.01);
    const { model, init, report, restoredOptimizer } = await buildAndInitModel({
      network,
      settings: TINY_SETTINGS,
      inputSize: TINY_SIZE,
      numClasses: 3,
      weightsInitType: 'continue_training',
      modelDir: checkpointDir,
      optimizer: adam,
    });
    expect(init).toBe('continue_training');
    expect(report.freshLayers).toEqual([]);
    expect(restoredOptimizer).toBe(true);
    const { x, y } = tinyBatch(3, 3, 42);
    expect(predictArray(model, x)).toEqual(predictArray(trained, x));
    expect(weightValues(model)).toEqual(weightValues(trained));
    tf.dispose([x, y]);
    model.dispose();
    adam.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  test('a different class count is a model error naming the head layer and both shapes', async () => {
    const err = await caught(
      buildAndInitModel({
        network,
        settings: TINY_SETTINGS,
        inputSize: TINY_SIZE,
        numClasses: 4,
        weightsInitType: 'continue_training',
        modelDir: checkpointDir,
      }),
    );
    expect(err.context.item).toBe('layer "head_conv"');
    expect(err.message).toMatch(
      /weight "head_conv\/kernel" has shape \[1, 1, 2, 3\] in the checkpoint and \[1, 1, 2, 4\] in the network/,
    );
    expect(err.message).toMatch(/continue_training needs the same network settings and classes/);
  });

  test('a missing weight in the checkpoint is an error (strict load)', () => {
    const target = tinyUnet(3);
    // A source without the bottleneck: rebuild a smaller graph sharing the first layers' names.
    const input = tf.input({ name: 'image', shape: [8, 8, 3] });
    const conv = tf.layers.conv2d({
      name: 'enc0_conv1',
      filters: 2,
      kernelSize: 3,
      padding: 'same',
      useBias: false,
    });
    const source = tf.model({ inputs: input, outputs: conv.apply(input) as tf.SymbolicTensor });
    expect(() => copyWeights({ source, target, mode: 'continue_training', headLayerNames: HEAD })).toThrow(
      /layer "enc0_bn1" missing from the checkpoint; the network needs enc0_bn1\/gamma \[2\], enc0_bn1\/beta \[2\], enc0_bn1\/moving_mean \[2\], enc0_bn1\/moving_variance \[2\]/,
    );
    // All or nothing: nothing was copied before the error.
    expect(weightValues(target).get('enc0_conv1/kernel')).not.toEqual(
      weightValues(source).get('enc0_conv1/kernel'),
    );
    source.dispose();
    target.dispose();
  });
});

describe('the model folder (spec E.4: an empty model/ trains from scratch)', () => {
  test('empty, dot files only, or absent: from scratch', async () => {
    const empty = path.join(tmp, 'empty');
    await fsp.mkdir(empty, { recursive: true });
    await fsp.writeFile(path.join(empty, '.DS_Store'), 'x');
    for (const modelDir of [empty, path.join(tmp, 'absent')]) {
      const result = await buildAndInitModel({
        network,
        settings: TINY_SETTINGS,
        inputSize: TINY_SIZE,
        numClasses: 2,
        weightsInitType: 'continue_training',
        modelDir,
      });
      expect(result.init).toBe('scratch');
      expect(result.report.copiedLayers).toEqual([]);
      expect(result.report.freshLayers).toContain('head_conv');
      result.model.dispose();
    }
  });

  test("a folder with another plugin's weights names model.json and lists what is there", async () => {
    const dir = path.join(tmp, 'pytorch');
    await fsp.mkdir(dir, { recursive: true });
    await fsp.writeFile(path.join(dir, 'config.json'), '{}');
    await fsp.writeFile(path.join(dir, 'model.pt'), 'x');
    const before = tf.memory().numTensors;
    const err = await caught(
      buildAndInitModel({
        network,
        settings: TINY_SETTINGS,
        inputSize: TINY_SIZE,
        numClasses: 2,
        weightsInitType: 'transfer_learning',
        modelDir: dir,
      }),
    );
    expect(err.message).toBe(
      `${dir}/model.json: not found; the model folder holds config.json, model.pt, which is not a TensorFlow.js ` +
        'model of the unet network (is it a model of another plugin?)',
    );
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('seeded initial weights (seeded-build.ts: tfjs ignores initialiser seeds, tfjs issue 7104)', () => {
  async function fromScratch(seed: number | undefined): Promise<Map<string, Float32Array>> {
    const { model } = await buildAndInitModel({
      network,
      settings: TINY_SETTINGS,
      inputSize: TINY_SIZE,
      numClasses: 3,
      weightsInitType: 'transfer_learning',
      ...(seed !== undefined ? { seed } : {}),
    });
    try {
      return weightValues(model);
    } finally {
      model.dispose();
    }
  }
  /** The kernels only: biases and batch-norm statistics start as constants whatever the seed. */
  const kernels = (w: Map<string, Float32Array>) =>
    [...w].filter(([name]) => name.endsWith('/kernel')).map(([name, v]) => [name, Array.from(v)]);

  it('the same seed gives the same weights; another seed, or none, other weights', async () => {
    const a = kernels(await fromScratch(7));
    expect(a.length).toBeGreaterThan(0);
    expect(kernels(await fromScratch(7))).toEqual(a);
    expect(kernels(await fromScratch(8))).not.toEqual(a);
    expect(kernels(await fromScratch(undefined))).not.toEqual(a);
  });

  it('gives Math.random back afterwards, even when the build throws', () => {
    const original = Math.random;
    expect(withSeededRandom(1, () => Math.random())).toBe(withSeededRandom(1, () => Math.random()));
    expect(Math.random).toBe(original);
    expect(() =>
      withSeededRandom(1, () => {
        throw new Error('no network');
      }),
    ).toThrow('no network');
    expect(Math.random).toBe(original);
  });
});
