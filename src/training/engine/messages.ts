/** The messages between the data-parallel engine and its worker threads (structured-clone friendly). */
import type { Batch, LossOptions } from './types';

/** How a worker builds its replica: a plugin module (compiled JS) and the options for its `build`. */
export interface ReplicaSpec {
  /** Path of a network plugin module exporting `network` (e.g. `require.resolve('../../plugin/unet')`). */
  pluginModule: string;
  /** What `network.build` receives: { inputSize, numClasses, settings }. */
  buildOptions: { inputSize: { height: number; width: number }; numClasses: number; settings: unknown };
}

/** Weights to take before the request, sent only when the replica's are stale. */
interface WithWeights {
  readonly weights?: Float32Array[];
}

/** What crosses the channel (src/threads) between the engine and a worker. */
export type EngineProtocol = {
  readonly init: { spec: ReplicaSpec; loss: LossOptions; backend: string; weights: Float32Array[] };
  /** The backend the worker runs on. */
  readonly ready: { backend: string };
  readonly requests: {
    readonly train: {
      readonly request: WithWeights & { shard: Batch };
      readonly reply: {
        /** Gradients of the shard's mean loss per trainable variable; null if every pixel was ignored. */
        grads: Float32Array[] | null;
        loss: number;
        correct: number;
        count: number;
        /** Σ class weights of the counted pixels (= count without class weights). */
        weight: number;
        /** The non-trainable weights (BatchNorm moving statistics) after the shard's forward pass. */
        stats: Float32Array[];
      };
    };
    readonly eval: {
      readonly request: WithWeights & { shard: Batch };
      readonly reply: { lossSum: number; count: number; weight: number; confusion: Float64Array };
    };
    /** Diagnostics: the replica's weights (after applying `weights`, if sent). */
    readonly 'read-weights': { readonly request: WithWeights; readonly reply: Float32Array[] };
  };
};
