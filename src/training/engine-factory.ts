/**
 * Which step engine a run uses, from `compute_workers` (engine/types.ts is the interface):
 * - a number n: n backend instances, the main thread plus n - 1 worker threads (1: in process);
 * - "auto": on a native tfjs backend (tfjs-node uses every core itself) one; on wasm or cpu (one core per
 *   backend instance) one per core, but no more than the samples of a batch (a shard needs a sample).
 */

import * as os from 'node:os';
import type * as tf from '@tensorflow/tfjs';
import type { BackendChoice } from '../backend/select';
import type { TrainConfig } from '../task/config-types';
import { DataParallelEngine } from './engine/data-parallel';
import { InProcessEngine } from './engine/in-process';
import type { TrainEngine } from './engine/types';

export interface EngineRequest {
  model: tf.LayersModel;
  /** Fresh, or holding the moments restored from the checkpoint (continue_training). */
  optimizer: tf.AdamOptimizer;
  learningRate: number;
  numClasses: number;
  ignoreIndex: number | null;
  /** `compute_workers` of the config. */
  computeWorkers: TrainConfig['compute_workers'];
  backend: BackendChoice;
  /** The train batch size actually used. */
  batchSize: number;
  /** How worker threads build the same network: the plugin module and its build options. */
  replica: {
    pluginModule: string;
    buildOptions: { inputSize: { height: number; width: number }; numClasses: number; settings: unknown };
  };
}

export type EngineFactory = (request: EngineRequest) => Promise<TrainEngine>;

/** Backend instances to train with (see the module comment). */
export function resolveComputeWorkers(opts: {
  setting: TrainConfig['compute_workers'];
  backend: BackendChoice;
  cores: number;
  batchSize: number;
}): number {
  if (opts.setting !== 'auto') return opts.setting;
  if (opts.backend === 'node' || opts.backend === 'node-gpu') return 1;
  return Math.max(1, Math.min(opts.cores, opts.batchSize));
}

export const defaultEngineFactory: EngineFactory = async (request) => {
  const instances = resolveComputeWorkers({
    setting: request.computeWorkers,
    backend: request.backend,
    cores: os.availableParallelism(),
    batchSize: request.batchSize,
  });
  const loss = { numClasses: request.numClasses, ignoreIndex: request.ignoreIndex };
  if (instances <= 1) {
    return new InProcessEngine({
      model: request.model,
      optimizer: request.optimizer,
      learningRate: request.learningRate,
      ...loss,
    });
  }
  return DataParallelEngine.create({
    model: request.model,
    optimizer: request.optimizer,
    learningRate: request.learningRate,
    ...loss,
    replica: request.replica,
    workers: instances - 1,
    backend: request.backend,
  });
};
