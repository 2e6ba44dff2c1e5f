/**
 * The step engine the training loop calls: one interface, an in-process and a data-parallel implementation.
 * Numbers out, tensors in: nothing the loop receives is a tensor (house plan, habit 5).
 */
import type * as tf from '@tensorflow/tfjs';
import { modelError } from '../../errors';
import type { NamedTensors, Signature, Tensor } from '../../network/tensors';

/**
 * One batch, as a task collates it: the network's inputs by name (bound to the model's inputs by the names its
 * plugin declares) and the class index of each pixel of the scored output.
 */
export interface Batch {
  /** Each [n, ...the input's shape], float32, already normalised (an image input: NHWC). */
  inputs: NamedTensors;
  /**
   * Class index per pixel, [n, height, width] of the output. The ignore index (neutral class) and
   * UNCOUNTED_LABEL (padding) are allowed.
   */
  labels: Tensor<Int32Array>;
}

export interface TrainStepResult {
  /**
   * Mean cross-entropy over the non-ignored pixels of the batch, weighted by class when the loss has class
   * weights (0 when there are none).
   */
  loss: number;
  /** Share of non-ignored pixels whose arg-max class is right (0 when there are none). */
  accuracy: number;
  /** Non-ignored pixels: the weight of this step's loss and accuracy in an average. */
  pixels: number;
  /** False when every pixel was ignored: the optimizer was not stepped. */
  applied: boolean;
  /** Where the step's wall time went on the main thread, in ms (for benchmarks and debug logs). */
  timing?: StepTiming;
}

export interface StepTiming {
  /** Computing the main thread's shard(s): forward and backward. */
  computeMs: number;
  /** Waiting for worker threads after the main thread's own shard was done. */
  waitMs: number;
  /** Averaging gradients and statistics, the Adam step, reading weights for the workers. */
  combineMs: number;
}

export interface EvalStepResult {
  /** Mean cross-entropy over the non-ignored pixels, weighted as in training (0 when there are none). */
  loss: number;
  pixels: number;
  /** The loss's weight in a mean over batches: Σ class weights of the counted pixels (= pixels unweighted). */
  lossWeight: number;
  /**
   * numClasses x numClasses pixel counts, row-major, rows = true class, columns = predicted class; ignored
   * pixels are not counted.
   */
  confusion: Float64Array;
  numClasses: number;
}

export interface TrainEngine {
  /** 'in-process' or 'data-parallel(k)'; for the log. */
  readonly description: string;
  /** Forward + backward + one Adam step. */
  trainStep(batch: Batch): Promise<TrainStepResult>;
  /** Forward in inference mode (BatchNorm uses its moving statistics); no weight changes. */
  evalStep(batch: Batch): Promise<EvalStepResult>;
  /** The authoritative model (always up to date after a step): save it, read it, predict with it. */
  getModel(): tf.LayersModel;
  /** The model's inputs and output by name: what a batch's tensors are bound to. */
  readonly signature: Signature;
  /** The Adam optimizer (its weights are the moments, for saving and resuming). */
  getOptimizer(): tf.Optimizer;
  /** Changes the learning rate of the next steps (an LR schedule is a hook of the loop). */
  setLearningRate(lr: number): void;
  /** The learning rate the next step runs at. */
  getLearningRate(): number;
  /** Frees tensors and stops worker threads. Safe to call twice. */
  dispose(): Promise<void>;
}

/** A label no engine counts in the loss or the metrics, whatever the ignore index: padding. */
export const UNCOUNTED_LABEL = -1;

/**
 * The loss every engine computes, declared by the task (issue #13): softmax cross-entropy over the counted
 * pixels, optionally weighted by class.
 */
export interface LossOptions {
  numClasses: number;
  /** Pixels with this class index count in neither loss nor accuracy (the neutral class); null for none. */
  ignoreIndex: number | null;
  /**
   * One weight per class index: the loss is then Σ w_y·CE / Σ w_y over the counted pixels (PyTorch's
   * CrossEntropyLoss(weight), mean reduction). In training, pixels of a class of weight 0 count in neither the
   * loss nor the accuracy. Absent: every class weighs 1, and the step does no extra work.
   */
  classWeights?: readonly number[];
  /**
   * The network output the loss scores and the labels are of, by its declared name; the others are left out of
   * the loss (and of the step: only what leads to this output runs). Absent: the first declared output.
   */
  output?: string;
}

/** The loss fields of an engine's options (which also hold the model and more), checked. */
export function lossOptions(opts: LossOptions): LossOptions {
  const { numClasses, ignoreIndex, classWeights, output } = opts;
  const scored = output === undefined ? {} : { output };
  if (classWeights === undefined) return { numClasses, ignoreIndex, ...scored };
  if (classWeights.length !== numClasses || !classWeights.every((w) => Number.isFinite(w) && w >= 0)) {
    throw new Error(
      `classWeights must be ${numClasses} finite non-negative numbers, got [${classWeights.join(', ')}]`,
    );
  }
  return { numClasses, ignoreIndex, classWeights: [...classWeights], ...scored };
}

/**
 * The position of the output the loss scores among the network's outputs (`outputs`: their declared names, in
 * the model's order); naming one the network does not have is a model error naming it and the outputs.
 */
export function scoredOutputIndex(outputs: readonly string[], loss: LossOptions, network: string): number {
  if (loss.output === undefined) return 0;
  const i = outputs.indexOf(loss.output);
  if (i < 0) {
    throw modelError(
      `the loss scores the output "${loss.output}", but the network's outputs are [${outputs.join(', ')}]`,
      { item: network },
    );
  }
  return i;
}
