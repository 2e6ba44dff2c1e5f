/** The messages between the data-parallel engine and its worker threads (structured-clone friendly). */
import type { SerializedError } from '../../errors';
import type { Batch, LossOptions } from './types';

/** How a worker builds its replica: a plugin module (compiled JS) and the options for its `build`. */
export interface ReplicaSpec {
  /** Path of a network plugin module exporting `network` (e.g. `require.resolve('../../plugin/unet')`). */
  pluginModule: string;
  /** What `network.build` receives: { inputSize, numClasses, settings }. */
  buildOptions: { inputSize: { height: number; width: number }; numClasses: number; settings: unknown };
}

export type ToWorker =
  | { kind: 'init'; spec: ReplicaSpec; loss: LossOptions; backend: string; weights: Float32Array[] }
  | { kind: 'train'; id: number; shard: Batch; weights?: Float32Array[] }
  | { kind: 'eval'; id: number; shard: Batch; weights?: Float32Array[] }
  /** Diagnostics: the replica's weights (after applying `weights`, if sent). */
  | { kind: 'read-weights'; id: number; weights?: Float32Array[] }
  | { kind: 'close' };

export type FromWorker =
  | { kind: 'ready'; id: 0; backend: string }
  | {
      kind: 'trained';
      id: number;
      /** Gradients of the shard's mean loss per trainable variable; null if every pixel was ignored. */
      grads: Float32Array[] | null;
      loss: number;
      correct: number;
      count: number;
      /** Σ class weights of the counted pixels (= count without class weights). */
      weight: number;
      /** The non-trainable weights (BatchNorm moving statistics) after the shard's forward pass. */
      stats: Float32Array[];
    }
  | {
      kind: 'evaluated';
      id: number;
      lossSum: number;
      count: number;
      weight: number;
      confusion: Float64Array;
    }
  | { kind: 'weights'; id: number; weights: Float32Array[] }
  | { kind: 'failed'; id: number; error: SerializedError };
