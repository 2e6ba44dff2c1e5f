/**
 * The step engine the training loop calls: one interface, an in-process and a data-parallel implementation.
 * Numbers out, tensors in: nothing the loop receives is a tensor (house plan, habit 5).
 */
import type * as tf from '@tensorflow/tfjs';

/** One batch, as the data loader produces it. */
export interface Batch {
  /** NHWC float32 images, already normalised; length n * height * width * channels. */
  x: Float32Array;
  /**
   * Class index per pixel, NHW; length n * height * width. The ignore index (neutral class) and
   * UNCOUNTED_LABEL (padding) are allowed.
   */
  y: Int32Array;
  n: number;
  height: number;
  width: number;
}

export interface TrainStepResult {
  /** Mean cross-entropy over the non-ignored pixels of the batch (0 when there are none). */
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
  /** Mean cross-entropy over the non-ignored pixels (0 when there are none). */
  loss: number;
  pixels: number;
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
  /** The Adam optimizer (its weights are the moments, for saving and resuming). */
  getOptimizer(): tf.Optimizer;
  /** Changes the learning rate of the next steps (an LR schedule is a hook of the loop). */
  setLearningRate(lr: number): void;
  /** Frees tensors and stops worker threads. Safe to call twice. */
  dispose(): Promise<void>;
}

/** A label no engine counts in the loss or the metrics, whatever the ignore index: padding. */
export const UNCOUNTED_LABEL = -1;

/** What every engine needs to compute the loss. */
export interface LossOptions {
  numClasses: number;
  /** Pixels with this class index count in neither loss nor accuracy (the neutral class); null for none. */
  ignoreIndex: number | null;
}
