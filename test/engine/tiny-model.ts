/** Tiny networks for the engine tests: with and without BatchNorm, ending in a softmax layer or not. */
import * as tf from '@tensorflow/tfjs';
import { singleInputBatch } from '../../src/training/engine/batch';

export function tinySegmenter(o: {
  classes: number;
  size: number;
  batchNorm: boolean;
  softmaxLayer?: boolean;
}): tf.LayersModel {
  let seed = 3;
  const init = () => tf.initializers.glorotUniform({ seed: seed++ });
  const input = tf.input({ shape: [o.size, o.size, 3], name: 'image' });
  let x = tf.layers
    .conv2d({ filters: 6, kernelSize: 3, padding: 'same', kernelInitializer: init(), name: 'c1' })
    .apply(input) as tf.SymbolicTensor;
  if (o.batchNorm) x = tf.layers.batchNormalization({ name: 'bn1' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU({ name: 'r1' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers
    .conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', kernelInitializer: init(), name: 'c2' })
    .apply(x) as tf.SymbolicTensor;
  x = tf.layers
    .conv2dTranspose({ filters: 4, kernelSize: 2, strides: 2, kernelInitializer: init(), name: 'up' })
    .apply(x) as tf.SymbolicTensor;
  const out =
    o.softmaxLayer === false
      ? (tf.layers
          .conv2d({
            filters: o.classes,
            kernelSize: 1,
            activation: 'softmax',
            kernelInitializer: init(),
            name: 'head',
          })
          .apply(x) as tf.SymbolicTensor)
      : (tf.layers
          .activation({ activation: 'softmax', name: 'head_softmax' })
          .apply(
            tf.layers
              .conv2d({ filters: o.classes, kernelSize: 1, kernelInitializer: init(), name: 'head' })
              .apply(x),
          ) as tf.SymbolicTensor);
  return tf.model({ inputs: input, outputs: out, name: 'tiny' });
}

/**
 * mulberry32-based batch: images in [-1, 1), labels in [0, labelMax]. The engines' named batch (input `image`),
 * with its arrays also as `x` and `y` (the same buffers) for the references to read.
 */
export function randomBatch(o: { n: number; size: number; labelMax: number; seed: number }) {
  let a = o.seed >>> 0;
  const rnd = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const px = o.n * o.size * o.size;
  const raw = {
    x: Float32Array.from({ length: px * 3 }, () => rnd() * 2 - 1),
    y: Int32Array.from({ length: px }, () => Math.floor(rnd() * (o.labelMax + 1))),
    n: o.n,
    height: o.size,
    width: o.size,
  };
  return { ...raw, ...singleInputBatch(raw) };
}

export function weightsOf(model: tf.LayersModel): Float32Array[] {
  return model.weights.map((w) => Float32Array.from(w.read().dataSync() as Float32Array));
}

export function maxRelativeDifference(a: Float32Array[], b: Float32Array[]): number {
  let worst = 0;
  a.forEach((t, i) => {
    let num = 0;
    let den = 0;
    for (let j = 0; j < t.length; j++) {
      num = Math.max(num, Math.abs(t[j] - b[i][j]));
      den = Math.max(den, Math.abs(b[i][j]));
    }
    worst = Math.max(worst, num / Math.max(den, 1e-12));
  });
  return worst;
}

/**
 * Overwrites a model's weights with seeded values (tfjs ignores initialiser seeds, tfjs issue 7104): kernels
 * uniform with He-like scale, BatchNorm at identity, biases zero. Tests comparing float32 results across engines
 * then see the same numbers on every run.
 */
export function seedWeights(model: tf.LayersModel, seed: number): void {
  let a = seed >>> 0;
  const rnd = () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a / 4294967296 - 0.5;
  };
  const values = model.weights.map((w) => {
    const shape = w.shape as number[];
    const n = shape.reduce((x, y) => x * y, 1);
    const name = w.originalName;
    if (/moving_variance|gamma/.test(name)) return tf.fill(shape, 1);
    if (/moving_mean|beta|bias/.test(name)) return tf.zeros(shape);
    const fanIn = shape.slice(0, -1).reduce((x, y) => x * y, 1);
    return tf.tensor(
      Float32Array.from({ length: n }, () => rnd() * Math.sqrt(24 / fanIn)),
      shape,
    );
  });
  model.setWeights(values);
  values.forEach((t) => t.dispose());
}
