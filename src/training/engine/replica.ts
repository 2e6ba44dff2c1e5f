/**
 * One copy of the network and the work done on it for one shard of a batch. The in-process engine has one;
 * the data-parallel engine has one per thread. Both engines combine shard results the same way, so their
 * steps agree.
 */
import * as tf from '@tensorflow/tfjs';
import { modelError } from '../../errors';
import {
  bindTensors,
  formatShape,
  modelSignature,
  type Signature,
  type Tensor,
  type TensorNames,
} from '../../network/tensors';
import { checkBatch, prepareLabels, type BatchSize } from './batch';
import { correctPixels, pixelCrossEntropy, trainingView, type OutputKind } from './loss';
import { lossOptions, scoredOutputIndex, type Batch, type LossOptions } from './types';

/** Gradients of the shard's mean loss, one per trainable variable (in `Replica.trainable` order). */
export interface ShardGradients {
  /** Owned by the caller, who must dispose them. Null when every pixel was ignored (nothing to learn). */
  grads: tf.Tensor[] | null;
  /** Mean loss over the shard's counted pixels (weighted by class, with class weights). */
  loss: number;
  correct: number;
  /** Counted (non-ignored) pixels. */
  count: number;
  /** Σ class weights of the counted pixels: the shard's weight in the step (= count without class weights). */
  weight: number;
}

export interface ShardEval {
  /** Σ over the counted pixels of w_y·CE (w = 1 without class weights). */
  lossSum: number;
  count: number;
  /** Σ class weights of the counted pixels. */
  weight: number;
  /** Row-major numClasses x numClasses pixel counts (rows: true class). */
  confusion: Float64Array;
}

export class Replica {
  readonly forward: tf.LayersModel;
  readonly outputKind: OutputKind;
  readonly trainable: tf.Variable[];
  readonly loss: LossOptions;
  /** The model's inputs and outputs by name: a batch's tensors are bound to them. */
  readonly signature: Signature;
  /** The position of the output the loss scores (the labels are its). */
  readonly scored: number;

  /** `names`: the plugin's names for the model's inputs and outputs (the model's layer names by default). */
  constructor(
    readonly model: tf.LayersModel,
    loss: LossOptions,
    names?: TensorNames,
  ) {
    this.loss = lossOptions(loss);
    this.signature = modelSignature(model, names);
    this.scored = scoredOutputIndex(
      this.signature.outputs.map((o) => o.name),
      this.loss,
      model.name,
    );
    const view = trainingView(model, this.scored);
    this.forward = view.forward;
    this.outputKind = view.kind;
    this.trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const scoredShape = model.outputs[this.scored].shape;
    const outChannels = scoredShape[scoredShape.length - 1];
    if (outChannels !== loss.numClasses) {
      throw modelError(
        `the network outputs ${outChannels} channels but there are ${loss.numClasses} classes`,
        {
          item: model.name,
        },
      );
    }
  }

  /** The batch's inputs in the model's order, checked by name and shape, with the labels' size checked too. */
  bind(shard: Batch): { size: BatchSize; inputs: Tensor[] } {
    const size = checkBatch(shard);
    const { bound } = bindTensors(this.signature.inputs, shard.inputs);
    const out = this.signature.outputs[this.scored];
    const [oh, ow] = out.shape;
    if ((oh !== null && oh !== size.height) || (ow !== null && ow !== size.width)) {
      throw modelError(
        `labels of ${size.height}x${size.width} pixels, but the output "${out.name}" is ${formatShape(['n', ...out.shape])}`,
        { item: this.model.name },
      );
    }
    return { size, inputs: bound };
  }

  trainShard(shard: Batch): ShardGradients {
    const { size, inputs } = this.bind(shard);
    const { labels, count, weight } = prepareLabels(shard.labels.data, this.loss, true);
    if (count === 0) return { grads: null, loss: 0, correct: 0, count: 0, weight: 0 };
    const { n, height: h, width: w } = size;
    return tf.tidy(() => {
      const x = modelInput(inputs);
      const lab = tf.tensor3d(labels, [n, h, w], 'int32');
      const target = lossTarget(lab, this.loss);
      let correct: tf.Scalar | undefined;
      const { value, grads } = tf.variableGrads(() => {
        const out = this.forward.apply(x, { training: true }) as tf.Tensor4D;
        correct = tf.keep(correctPixels(out, lab));
        return tf.div(tf.sum(pixelCrossEntropy(out, target, this.outputKind)), weight) as tf.Scalar;
      }, this.trainable);
      const result = {
        // A weight that leads only to outputs the loss does not score gets no gradient: zero.
        grads: this.trainable.map((v) => tf.keep(grads[v.name] ?? tf.zerosLike(v))),
        loss: value.dataSync()[0],
        correct: (correct as tf.Scalar).dataSync()[0],
        count,
        weight,
      };
      (correct as tf.Scalar).dispose();
      return result;
    });
  }

