/**
 * Which step engine a run uses (engine/types.ts is the interface), from `train_engine`:
 * - "onnxruntime": each step runs as one ONNX graph on onnxruntime-node's native kernels (every core, wide
 *   SIMD); an error if it cannot load or a layer cannot train on it;
 * - "tfjs": the tfjs backend, with `compute_workers` backend instances: a number n is the main thread plus
 *   n - 1 worker threads (1: in process); "auto" is one on a native backend (tfjs-node uses every core
 *   itself), and on wasm or cpu (one core per instance) one per core, at most the samples of a batch;
 * - "auto": onnxruntime on the wasm and cpu backends when it loads and every layer trains on it (several
 *   times faster there), tfjs otherwise (native tfjs backends, a GPU above all, stay with tfjs).
 */

import type { TensorNames } from '../network/tensors';
import * as os from 'node:os';
import type * as tf from '@tensorflow/tfjs';
import type { BackendChoice } from '../backend/select';
import { configError, errorMessage, TaskError } from '../errors';
import { type OrtLoader, tryLoadOnnxRuntime } from '../onnx/runtime';
import type { TrainConfig } from '../task/config-types';
import { DataParallelEngine } from './engine/data-parallel';
import { InProcessEngine } from './engine/in-process';
import { OnnxTrainEngine } from './engine/onnx-engine';
import type { LossOptions, TrainEngine } from './engine/types';

/** Overrides `train_engine` (benchmarks, operators); read by the entry point. */
export const TRAIN_ENGINE_ENV_VAR = 'TRAIN_ENGINE';
export type TrainEngineSetting = TrainConfig['train_engine'];
const SETTINGS: readonly TrainEngineSetting[] = ['auto', 'onnxruntime', 'tfjs'];

export interface EngineRequest {
  model: tf.LayersModel;
  /** Fresh, or holding the moments restored from the checkpoint (continue_training). */
  optimizer: tf.AdamOptimizer;
  learningRate: number;
  numClasses: number;
  ignoreIndex: number | null;
  /** Per-class loss weights (LossOptions.classWeights); absent: unweighted. */
  classWeights?: readonly number[];
  /** The output the loss scores (LossOptions.output); absent: the network's first. */
  output?: string;
  /** `train_engine` of the config, or the TRAIN_ENGINE override. */
  engine: TrainEngineSetting;
  /** `compute_workers` of the config (the tfjs engine's backend instances). */
  computeWorkers: TrainConfig['compute_workers'];
  backend: BackendChoice;
  /** The train batch size actually used. */
  batchSize: number;
  /** The plugin's names for the model's inputs and output: the batch's tensors are bound to them. */
  tensorNames?: TensorNames;
  /** How worker threads build the same network: the plugin module and its build options. */
  replica: {
    pluginModule: string;
    buildOptions: { inputSize: { height: number; width: number }; numClasses: number; settings: unknown };
  };
}

export interface EngineChoice {
  engine: TrainEngine;
  /** Why this engine, for the log: the setting, or why onnxruntime was not used. */
  reason: string;
}

export type EngineFactory = (request: EngineRequest) => Promise<EngineChoice>;

export interface EngineFactoryOptions {
  /** How onnxruntime-node is loaded; tests inject a failing loader. */
  loadOrt?: OrtLoader;
  /** onnxruntime intra-op threads; the machine's cores by default. */
  onnxThreads?: number;
  /** Profile the onnxruntime steps (benchmarks): see OnnxTrainEngineOptions.profilePrefix. */
  onnxProfilePrefix?: string;
  /** onnxruntime's intra-op spin-waiting (benchmarks); see SessionSettings.allowSpinning. */
  onnxAllowSpinning?: boolean;
}

/** TRAIN_ENGINE's value → the setting; empty or absent means "use the config's". */
export function parseTrainEngine(value: string | undefined): TrainEngineSetting | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const v = value.trim().toLowerCase();
  const hit = SETTINGS.find((s) => s === v);
  if (hit === undefined) {
    throw configError(`unknown training engine "${value}"; use one of: ${SETTINGS.join(', ')}`, {
      field: TRAIN_ENGINE_ENV_VAR,
    });
  }
  return hit;
}

