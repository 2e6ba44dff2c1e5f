/** Shared helpers for the network tests: a tiny U-Net, a deterministic batch, a training step, weight dumps. */
import * as tf from '@tensorflow/tfjs';
import { network } from '../../plugin/unet';

export const TINY_SETTINGS = network.parseSettings({ depth: 2, base_filters: 2, max_filters: 4 });
export const TINY_SIZE = { height: 8, width: 8 };

export function tinyUnet(numClasses: number): tf.LayersModel {
  return network.build({ inputSize: TINY_SIZE, numClasses, settings: TINY_SETTINGS });
}

/** A deterministic batch (inputs and one-hot targets) from a seed. */
export function tinyBatch(n: number, numClasses: number, seed: number): { x: tf.Tensor4D; y: tf.Tensor4D } {
  return tf.tidy(() => {
    const x = tf.randomUniform(
      [n, TINY_SIZE.height, TINY_SIZE.width, 3],
      -1,
      1,
      'float32',
      seed,
    ) as tf.Tensor4D;
    const labels = tf.randomUniform([n, TINY_SIZE.height, TINY_SIZE.width], 0, numClasses, 'int32', seed + 1);
    const y = tf.oneHot(labels, numClasses).toFloat() as tf.Tensor4D;
    return { x, y };
  });
}

/** One optimiser step of pixel-wise cross-entropy, with BatchNorm in training mode. */
export function trainStep(
  model: tf.LayersModel,
  optimizer: tf.Optimizer,
  batch: { x: tf.Tensor; y: tf.Tensor },
): void {
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  tf.tidy(() => {
    optimizer.minimize(
      () => {
        const p = model.apply(batch.x, { training: true }) as tf.Tensor;
        return tf.neg(tf.mean(tf.sum(tf.mul(batch.y, tf.log(tf.add(p, 1e-7))), -1))) as tf.Scalar;
      },
      false,
      vars,
    );
  });
}

/** Every weight of the model as plain arrays, keyed by its stable name. */
export function weightValues(model: tf.LayersModel): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const w of model.weights) out.set(w.originalName, w.read().dataSync() as Float32Array);
  return out;
}

export function predictArray(model: tf.LayersModel, x: tf.Tensor): Float32Array {
  return tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync() as Float32Array);
}
