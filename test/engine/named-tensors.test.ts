/**
 * Named tensors (issue #13): a network of two inputs trains on the tfjs engine and runs through the tfjs
 * inference engine, its batch's tensors bound to the model's inputs by the names its plugin declares; a wrong
 * name or shape is an error naming the tensor, the expected and the actual shape. The onnxruntime and
 * data-parallel engines are in named-tensors.contract.test.ts.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/select';
import { TfjsEngine } from '../../src/inference/engine/tfjs-engine';
import { loadNetworkPlugin } from '../../src/network/load-plugin';
import { networkTensorNames } from '../../src/network/types';
import { InProcessEngine } from '../../src/training/engine/in-process';
import type { Batch } from '../../src/training/engine/types';
import { timeWarmSteps } from '../../src/training/warm-steps';
import { maxRelativeDifference, weightsOf } from './tiny-model';
import { TWO_INPUT_NAMES, twoInputBatch, writeTwoInputPlugin } from './two-input-plugin';

const SIZE = 8;
const CLASSES = 3;
const IGNORE = 3;

beforeAll(async () => {
  await initBackend({ force: 'cpu', env: {} });
});

const plugin = loadNetworkPlugin(writeTwoInputPlugin(mkdtempSync(path.join(tmpdir(), 'named-'))));

function build(): tf.LayersModel {
  return plugin.build({ inputSize: { height: SIZE, width: SIZE }, numClasses: CLASSES, settings: {} });
}

function engine(model: tf.LayersModel, microBatches = 1): InProcessEngine {
  return new InProcessEngine({
    model,
    learningRate: 0.01,
    numClasses: CLASSES,
    ignoreIndex: IGNORE,
    microBatches,
    tensorNames: networkTensorNames(plugin),
  });
}

const batch = (seed: number, n = 4): Batch => twoInputBatch({ n, size: SIZE, labelMax: IGNORE, seed });

/** Mean cross-entropy over the counted pixels, in float64, from the model fed [image, hint]. */
function referenceLoss(model: tf.LayersModel, b: Batch): number {
  const p = tf.tidy(() => {
    const xs = [b.inputs.image, b.inputs.hint].map((t) => tf.tensor(t.data, [...t.shape]));
    return (model.apply(xs, { training: false }) as tf.Tensor).dataSync();
  });
  let sum = 0;
  let count = 0;
  b.labels.data.forEach((y, i) => {
    if (y === IGNORE) return;
    sum -= Math.log(p[i * CLASSES + y]);
    count++;
  });
  return sum / count;
}