  evalShard(shard: Batch): ShardEval {
    const { size, inputs } = this.bind(shard);
    const { labels, count, weight } = prepareLabels(shard.labels.data, this.loss);
    const { n, height: h, width: w } = size;
    const { numClasses } = this.loss;
    const { lossSum, predicted } = tf.tidy(() => {
      const x = modelInput(inputs);
      const lab = tf.tensor3d(labels, [n, h, w], 'int32');
      const target = lossTarget(lab, this.loss);
      const out = this.forward.apply(x, { training: false }) as tf.Tensor4D;
      return {
        lossSum: tf.sum(pixelCrossEntropy(out, target, this.outputKind)).dataSync()[0],
        predicted: tf.argMax(out, -1).dataSync() as Int32Array,
      };
    });
    const confusion = new Float64Array(numClasses * numClasses);
    for (let i = 0; i < labels.length; i++) {
      if (labels[i] >= 0) confusion[labels[i] * numClasses + predicted[i]]++;
    }
    return { lossSum, count, weight, confusion };
  }

  /** Every weight, in the model's own order, as copies (safe to transfer to another thread). */
  readWeights(): Float32Array[] {
    return this.model.weights.map((w) => copyData(w.read()));
  }

  writeWeights(values: readonly Float32Array[]): void {
    writeVariables(this.model.weights, values, this.model.name);
  }

  readNonTrainable(): Float32Array[] {
    return this.model.nonTrainableWeights.map((w) => copyData(w.read()));
  }

  writeNonTrainable(values: readonly Float32Array[]): void {
    writeVariables(this.model.nonTrainableWeights, values, this.model.name);
  }
}

/** What `apply` takes: the one input tensor, or the list in the model's input order. */
function modelInput(inputs: readonly Tensor[]): tf.Tensor | tf.Tensor[] {
  const xs = inputs.map((t) => tf.tensor(t.data, [...t.shape], 'float32'));
  return xs.length === 1 ? xs[0] : xs;
}

/**
 * One-hot rows as float32; labels of -1 give all-zero rows. Built as int32 and cast: the wasm OneHot kernel
 * ignores a float32 dtype and writes int32 bit patterns (1 reads as 1.4e-45).
 */
function floatOneHot(labels: tf.Tensor3D, depth: number): tf.Tensor4D {
  return tf.tidy(() => tf.cast(tf.oneHot(labels, depth), 'float32') as tf.Tensor4D);
}

/**
 * What the cross-entropy multiplies the log-probabilities by: the one-hot rows, times the class weights when
 * there are any (one broadcast multiply; w_y·CE then falls out of the same sum).
 */
function lossTarget(labels: tf.Tensor3D, loss: LossOptions): tf.Tensor4D {
  const oneHot = floatOneHot(labels, loss.numClasses);
  if (loss.classWeights === undefined) return oneHot;
  return tf.mul(oneHot, tf.tensor1d(loss.classWeights as number[], 'float32'));
}

/** A tensor's values as an array of our own: the cpu backend's dataSync returns its live storage. */
export function copyData(t: tf.Tensor): Float32Array {
  return Float32Array.from(t.dataSync() as Float32Array);
}

function writeVariables(
  vars: readonly tf.LayerVariable[],
  values: readonly Float32Array[],
  modelName: string,
): void {
  if (vars.length !== values.length) {
    throw modelError(`expected ${vars.length} weight tensors, got ${values.length}`, { item: modelName });
  }
  vars.forEach((v, i) => {
    const size = v.shape.reduce<number>((a, b) => a * (b ?? 1), 1);
    if (values[i].length !== size) {
      throw modelError(`weight ${v.name} has ${size} values, got ${values[i].length}`, { item: modelName });
    }
    const t = tf.tensor(values[i], v.shape as number[], v.dtype);
    v.write(t);
    t.dispose();
  });
}
