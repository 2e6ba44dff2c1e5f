/**
 * The in-process engine: one replica in this thread. With `microBatches` > 1 it computes the batch in that
 * many sequential shards (less peak memory; the same arithmetic as the data-parallel engine with that many
 * shards, BatchNorm batch statistics included).
 */
import * as tf from '@tensorflow/tfjs';
import { checkBatch } from './batch';
import { applyGradients, averageStatistics, weightedGradientSum } from './combine';
import { Replica, type ShardGradients } from './replica';
import { splitBatch } from './batch';
import type { Batch, EvalStepResult, LossOptions, TrainEngine, TrainStepResult } from './types';

export interface InProcessEngineOptions extends LossOptions {
  model: tf.LayersModel;
  learningRate: number;
  /** Sequential shards per batch; 1 by default. */
  microBatches?: number;
  /** An existing optimizer (e.g. restored moments); a fresh Adam(learningRate) otherwise. */
  optimizer?: tf.AdamOptimizer;
}

export class InProcessEngine implements TrainEngine {
  readonly description: string;
  private readonly replica: Replica;
  private readonly optimizer: tf.AdamOptimizer;
  private readonly microBatches: number;
  private disposed = false;

  constructor(opts: InProcessEngineOptions) {
    this.replica = new Replica(opts.model, { numClasses: opts.numClasses, ignoreIndex: opts.ignoreIndex });
    this.optimizer = opts.optimizer ?? tf.train.adam(opts.learningRate);
    this.microBatches = Math.max(1, Math.floor(opts.microBatches ?? 1));
    this.description =
      this.microBatches > 1 ? `in-process (${this.microBatches} micro-batches)` : 'in-process';
  }

  async trainStep(batch: Batch): Promise<TrainStepResult> {
    this.assertLive();
    checkBatch(batch);
    const shards = splitBatch(batch, this.microBatches);
    const results: ShardGradients[] = [];
    const t0 = performance.now();
    try {
      if (shards.length === 1) {
        results.push(this.replica.trainShard(shards[0]));
      } else {
        const snapshot = this.replica.readNonTrainable();
        const stats: { values: Float32Array[]; weight: number }[] = [];
        for (const shard of shards) {
          this.replica.writeNonTrainable(snapshot);
          results.push(this.replica.trainShard(shard));
          stats.push({ values: this.replica.readNonTrainable(), weight: shard.n });
        }
        this.replica.writeNonTrainable(averageStatistics(snapshot, stats));
      }
      const t1 = performance.now();
      const result = finishTrainStep(this.optimizer, this.replica.trainable, results);
      return { ...result, timing: { computeMs: t1 - t0, waitMs: 0, combineMs: performance.now() - t1 } };
    } finally {
      for (const r of results) r.grads?.forEach((g) => g.dispose());
    }
  }

  async evalStep(batch: Batch): Promise<EvalStepResult> {
    this.assertLive();
    const r = this.replica.evalShard(batch);
    return {
      loss: r.count > 0 ? r.lossSum / r.count : 0,
      pixels: r.count,
      confusion: r.confusion,
      numClasses: this.replica.loss.numClasses,
    };
  }

  getModel(): tf.LayersModel {
    return this.replica.model;
  }

  getOptimizer(): tf.Optimizer {
    return this.optimizer;
  }

  setLearningRate(lr: number): void {
    setAdamLearningRate(this.optimizer, lr);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.optimizer.dispose();
  }

  private assertLive(): void {
    if (this.disposed) throw new Error('the training engine was disposed');
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
  const grads = weightedGradientSum(shards.map((s) => ({ grads: s.grads, weight: s.count / pixels })));
  if (grads !== null) {
    applyGradients(optimizer, vars, grads);
    grads.forEach((g) => g.dispose());
  }
  const loss = shards.reduce((a, s) => a + s.loss * s.count, 0) / pixels;
  const correct = shards.reduce((a, s) => a + s.correct, 0);
  return { loss, accuracy: correct / pixels, pixels, applied: true };
}

/** tfjs's Adam keeps its rate in a protected field; changing it is how Keras schedules work too. */
export function setAdamLearningRate(optimizer: tf.AdamOptimizer, lr: number): void {
  if (!(lr > 0) || !Number.isFinite(lr))
    throw new Error(`the learning rate must be a positive number, got ${lr}`);
  (optimizer as unknown as { learningRate: number }).learningRate = lr;
}
