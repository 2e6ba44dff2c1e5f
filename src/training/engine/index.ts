/**
 * The training step engine: `createTrainEngine` picks the in-process engine or the data-parallel one
 * (worker threads, one core each). See types.ts for the interface the loop uses.
 */
import { DataParallelEngine } from './data-parallel';
import { InProcessEngine, type InProcessEngineOptions } from './in-process';
import type { ReplicaSpec } from './messages';
import type { TrainEngine } from './types';

export type { Batch, EvalStepResult, LossOptions, TrainEngine, TrainStepResult } from './types';
export type { ReplicaSpec } from './messages';
export { DataParallelEngine } from './data-parallel';
export { InProcessEngine } from './in-process';

export interface CreateTrainEngineOptions extends InProcessEngineOptions {
  /** Worker threads besides the main thread; 0 (the default) trains in-process. */
  workers?: number;
  /** Required when workers > 0: how the workers build the same network. */
  replica?: ReplicaSpec;
  /** Backend name for the workers; the main thread's by default. */
  backend?: string;
}

/**
 * Worker threads worth starting on a machine with `cores` cores: one per core besides the main thread,
 * which computes a shard too. A tfjs wasm backend uses exactly one core; native backends use all of them
 * already, so they get none.
 */
export function workersForCores(cores: number, backend: string): number {
  if (backend !== 'wasm' && backend !== 'cpu') return 0;
  return Math.max(0, Math.floor(cores) - 1);
}

export async function createTrainEngine(opts: CreateTrainEngineOptions): Promise<TrainEngine> {
  const workers = opts.workers ?? 0;
  if (workers <= 0) return new InProcessEngine(opts);
  if (opts.replica === undefined)
    throw new Error('a data-parallel engine needs `replica` (the plugin module)');
  return DataParallelEngine.create({ ...opts, workers, replica: opts.replica });
}
