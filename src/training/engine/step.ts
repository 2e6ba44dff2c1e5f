/**
 * What every engine's step shares: the authoritative model (in a Replica) and one tfjs Adam, and how shard
 * results become one optimizer step.
 */
import * as tf from '@tensorflow/tfjs';
import { applyGradients, weightedGradientSum } from './combine';
import type { Signature } from '../../network/tensors';
import type { Replica, ShardGradients } from './replica';
import type { TrainStepResult } from './types';

/** The model, the optimizer and the learning rate, the same in every engine. */
export abstract class AdamEngine {
  protected constructor(
    protected readonly replica: Replica,
    protected readonly optimizer: tf.AdamOptimizer,
  ) {}

  getModel(): tf.LayersModel {
    return this.replica.model;
  }

  get signature(): Signature {
    return this.replica.signature;
  }

  getOptimizer(): tf.Optimizer {
    return this.optimizer;
  }

  setLearningRate(lr: number): void {
    setAdamLearningRate(this.optimizer, lr);
  }

  getLearningRate(): number {
    return (this.optimizer as unknown as { learningRate: number }).learningRate;
  }
}

/** Averages shard results, steps the optimizer once, and turns everything into plain numbers. */
export function finishTrainStep(
  optimizer: tf.Optimizer,
  vars: readonly tf.Variable[],
  shards: readonly ShardGradients[],
): TrainStepResult {
  const pixels = shards.reduce((a, s) => a + s.count, 0);
  if (pixels === 0) return { loss: 0, accuracy: 0, pixels: 0, applied: false };
  // Each shard's loss is a mean over its own weight (its pixels, or their class weights): weighting the shards
  // by it gives the mean over the whole batch.
  const total = shards.reduce((a, s) => a + s.weight, 0);
  const grads = weightedGradientSum(shards.map((s) => ({ grads: s.grads, weight: s.weight / total })));
  if (grads !== null) {
    applyGradients(optimizer, vars, grads);
    grads.forEach((g) => g.dispose());
  }
  const loss = shards.reduce((a, s) => a + s.loss * s.weight, 0) / total;
  const correct = shards.reduce((a, s) => a + s.correct, 0);
  return { loss, accuracy: correct / pixels, pixels, applied: true };
}

/** tfjs's Adam keeps its rate in a protected field; changing it is how Keras schedules work too. */
export function setAdamLearningRate(optimizer: tf.AdamOptimizer, lr: number): void {
  if (!(lr > 0) || !Number.isFinite(lr))
    throw new Error(`the learning rate must be a positive number, got ${lr}`);
  (optimizer as unknown as { learningRate: number }).learningRate = lr;
}

/** tfjs Adam's fields that its public API does not show: the hyperparameters and beta^t accumulators. */
interface AdamInternals {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  iterations: number;
  accumulatedFirstMoment: { variable: tf.Variable }[];
}

/** The counters of an Adam optimizer, as training_state.json records them (the moments are in weights.bin). */
export interface AdamCounters {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  iterations: number;
  accBeta1: number;
  accBeta2: number;
}

export function adamCounters(optimizer: tf.AdamOptimizer): AdamCounters {
  const a = optimizer as unknown as AdamInternals;
  return {
    learningRate: a.learningRate,
    beta1: a.beta1,
    beta2: a.beta2,
    epsilon: a.epsilon,
    iterations: a.iterations,
    accBeta1: (a.accBeta1.dataSync() as Float32Array)[0],
    accBeta2: (a.accBeta2.dataSync() as Float32Array)[0],
  };
}

/**
 * Sets beta1^t and beta2^t to the values the stopped run held. tfjs's `setWeights` recomputes them as
 * pow(beta, t + 1), which rounds differently from the run's step-by-step product: the next updates would differ
 * in the last bits.
 */
export function restoreAdamAccumulators(
  optimizer: tf.AdamOptimizer,
  values: { accBeta1: number; accBeta2: number },
): void {
  const a = optimizer as unknown as AdamInternals;
  tf.tidy(() => {
    a.accBeta1.assign(tf.scalar(values.accBeta1, 'float32'));
    a.accBeta2.assign(tf.scalar(values.accBeta2, 'float32'));
  });
}

/** The shapes of Adam's first moments, one per trainable weight (none before the first step). */
export function adamMomentShapes(optimizer: tf.AdamOptimizer): number[][] {
  return (optimizer as unknown as AdamInternals).accumulatedFirstMoment.map((m) => [...m.variable.shape]);
}

/** A copy of an Adam optimizer's whole state (moments, iteration count, beta^t), for `restoreAdam`. */
export interface AdamSnapshot {
  /** As `getWeights` gives them: the iteration count, then m and v per weight (clones, owned here). */
  weights: { name: string; tensor: tf.Tensor }[];
  counters: AdamCounters;
}

export async function snapshotAdam(optimizer: tf.AdamOptimizer): Promise<AdamSnapshot> {
  const named = await optimizer.getWeights();
  // The moments are the optimizer's live variables: clones keep their values when a step reassigns them.
  const weights = named.map(({ name, tensor }) =>
    tensor instanceof tf.Variable ? { name, tensor: tf.clone(tensor) } : { name, tensor },
  );
  return { weights, counters: adamCounters(optimizer) };
}

/** Puts `optimizer` back to the state of `snapshot` exactly, and frees the snapshot. */
export async function restoreAdam(optimizer: tf.AdamOptimizer, snapshot: AdamSnapshot): Promise<void> {
  const a = optimizer as unknown as AdamInternals & { accumulatedSecondMoment: { variable: tf.Variable }[] };
  // setWeights replaces the moment variables without freeing the ones it drops.
  tf.dispose([...a.accumulatedFirstMoment, ...a.accumulatedSecondMoment].map((m) => m.variable));
  try {
    await optimizer.setWeights(snapshot.weights);
    restoreAdamAccumulators(optimizer, snapshot.counters);
  } finally {
    tf.dispose(snapshot.weights.map((w) => w.tensor));
  }
}
