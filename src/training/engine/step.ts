/**
 * What every engine's step shares: the authoritative model (in a Replica) and one tfjs Adam, and how shard
 * results become one optimizer step.
 */
import type * as tf from '@tensorflow/tfjs';
import { applyGradients, weightedGradientSum } from './combine';
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
