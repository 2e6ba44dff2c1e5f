/**
 * @jest-environment ./test/onnx/ort-environment.js
 */
/**
 * The loss scores a named output (LossOptions.output): a network of two outputs, `aux` (2 channels) then
 * `scores` (3), trains with the loss on `scores` on every engine. The first step's loss is the cross-entropy of
 * `scores` computed here from the model's own prediction, the loss falls, `aux`'s head is left as it was, and
 * the onnxruntime and data-parallel engines take the in-process engine's steps. A loss naming an output the
 * network does not have fails, naming it and the network's outputs.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { initBackend } from '../../src/backend/select';
import { loadNetworkPlugin } from '../../src/network/load-plugin';
import { networkTensorNames } from '../../src/network/types';
import { InProcessEngine } from '../../src/training/engine/in-process';
import { OnnxTrainEngine } from '../../src/training/engine/onnx-engine';
import type { Batch } from '../../src/training/engine/types';
import { agreesWithInProcess, dataParallelEngine, onnxruntimeEngine, type EngineSetup } from './agreement';
import { ensureBuilt } from './built';
import { maxRelativeDifference } from './tiny-model';

const SIZE = 8;
const CLASSES = 3;

/** A trunk conv, then two heads: `aux` (2 channels) and `scores` (the classes), each a 1x1 conv and a softmax. */
const SOURCE = `const tf = require(${JSON.stringify(require.resolve('@tensorflow/tfjs'))});
const seeded = (seed) => tf.initializers.glorotUniform({ seed });
function head(name, features, filters, seed) {
  const logits = tf.layers.conv2d({ name: name + '_conv', filters, kernelSize: 1, kernelInitializer: seeded(seed) }).apply(features);
  return tf.layers.activation({ name, activation: 'softmax' }).apply(logits);
}
exports.network = {
  name: 'two-output', task: 'semantic_segmentation',
  inputs: [{ name: 'image', channels: 3 }], outputs: ['aux', 'scores'],
  defaults: {}, settingsSchema: { type: 'object' }, headLayerNames: ['scores_conv', 'scores'],
  preprocessing: { mean: [0, 0, 0], std: [1, 1, 1] },
  parseSettings: (s) => s || {},
  buildHead: (features, o) => head('scores', features, o.numClasses, 3),
  build(o) {
    const image = tf.input({ name: 'image', shape: [o.inputSize.height, o.inputSize.width, 3] });
    const trunk = tf.layers.conv2d({ name: 'trunk', filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: seeded(1) }).apply(image);
    return tf.model({ name: 'two_output', inputs: image, outputs: [head('aux', trunk, 2, 2), head('scores', trunk, o.numClasses, 3)] });
  },
};
`;

let pluginModule: string;
beforeAll(async () => {
  ensureBuilt();
  pluginModule = path.join(mkdtempSync(path.join(tmpdir(), 'scored-output-')), 'two-output-plugin.js');
  writeFileSync(pluginModule, SOURCE);
  await initBackend({ force: 'wasm', env: {} });
});

const buildOptions = { inputSize: { height: SIZE, width: SIZE }, numClasses: CLASSES, settings: {} };
const plugin = () => loadNetworkPlugin(pluginModule);
const build = (): tf.LayersModel => plugin().build(buildOptions);
const common = (output = 'scores') => ({
  learningRate: 0.05,
  numClasses: CLASSES,
  ignoreIndex: null,
  output,
  tensorNames: networkTensorNames(plugin()),
});

/** Seeded images whose class is the sign of the red channel (learnable), labels of the `scores` output. */
function batch(seed: number, n = 4): Batch {
  let s = seed >>> 0;
  const rnd = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296;
  const px = n * SIZE * SIZE;
  const image = Float32Array.from({ length: px * 3 }, () => rnd() * 2 - 1);
  const labels = Int32Array.from({ length: px }, (_, p) =>
    image[3 * p] > 0.3 ? 2 : image[3 * p] < -0.3 ? 0 : 1,
  );
  return {
    inputs: { image: { data: image, shape: [n, SIZE, SIZE, 3] } },
    labels: { data: labels, shape: [n, SIZE, SIZE] },
  };
}

/** Mean cross-entropy of the model's `scores` (its second output) over the batch, in float64. */
function referenceLoss(model: tf.LayersModel, b: Batch): number {
  const p = tf.tidy(() => {
    const x = tf.tensor(b.inputs.image.data, [...b.inputs.image.shape]);
    return (model.predict(x) as tf.Tensor[])[1].dataSync();
  });
  let sum = 0;
  b.labels.data.forEach((y, i) => (sum -= Math.log(p[i * CLASSES + y])));
  return sum / b.labels.data.length;
}

/** The weights of the layers whose names start with `prefix`, copied. */
function layerWeights(model: tf.LayersModel, prefix: string): Float32Array[] {
  return model.layers
    .filter((l) => l.name.startsWith(prefix))
    .flatMap((l) => l.getWeights().map((w) => Float32Array.from(w.dataSync())));
}

describe('a loss that scores the second of two outputs', () => {
  it('the tfjs engine: its loss is the cross-entropy of that output, falls, and leaves the other head alone', async () => {
    const model = build();
    const engine = new InProcessEngine({ ...common(), model });
    try {
      const b = batch(1);
      const expected = referenceLoss(model, b);
      const aux = layerWeights(model, 'aux');
      const first = await engine.trainStep(b);
      expect(Math.abs(first.loss - expected) / expected).toBeLessThan(1e-5);
      let last = first.loss;
      for (let step = 0; step < 15; step++) last = (await engine.trainStep(b)).loss;
      expect(last).toBeLessThan(0.8 * first.loss);
      expect(layerWeights(model, 'aux')).toEqual(aux);
      expect(
        maxRelativeDifference(layerWeights(model, 'scores'), layerWeights(build(), 'scores')),
      ).toBeGreaterThan(1e-3);
      const e = await engine.evalStep(b);
      expect(e.numClasses).toBe(CLASSES);
      expect(e.loss).toBeCloseTo(referenceLoss(model, b), 4);
    } finally {
      await engine.dispose();
      model.dispose();
    }
  });

  it.each([
    ['onnxruntime', (setup: EngineSetup) => onnxruntimeEngine(setup), 1e-3],
    ['data-parallel', dataParallelEngine, 1e-5],
  ] as const)("the %s engine takes the tfjs engine's steps", async (_name, make, tolerance) => {
    const setup: EngineSetup = {
      options: common,
      replica: { pluginModule, buildOptions },
      build,
      batch: (seed) => batch(seed),
    };
    await agreesWithInProcess(setup, make(setup), tolerance);
  });

  it('a loss naming an output the network does not have fails, naming it and the outputs, on every engine', async () => {
    const model = build();
    const message = 'the loss scores the output "mask", but the network\'s outputs are [aux, scores]';
    try {
      expect(() => new InProcessEngine({ ...common('mask'), model })).toThrow(message);
      await expect(OnnxTrainEngine.create({ ...common('mask'), model, ort, threads: 1 })).rejects.toThrow(
        message,
      );
    } finally {
      model.dispose();
    }
  });
});
