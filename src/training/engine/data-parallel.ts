/**
 * The data-parallel engine: the main thread and `workers` worker threads each hold a replica (one wasm
 * backend uses one core). A step splits the batch into contiguous shards (the main thread computes the
 * first), averages gradients weighted by counted pixels and BatchNorm moving statistics weighted by samples,
 * applies Adam once on the main thread's model, and sends the new weights with the next request, so every
 * replica computes with identical weights. The arithmetic is the in-process engine's with as many
 * micro-batches as shards (same shards, same combination order).
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { deserializeError } from '../../errors';
import { checkBatch, prepareLabels, splitBatch } from './batch';
import { averageStatistics } from './combine';
import { AdamEngine, finishTrainStep } from './step';
import type { FromWorker, ReplicaSpec, ToWorker } from './messages';
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
}

type Reply = Exclude<FromWorker, { kind: 'failed' }>;

/** One worker thread and its pending requests. */
class WorkerLink {
  private readonly pending = new Map<number, { resolve: (m: Reply) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private failure: Error | undefined;
  private readonly exited: Promise<number>;
  needsWeights = false;
  /** The thread's exit code once it has exited (0: it closed cleanly; 1: terminated). */
  exitCode: number | null = null;

  constructor(
    readonly index: number,
    readonly worker: Worker,
  ) {
    worker.on('message', (msg: FromWorker) => this.onMessage(msg));
    worker.on('error', (e: Error) =>
      this.fail(new Error(`worker ${index} crashed: ${e.message}`, { cause: e })),
    );
    this.exited = new Promise((resolve) => {
      worker.on('exit', (code) => {
        this.exitCode = code;
        this.fail(new Error(`worker ${index} exited (code ${code})`));
        resolve(code);
      });
    });
  }

  request(msg: ToWorker, transfer: ArrayBuffer[] = []): Promise<Reply> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const id = msg.kind === 'init' ? 0 : 'id' in msg ? msg.id : 0;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage(msg, transfer);
    });
  }

  newId(): number {
    return this.nextId++;
  }

  async close(timeoutMs: number): Promise<void> {
    this.failure ??= new Error(`worker ${this.index} was closed`);
    this.worker.postMessage({ kind: 'close' } satisfies ToWorker);
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
    if ((await Promise.race([this.exited, timer])) === 'timeout') await this.worker.terminate();
  }

  terminate(): Promise<number> {
    this.failure ??= new Error(`worker ${this.index} was terminated`);
    return this.worker.terminate();
  }

  private onMessage(msg: FromWorker): void {
    const waiter = this.pending.get(msg.id);
    if (waiter === undefined) return;
    this.pending.delete(msg.id);
    if (msg.kind === 'failed') waiter.reject(deserializeError(msg.error, `worker ${this.index}`));
    else waiter.resolve(msg);
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const w of this.pending.values()) w.reject(e);
    this.pending.clear();
  }
}

/** The compiled worker next to this module, or under dist/ when this module runs from TypeScript sources. */
export function defaultWorkerScript(): string {
  const here = path.join(__dirname, 'worker.js');
  if (existsSync(here)) return here;
  const built = path.resolve(__dirname, '../../../dist/src/training/engine/worker.js');
  if (existsSync(built)) return built;
  throw new Error(
    `the engine's worker script is not built (looked for ${here} and ${built}): run npm run build`,
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
    this.closeTimeoutMs = opts.closeTimeoutMs ?? 5000;
    this.description = `data-parallel (main thread + ${links.length} worker${links.length > 1 ? 's' : ''})`;
  }

  private readonly closeTimeoutMs: number;

  /** Starts the workers, builds their replicas and copies the main model's weights into them. */
  static async create(opts: DataParallelEngineOptions): Promise<DataParallelEngine> {
    if (!Number.isInteger(opts.workers) || opts.workers < 1) {
      throw new Error(`the data-parallel engine needs at least 1 worker, got ${opts.workers}`);
    }
    const replica = new Replica(opts.model, lossOptions(opts));
    const loss = replica.loss;
    const script = opts.workerScript ?? defaultWorkerScript();
    const weights = replica.readWeights();
    const backend = opts.backend ?? currentBackendChoice();
    const links = Array.from({ length: opts.workers }, (_, i) => new WorkerLink(i + 1, new Worker(script)));
    const started = await Promise.allSettled(
      links.map((l) => l.request({ kind: 'init', spec: opts.replica, loss, backend, weights })),
    );
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) {
      await Promise.all(links.map((l) => l.terminate()));
      throw failed.reason;
    }
    return new DataParallelEngine(opts, replica, links);
  }

  async trainStep(batch: Batch): Promise<TrainStepResult> {
    this.assertUsable();
    checkBatch(batch);
    prepareLabels(batch.y, this.replica.loss); // fail on bad labels before any thread starts working
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
      const replies = (await this.collect(remote)) as Extract<Reply, { kind: 'trained' }>[];
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
          weight: shards[i].n,
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
    checkBatch(batch);
    prepareLabels(batch.y, this.replica.loss);
    const shards = splitBatch(batch, this.links.length + 1);
    const weights = this.weightsForWorkers(shards.length - 1);
    const remote = shards.slice(1).map((shard, i) => this.send(i, 'eval', shard, weights));
    try {
      const own = this.replica.evalShard(shards[0]);
      const replies = (await this.collect(remote)) as Extract<Reply, { kind: 'evaluated' }>[];
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
    await Promise.all(this.links.map((l) => l.close(this.closeTimeoutMs)));
    this.optimizer.dispose();
  }

  /**
   * Diagnostics and tests: each worker's replica weights, after it has taken the main model's current ones
   * (which every train/eval request does first). Proves the replicas compute with identical weights.
   */
  async workerWeights(): Promise<Float32Array[][]> {
    this.assertUsable();
    const weights = this.weightsForWorkers(this.links.length);
    const replies = await Promise.all(
      this.links.map((link) => {
        const withWeights = link.needsWeights ? weights : undefined;
        link.needsWeights = false;
        return link.request({
          kind: 'read-weights',
          id: link.newId(),
          ...(withWeights ? { weights: withWeights } : {}),
        });
      }),
    );
    return replies.map((r) => (r as Extract<Reply, { kind: 'weights' }>).weights);
  }

  /** Exit codes of the worker threads (null while running). */
  workerExitCodes(): (number | null)[] {
    return this.links.map((l) => l.exitCode);
  }

  /** The main model's weights, read once, if any of the first `count` workers has stale ones. */
  private weightsForWorkers(count: number): Float32Array[] | undefined {
    return this.links.slice(0, count).some((l) => l.needsWeights) ? this.replica.readWeights() : undefined;
  }

  private send(
    i: number,
    kind: 'train' | 'eval',
    shard: Batch,
    weights: Float32Array[] | undefined,
  ): Promise<Reply> {
    const link = this.links[i];
    const withWeights = link.needsWeights ? weights : undefined;
    link.needsWeights = false;
    const msg: ToWorker = { kind, id: link.newId(), shard, ...(withWeights ? { weights: withWeights } : {}) };
    // The shard's buffers are fresh copies: hand them over instead of cloning them.
    return link.request(msg, [shard.x.buffer as ArrayBuffer, shard.y.buffer as ArrayBuffer]);
  }

  private async collect(remote: Promise<Reply>[]): Promise<Reply[]> {
    return Promise.all(remote);
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
