/**
 * The data-parallel engine: the main thread and `workers` worker threads each hold a replica (one wasm
 * backend uses one core). A step splits the batch into contiguous shards (the main thread computes the
 * first), averages gradients weighted by counted pixels and BatchNorm moving statistics weighted by samples,
 * applies Adam once on the main thread's model, and sends the new weights with the next request, so every
 * replica computes with identical weights. The arithmetic is the in-process engine's with as many
 * micro-batches as shards (same shards, same combination order).
 */
import * as tf from '@tensorflow/tfjs';
import { compiledScript } from '../../threads/script';
import { WorkerChannel } from '../../threads/channel';
import type { ReplyOf } from '../../threads/protocol';
import type { TensorNames } from '../../network/tensors';
import { batchBuffers, batchLength, prepareLabels, splitBatch } from './batch';
import { averageStatistics } from './combine';
import { AdamEngine, finishTrainStep } from './step';
import type { EngineProtocol, ReplicaSpec } from './messages';
import { Replica, type ShardGradients } from './replica';
import {
  lossOptions,
  type Batch,
  type EvalStepResult,
  type LossOptions,
  type TrainEngine,
  type TrainStepResult,
} from './types';

export interface DataParallelEngineOptions extends LossOptions {
  /** The main thread's model (the authoritative one; the caller owns it). */
  model: tf.LayersModel;
  /** How workers build the same network. */
  replica: ReplicaSpec;
  /** Worker threads besides the main thread (at least 1). */
  workers: number;
  learningRate: number;
  optimizer?: tf.AdamOptimizer;
  /** Backend for the workers (BackendChoice name); by default the one the main thread uses. */
  backend?: string;
  /** The compiled worker script; found next to this module (or under dist/ when running from sources). */
  workerScript?: string;
  /** How long dispose() waits for a worker to exit before terminating it. */
  closeTimeoutMs?: number;
  /** The main model's input and output names (the workers take them from the plugin); see InProcessEngineOptions. */
  tensorNames?: TensorNames;
}

/** One worker thread, and whether its replica's weights are stale (Adam has stepped since it last took them). */
interface WorkerLink {
  readonly channel: WorkerChannel<EngineProtocol>;
  needsWeights: boolean;
}

/** The compiled worker (found under dist/ when this module runs from TypeScript sources). */
export function defaultWorkerScript(): string {
  const script = compiledScript('src/training/engine/worker');
  if (script !== null) return script;
  throw new Error(
    `the engine's worker script is not built (looked for dist/src/training/engine/worker.js): run npm run build`,
  );
}

/** The worker backend name matching the main thread's tfjs backend. */
function currentBackendChoice(): string {
  const name = tf.getBackend();
  return name === 'tensorflow' ? 'node' : name;
}

export class DataParallelEngine extends AdamEngine implements TrainEngine {
  readonly description: string;
  private broken: Error | undefined;
  private disposed = false;

  private constructor(
    opts: DataParallelEngineOptions,
    replica: Replica,
    private readonly links: WorkerLink[],
  ) {
    super(replica, opts.optimizer ?? tf.train.adam(opts.learningRate));
    this.description = `data-parallel (main thread + ${links.length} worker${links.length > 1 ? 's' : ''})`;
  }

