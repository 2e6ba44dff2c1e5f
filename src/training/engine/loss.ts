/**
 * The training loss: pixel-wise softmax cross-entropy, summed over non-ignored pixels. When the network ends
 * in a softmax layer (as the plugin contract says it does), the loss is computed from the logits feeding it
 * (log-softmax: exact gradients even for confident wrong pixels); otherwise from the probabilities, clipped
 * at 1e-7 as Keras does.
 */
import * as tf from '@tensorflow/tfjs';

export type OutputKind = 'logits' | 'probabilities';

export interface TrainingView {
  /** The model to run for training and evaluation: the logits sub-model, or the model itself. */
  forward: tf.LayersModel;
  kind: OutputKind;
}

const PROBABILITY_FLOOR = 1e-7;

function isSoftmaxLayer(layer: tf.layers.Layer): boolean {
  const config = layer.getConfig();
  if (layer.getClassName() === 'Activation') return config.activation === 'softmax';
  if (layer.getClassName() === 'Softmax') return config.axis === -1 || config.axis === 3;
  return false;
}

/**
 * What trains the model's output `index` (the one the loss scores): the logits sub-model when that output comes
 * from a softmax layer, else the sub-model of that output alone (the model itself when it has no other). Either
 * shares the model's layers and weights (never dispose it: that would dispose the shared weights), and runs
 * only what leads to the scored output.
 */
export function trainingView(model: tf.LayersModel, index = 0): TrainingView {
  const output = model.outputs[index];
  const last = output.sourceLayer;
  if (isSoftmaxLayer(last) && !Array.isArray(last.input)) {
    const forward = tf.model({ inputs: model.inputs, outputs: last.input, name: `${model.name}_logits` });
    return { forward, kind: 'logits' };
  }
  if (model.outputs.length === 1) return { forward: model, kind: 'probabilities' };
  return {
    forward: tf.model({ inputs: model.inputs, outputs: output, name: `${model.name}_${index}` }),
    kind: 'probabilities',
  };
}

/** Per-pixel cross-entropy [n,h,w]; pixels whose one-hot row is all zero (ignored) contribute 0. */
export function pixelCrossEntropy(out: tf.Tensor4D, oneHot: tf.Tensor4D, kind: OutputKind): tf.Tensor3D {
  return tf.tidy(() => {
    const logP = kind === 'logits' ? tf.logSoftmax(out) : tf.log(tf.clipByValue(out, PROBABILITY_FLOOR, 1));
    return tf.neg(tf.sum(tf.mul(oneHot, logP), -1)) as tf.Tensor3D;
  });
}

/** Pixels whose arg-max class equals the label (labels of -1 never match). */
export function correctPixels(out: tf.Tensor4D, labels: tf.Tensor3D): tf.Scalar {
  return tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(out, -1), labels), 'int32')));
}
