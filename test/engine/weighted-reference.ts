/**
 * The class-weighted cross-entropy computed directly, for the engine tests: Σ w_y·CE / Σ w_y over the pixels
 * that are not ignored, written with tfjs's own `tf.losses.softmaxCrossEntropy` (not the engines' code) and
 * differentiated by tfjs; shards are run through the network one by one (BatchNorm batch statistics per shard,
 * as the engines' shards have them) and their sums divided by the weight of the whole batch.
 */
import * as tf from '@tensorflow/tfjs';
import type { Batch } from '../../src/training/engine/types';

export interface WeightedReference {
  /** The weighted mean loss. */
  loss: number;
  /** Its gradient for each trainable weight, in `model.trainableWeights` order. */
  grads: Float32Array[];
  /** Σ w_y of the counted pixels. */
  weight: number;
}

/** `logits`: the model up to its softmax (the same weights); `ignore`: the neutral label. */
export function weightedReference(opts: {
  logits: tf.LayersModel;
  trainable: tf.LayerVariable[];
  shards: readonly Batch[];
  classWeights: readonly number[];
  ignore: number;
}): WeightedReference {
  const k = opts.classWeights.length;
  const weightOf = (y: number): number => (y === opts.ignore ? 0 : opts.classWeights[y]);
  const weight = opts.shards.reduce(
    (a, s) => a + Array.from(s.labels.data).reduce((b, y) => b + weightOf(y), 0),
    0,
  );
  const vars = opts.trainable.map((v) => v.read() as tf.Variable);
  const { value, grads } = tf.variableGrads(() => {
    const sums = opts.shards.map((s) => {
      const [n, height, width] = s.labels.shape;
      const x = tf.tensor4d(s.inputs.image.data, [n, height, width, 3]);
      const labels = tf.tensor3d(
        Int32Array.from(s.labels.data, (y) => (y === opts.ignore ? 0 : y)),
        [n, height, width],
        'int32',
      );
      const pixelWeights = tf.tensor3d(Float32Array.from(s.labels.data, weightOf), [n, height, width]);
      const logits = opts.logits.apply(x, { training: true }) as tf.Tensor4D;
      return tf.losses.softmaxCrossEntropy(
        tf.oneHot(labels, k),
        logits,
        pixelWeights,
        0,
        tf.Reduction.SUM,
      ) as tf.Scalar;
    });
    return tf.div(tf.addN(sums), weight) as tf.Scalar;
  }, vars);
  const out = {
    loss: value.dataSync()[0],
    grads: vars.map((v) => Float32Array.from(grads[v.name].dataSync() as Float32Array)),
    weight,
  };
  value.dispose();
  Object.values(grads).forEach((g) => g.dispose());
  return out;
}

/**
 * An optimizer that applies nothing and keeps a copy of the gradients it is given: what an engine's step
 * computed, shards combined, exactly as Adam would receive it.
 */
export class GradientCapture extends tf.Optimizer {
  grads: Record<string, Float32Array> = {};

  applyGradients(variableGradients: tf.NamedTensorMap | { name: string; tensor: tf.Tensor }[]): void {
    const list = Array.isArray(variableGradients)
      ? variableGradients
      : Object.entries(variableGradients).map(([name, tensor]) => ({ name, tensor }));
    this.grads = {};
    for (const { name, tensor } of list)
      this.grads[name] = Float32Array.from(tensor.dataSync() as Float32Array);
  }

  getConfig(): tf.serialization.ConfigDict {
    return {};
  }

  /** The captured gradients in `model.trainableWeights` order. */
  inOrder(model: tf.LayersModel): Float32Array[] {
    return model.trainableWeights.map((w) => {
      const g = this.grads[(w.read() as tf.Variable).name];
      if (g === undefined) throw new Error(`no gradient captured for ${w.name}`);
      return g;
    });
  }

  /** For an engine's `optimizer` option (engines only call applyGradients and dispose on it). */
  asAdam(): tf.AdamOptimizer {
    return this as unknown as tf.AdamOptimizer;
  }
}
