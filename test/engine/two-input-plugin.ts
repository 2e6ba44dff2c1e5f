/**
 * A network of two inputs as a plain JS plugin module (workers load it like any plugin): an RGB image and a
 * one-channel hint, each through its own conv, concatenated, then a softmax head. Its input layers are named
 * `rgb` and `extra`, the plugin declares them `image` and `hint`: the engines must bind by the declared names.
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';

export const TWO_INPUT_NAMES = { inputs: ['image', 'hint'], outputs: ['scores'] };

export const TWO_INPUT_SOURCE = `const tf = require(${JSON.stringify(require.resolve('@tensorflow/tfjs'))});
const seeded = (seed) => tf.initializers.glorotUniform({ seed });
function buildHead(features, o) {
  const logits = tf.layers.conv2d({ name: 'head_conv', filters: o.numClasses, kernelSize: 1, kernelInitializer: seeded(4) }).apply(features);
  return tf.layers.activation({ name: 'head_softmax', activation: 'softmax' }).apply(logits);
}
exports.network = {
  name: 'two-input', task: 'semantic_segmentation',
  inputs: [{ name: 'image', channels: 3 }, { name: 'hint', channels: 1 }], outputs: ['scores'],
  defaults: {}, settingsSchema: { type: 'object' }, headLayerNames: ['head_conv', 'head_softmax'],
  preprocessing: { mean: [0, 0, 0], std: [1, 1, 1] },
  parseSettings: (s) => s || {},
  buildHead,
  build(o) {
    const { height, width } = o.inputSize;
    const image = tf.input({ name: 'rgb', shape: [height, width, 3] });
    const hint = tf.input({ name: 'extra', shape: [height, width, 1] });
    const a = tf.layers.conv2d({ name: 'c_image', filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: seeded(1) }).apply(image);
    const b = tf.layers.conv2d({ name: 'c_hint', filters: 2, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: seeded(2) }).apply(hint);
    const x = tf.layers.concatenate({ name: 'join', axis: -1 }).apply([a, b]);
    return tf.model({ name: 'two_input', inputs: [image, hint], outputs: buildHead(x, o) });
  },
};
`;

/** Writes the module into `dir`; returns its path. */
export function writeTwoInputPlugin(dir: string): string {
  const file = path.join(dir, 'two-input-plugin.js');
  writeFileSync(file, TWO_INPUT_SOURCE);
  return file;
}

/** A seeded batch of both inputs and labels in [0, labelMax], with the hint deciding the class (learnable). */
export function twoInputBatch(o: { n: number; size: number; labelMax: number; seed: number }) {
  let s = o.seed >>> 0;
  const rnd = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296;
  const px = o.n * o.size * o.size;
  const image = Float32Array.from({ length: px * 3 }, () => rnd() * 2 - 1);
  const hint = Float32Array.from({ length: px }, () => rnd() * 2 - 1);
  const labels = Int32Array.from({ length: px }, () => Math.floor(rnd() * (o.labelMax + 1)));
  return {
    inputs: {
      image: { data: image, shape: [o.n, o.size, o.size, 3] },
      hint: { data: hint, shape: [o.n, o.size, o.size, 1] },
    },
    labels: { data: labels, shape: [o.n, o.size, o.size] },
  };
}