describe('a network of two named inputs on the tfjs engines', () => {
  it('declares its inputs by name, which are not its layer names', () => {
    expect(networkTensorNames(plugin)).toEqual(TWO_INPUT_NAMES);
    const model = build();
    expect(model.inputLayers.map((l) => l.name)).toEqual(['rgb', 'extra']);
    model.dispose();
  });

  it('trains one step: the loss is the cross-entropy of the model fed both inputs, and the weights move', async () => {
    const model = build();
    const e = engine(model);
    expect(e.signature.inputs).toEqual([
      { name: 'image', shape: [SIZE, SIZE, 3] },
      { name: 'hint', shape: [SIZE, SIZE, 1] },
    ]);
    const b = batch(1);
    const expected = referenceLoss(model, b);
    const before = weightsOf(model);
    const r = await e.trainStep(b);
    expect(r.applied).toBe(true);
    expect(Math.abs(r.loss - expected) / expected).toBeLessThan(1e-5);
    expect(maxRelativeDifference(weightsOf(model), before)).toBeGreaterThan(1e-4);
    // Both inputs have gradients: the hint's conv learns too.
    const hintKernel = model.getLayer('c_hint').getWeights()[0].dataSync();
    const hintBefore = before[model.weights.findIndex((w) => w.name.startsWith('c_hint'))];
    expect(maxRelativeDifference([Float32Array.from(hintKernel)], [hintBefore])).toBeGreaterThan(1e-4);
    await e.dispose();
    model.dispose();
  });

  it('binds by name, not by the order of the batch: reordered tensors give the same step', async () => {
    const [a, b] = [build(), build()];
    b.setWeights(a.getWeights());
    const one = batch(2);
    const reordered: Batch = {
      inputs: { hint: one.inputs.hint, image: one.inputs.image },
      labels: one.labels,
    };
    const [ea, eb] = [engine(a), engine(b)];
    const [ra, rb] = [await ea.trainStep(one), await eb.trainStep(reordered)];
    expect(rb.loss).toBe(ra.loss);
    expect(maxRelativeDifference(weightsOf(a), weightsOf(b))).toBe(0);
    await Promise.all([ea.dispose(), eb.dispose()]);
    a.dispose();
    b.dispose();
  });

  it('micro-batches split every named input alike: the same step as the whole batch', async () => {
    const [a, b] = [build(), build()];
    b.setWeights(a.getWeights());
    const [ea, eb] = [engine(a), engine(b, 2)];
    const [ra, rb] = [await ea.trainStep(batch(3)), await eb.trainStep(batch(3))];
    expect(Math.abs(ra.loss - rb.loss) / ra.loss).toBeLessThan(1e-5);
    expect(maxRelativeDifference(weightsOf(a), weightsOf(b))).toBeLessThan(1e-4);
    const v = await eb.evalStep(batch(4));
    expect(v.pixels).toBeGreaterThan(0);
    await Promise.all([ea.dispose(), eb.dispose()]);
    a.dispose();
    b.dispose();
  });

  it('a wrong name, a missing input or a wrong shape fails, naming the tensor and both shapes', async () => {
    const model = build();
    const e = engine(model);
    const b = batch(5, 2);
    const { image, hint } = b.inputs;
    await expect(e.trainStep({ ...b, inputs: { image, hnit: hint } })).rejects.toThrow(
      'the network has no input "hnit"; its inputs are [image, hint]',
    );
    await expect(e.evalStep({ ...b, inputs: { image } })).rejects.toThrow(
      `the network's input "hint" [n, ${SIZE}, ${SIZE}, 1] is missing; given [image]`,
    );
    // The image fed as the hint: names swapped, shapes wrong.
    await expect(e.trainStep({ ...b, inputs: { image: hint, hint: image } })).rejects.toThrow(
      `input "image": expected shape [n, ${SIZE}, ${SIZE}, 3], got [2, ${SIZE}, ${SIZE}, 1]`,
    );
    const short = { data: hint.data.subarray(0, SIZE * SIZE), shape: [1, SIZE, SIZE, 1] };
    await expect(e.trainStep({ ...b, inputs: { image, hint: short } })).rejects.toThrow(
      /input "hint" of shape \[1, 8, 8, 1\] holds other than the labels' 2 samples/,
    );
    // Without the plugin's names the engine knows the model's layer names only, and says so.
    const unnamed = new InProcessEngine({
      model,
      learningRate: 0.01,
      numClasses: CLASSES,
      ignoreIndex: IGNORE,
    });
    await expect(unnamed.trainStep(b)).rejects.toThrow(
      'the network has no input "image"; its inputs are [rgb, extra]',
    );
    await Promise.all([e.dispose(), unnamed.dispose()]);
    model.dispose();
  });

  it('the warm steps time a synthetic batch of every named input and leave the weights as they were', async () => {
    const model = build();
    const e = engine(model);
    const before = weightsOf(model);
    const estimate = await timeWarmSteps({ engine: e, batchSize: 2, timedSteps: 1 });
    expect(estimate.stepSeconds).toBeGreaterThan(0);
    expect(maxRelativeDifference(weightsOf(model), before)).toBe(0);
    await e.dispose();
    model.dispose();
  });

  it('runs through the tfjs inference engine by name, as the model predicts; the one-input path refuses it', async () => {
    const model = build();
    const infer = await TfjsEngine.create({ model, tensorNames: networkTensorNames(plugin) });
    const b = batch(6, 2);
    const out = await infer.runNamed({ hint: b.inputs.hint, image: b.inputs.image });
    expect(Object.keys(out)).toEqual(['scores']);
    expect(out.scores.shape).toEqual([2, SIZE, SIZE, CLASSES]);
    const expected = tf.tidy(() =>
      (
        model.predict(
          [b.inputs.image, b.inputs.hint].map((t) => tf.tensor(t.data, [...t.shape])),
        ) as tf.Tensor
      ).dataSync(),
    );
    expect(maxRelativeDifference([out.scores.data], [Float32Array.from(expected)])).toBeLessThan(1e-6);
    await expect(infer.run(b.inputs.image.data, 2)).rejects.toThrow(
      `tfjs engine: the network takes [image [n, ${SIZE}, ${SIZE}, 3], hint [n, ${SIZE}, ${SIZE}, 1]]`,
    );
    await expect(infer.runNamed({ image: b.inputs.image, hint: b.inputs.image })).rejects.toThrow(
      `input "hint": expected shape [n, ${SIZE}, ${SIZE}, 1], got [2, ${SIZE}, ${SIZE}, 3]`,
    );
    await infer.dispose();
    model.dispose();
  });
});
