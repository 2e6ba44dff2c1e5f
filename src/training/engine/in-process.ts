/**
 * The in-process engine: one replica in this thread. With `microBatches` > 1 it computes the batch in that
 * many sequential shards (less peak memory; the same arithmetic as the data-parallel engine with that many
 * shards, BatchNorm batch statistics included).
 */
import * as tf from '@tensorflow/tfjs';
import type { TensorNames } from '../../network/tensors';
import { batchLength, splitBatch } from './batch';
import { averageStatistics } from './combine';
import { Replica, type ShardGradients } from './replica';
import { AdamEngine, finishTrainStep } from './step';
import {
  lossOptions,
  type Batch,
  type EvalStepResult,
  type LossOptions,
  type TrainEngine,
  type TrainStepResult,
} from './types';

export interface InProcessEngineOptions extends LossOptions {
  model: tf.LayersModel;
  learningRate: number;
  /** Sequential shards per batch; 1 by default. */
  microBatches?: number;
  /** An existing optimizer (e.g. restored moments); a fresh Adam(learningRate) otherwise. */
  optimizer?: tf.AdamOptimizer;
  /** The network's names for the model's inputs and output (its plugin's); the model's layer names by default. */
  tensorNames?: TensorNames;
}

export class InProcessEngine extends AdamEngine implements TrainEngine {
  readonly description: string;
  private readonly microBatches: number;
  private disposed = false;

  constructor(opts: InProcessEngineOptions) {
    super(
      new Replica(opts.model, lossOptions(opts), opts.tensorNames),
      opts.optimizer ?? tf.train.adam(opts.learningRate),
    );
    this.microBatches = Math.max(1, Math.floor(opts.microBatches ?? 1));
    this.description =
      this.microBatches > 1 ? `in-process (${this.microBatches} micro-batches)` : 'in-process';
  }

  async trainStep(batch: Batch): Promise<TrainStepResult> {
    this.assertLive();
    this.replica.bind(batch); // names and shapes checked on the whole batch, before it is split
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
          stats.push({ values: this.replica.readNonTrainable(), weight: batchLength(shard) });
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
      loss: r.weight > 0 ? r.lossSum / r.weight : 0,
      pixels: r.count,
      lossWeight: r.weight,
      confusion: r.confusion,
      numClasses: this.replica.loss.numClasses,
    };
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