  /** Starts the workers, builds their replicas and copies the main model's weights into them. */
  static async create(opts: DataParallelEngineOptions): Promise<DataParallelEngine> {
    if (!Number.isInteger(opts.workers) || opts.workers < 1) {
      throw new Error(`the data-parallel engine needs at least 1 worker, got ${opts.workers}`);
    }
    const replica = new Replica(opts.model, lossOptions(opts), opts.tensorNames);
    const loss = replica.loss;
    const script = opts.workerScript ?? defaultWorkerScript();
    const weights = replica.readWeights();
    const backend = opts.backend ?? currentBackendChoice();
    const started = await Promise.allSettled(
      Array.from({ length: opts.workers }, (_, i) =>
        WorkerChannel.start<EngineProtocol>({
          script,
          name: `worker ${i + 1}`,
          init: { spec: opts.replica, loss, backend, weights },
          closeTimeoutMs: opts.closeTimeoutMs ?? 5000,
        }),
      ),
    );
    const channels = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) {
      await Promise.all(channels.map((c) => c.terminate()));
      throw failed.reason;
    }
    return new DataParallelEngine(
      opts,
      replica,
      channels.map((channel) => ({ channel, needsWeights: false })),
    );
  }

  async trainStep(batch: Batch): Promise<TrainStepResult> {
    this.assertUsable();
    this.replica.bind(batch); // names and shapes checked on the whole batch, before it is split
    prepareLabels(batch.labels.data, this.replica.loss); // fail on bad labels before any thread starts working
    const shards = splitBatch(batch, this.links.length + 1);
    const vars = this.replica.trainable;
    const t0 = performance.now();
    const weights = this.weightsForWorkers(shards.length - 1);
    const remote = shards.slice(1).map((shard, i) => this.send(i, 'train', shard, weights));
    const snapshot = shards.length > 1 ? this.replica.readNonTrainable() : undefined;
    const local: ShardGradients[] = [];
    try {
      const t1 = performance.now();
      local.push(this.replica.trainShard(shards[0]));
      const ownStats = snapshot !== undefined ? this.replica.readNonTrainable() : undefined;
      const t2 = performance.now();
      const replies = await Promise.all(remote);
      const t3 = performance.now();
      const fromWorkers = replies.map((r) => ({
        grads: r.grads?.map((g, i) => tf.tensor(g, vars[i].shape, 'float32')) ?? null,
        loss: r.loss,
        correct: r.correct,
        count: r.count,
        weight: r.weight,
      }));
      local.push(...fromWorkers);
      if (snapshot !== undefined && ownStats !== undefined) {
        const stats = [ownStats, ...replies.map((r) => r.stats)].map((values, i) => ({
          values,
          weight: batchLength(shards[i]),
        }));
        this.replica.writeNonTrainable(averageStatistics(snapshot, stats));
      }
      const result = finishTrainStep(this.optimizer, vars, local);
      for (const l of this.links) l.needsWeights = true;
      const timing = { computeMs: t2 - t1, waitMs: t3 - t2, combineMs: t1 - t0 + (performance.now() - t3) };
      return { ...result, timing };
    } catch (e) {
      await Promise.allSettled(remote);
      throw this.markBroken(e);
    } finally {
      for (const r of local) r.grads?.forEach((g) => g.dispose());
    }
  }

  async evalStep(batch: Batch): Promise<EvalStepResult> {
    this.assertUsable();
    this.replica.bind(batch); // names and shapes checked on the whole batch, before it is split
    prepareLabels(batch.labels.data, this.replica.loss);
    const shards = splitBatch(batch, this.links.length + 1);
    const weights = this.weightsForWorkers(shards.length - 1);
    const remote = shards.slice(1).map((shard, i) => this.send(i, 'eval', shard, weights));
    try {
      const own = this.replica.evalShard(shards[0]);
      const replies = await Promise.all(remote);
      const all = [own, ...replies];
      const pixels = all.reduce((a, r) => a + r.count, 0);
      const confusion = new Float64Array(own.confusion.length);
      for (const r of all) r.confusion.forEach((v, i) => (confusion[i] += v));
      const lossSum = all.reduce((a, r) => a + r.lossSum, 0);
      const weight = all.reduce((a, r) => a + r.weight, 0);
      return {
        loss: weight > 0 ? lossSum / weight : 0,
        pixels,
        lossWeight: weight,
        confusion,
        numClasses: this.replica.loss.numClasses,
      };
    } catch (e) {
      await Promise.allSettled(remote);
      throw this.markBroken(e);
    }
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await Promise.all(this.links.map((l) => l.channel.close()));
    this.optimizer.dispose();
  }

  /**
   * Diagnostics and tests: each worker's replica weights, after it has taken the main model's current ones
   * (which every train/eval request does first). Proves the replicas compute with identical weights.
   */
  async workerWeights(): Promise<Float32Array[][]> {
    this.assertUsable();
    const weights = this.weightsForWorkers(this.links.length);
    return Promise.all(
      this.links.map((link) => link.channel.request('read-weights', this.stale(link, weights))),
    );
  }

  /** Exit codes of the worker threads (null while running). */
  workerExitCodes(): (number | null)[] {
    return this.links.map((l) => l.channel.exitCode);
  }

  /** The main model's weights, read once, if any of the first `count` workers has stale ones. */
  private weightsForWorkers(count: number): Float32Array[] | undefined {
    return this.links.slice(0, count).some((l) => l.needsWeights) ? this.replica.readWeights() : undefined;
  }

  /** `weights` for a request to `link` if its replica's are stale (then no longer). */
  private stale(link: WorkerLink, weights: Float32Array[] | undefined): { weights?: Float32Array[] } {
    const withWeights = link.needsWeights ? weights : undefined;
    link.needsWeights = false;
    return withWeights ? { weights: withWeights } : {};
  }

  private send<K extends 'train' | 'eval'>(
    i: number,
    kind: K,
    shard: Batch,
    weights: Float32Array[] | undefined,
  ): Promise<ReplyOf<EngineProtocol, K>> {
    const link = this.links[i];
    // The shard's buffers are fresh copies: hand them over instead of cloning them.
    return link.channel.request(kind, { shard, ...this.stale(link, weights) }, batchBuffers(shard));
  }

  private markBroken(e: unknown): unknown {
    this.broken ??= e instanceof Error ? e : new Error(String(e));
    return e;
  }

  private assertUsable(): void {
    if (this.disposed) throw new Error('the training engine was disposed');
    if (this.broken !== undefined) {
      throw new Error(`the data-parallel engine stopped after an earlier failure: ${this.broken.message}`, {
        cause: this.broken,
      });
    }
  }
}