/** tfjs-node and tfjs-node-gpu: native kernels that use every core (or the GPU) themselves. */
function isNativeBackend(backend: BackendChoice): boolean {
  return backend === 'node' || backend === 'node-gpu';
}

/** Backend instances to train with (see the module comment). */
export function resolveComputeWorkers(opts: {
  setting: TrainConfig['compute_workers'];
  backend: BackendChoice;
  cores: number;
  batchSize: number;
}): number {
  if (opts.setting !== 'auto') return opts.setting;
  if (isNativeBackend(opts.backend)) return 1;
  return Math.max(1, Math.min(opts.cores, opts.batchSize));
}

export function makeEngineFactory(options: EngineFactoryOptions = {}): EngineFactory {
  return async (request) => {
    if (request.engine === 'tfjs') return { engine: await tfjsEngine(request), reason: 'train_engine: tfjs' };
    if (request.engine === 'auto' && isNativeBackend(request.backend)) {
      return {
        engine: await tfjsEngine(request),
        reason: `the tfjs backend ${request.backend} is native: it keeps the steps`,
      };
    }
    const attempt = await tryOnnx(request, options);
    if (attempt.ok) {
      const why =
        request.engine === 'onnxruntime'
          ? 'train_engine: onnxruntime'
          : 'onnxruntime-node loaded and every layer trains on it';
      return { engine: attempt.engine, reason: why };
    }
    if (request.engine === 'onnxruntime') {
      throw configError(`train_engine is "onnxruntime" but ${attempt.reason}`, { field: 'train_engine' });
    }
    return { engine: await tfjsEngine(request), reason: `onnxruntime not used: ${attempt.reason}` };
  };
}

type OnnxAttempt = { ok: true; engine: OnnxTrainEngine } | { ok: false; reason: string };

async function tryOnnx(request: EngineRequest, options: EngineFactoryOptions): Promise<OnnxAttempt> {
  const loaded = await tryLoadOnnxRuntime(options.loadOrt);
  if (!loaded.ok) return loaded;
  const { ort } = loaded;
  try {
    const engine = await OnnxTrainEngine.create({
      model: request.model,
      optimizer: request.optimizer,
      learningRate: request.learningRate,
      ...lossOf(request),
      ...namesOf(request),
      ort,
      threads: options.onnxThreads,
      profilePrefix: options.onnxProfilePrefix,
      allowSpinning: options.onnxAllowSpinning,
    });
    return { ok: true, engine };
  } catch (e) {
    // An unsupported layer is a TaskError naming the layer and its class.
    if (e instanceof TaskError) return { ok: false, reason: e.message };
    return { ok: false, reason: `onnxruntime could not start the training graph: ${errorMessage(e)}` };
  }
}

export const defaultEngineFactory: EngineFactory = makeEngineFactory();

function namesOf(request: EngineRequest): { tensorNames?: TensorNames } {
  return request.tensorNames === undefined ? {} : { tensorNames: request.tensorNames };
}

function lossOf(request: EngineRequest): LossOptions {
  const { numClasses, ignoreIndex, classWeights, output } = request;
  return {
    numClasses,
    ignoreIndex,
    ...(classWeights === undefined ? {} : { classWeights }),
    ...(output === undefined ? {} : { output }),
  };
}

async function tfjsEngine(request: EngineRequest): Promise<TrainEngine> {
  const instances = resolveComputeWorkers({
    setting: request.computeWorkers,
    backend: request.backend,
    cores: os.availableParallelism(),
    batchSize: request.batchSize,
  });
  const loss = lossOf(request);
  if (instances <= 1) {
    return new InProcessEngine({
      model: request.model,
      optimizer: request.optimizer,
      learningRate: request.learningRate,
      ...loss,
      ...namesOf(request),
    });
  }
  return DataParallelEngine.create({
    model: request.model,
    optimizer: request.optimizer,
    learningRate: request.learningRate,
    ...loss,
    ...namesOf(request),
    replica: request.replica,
    workers: instances - 1,
    backend: request.backend,
  });
}
