/**
 * The onnxruntime engine: each training step runs as one ONNX graph (src/onnx/training-graph.ts) on
 * onnxruntime-node's native CPU kernels, which use every core and wide SIMD; the tfjs model stays the
 * authority: its variables are fed in, the gradients come back and the same tfjs Adam steps them, and BatchNorm's
 * moving statistics are updated with tfjs's own formula. Validation runs a second graph, the forward pass in
 * inference mode. Sessions run in their own threads (session-thread.ts) so the data pipeline keeps loading
 * during a step.
 */
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import type * as Ort from 'onnxruntime-node';
import { readLayerGraph, shortWeightName } from '../../onnx/layer-graph';
import { type OrtModule, sessionOptions, type SessionSettings } from '../../onnx/runtime';
import { SessionThread, sessionWorkerScript, type PlainTensor } from '../../onnx/session-thread';
import {
  buildTrainingGraph,
  EVAL_OUTPUTS,
  TRAINING_INPUTS,
  TRAINING_OUTPUTS,
  type TrainingGraph,
} from '../../onnx/training-graph';
import { modelSignature, type TensorNames } from '../../network/tensors';
import { prepareLabels, type BatchSize } from './batch';
import { AdamEngine, finishTrainStep } from './step';
import { Replica } from './replica';
import {
  lossOptions,
  scoredOutputIndex,
  type Batch,
  type EvalStepResult,
  type LossOptions,
  type TrainEngine,
  type TrainStepResult,
} from './types';

export interface OnnxTrainEngineOptions extends LossOptions {
  model: tf.LayersModel;
  learningRate: number;
  optimizer?: tf.AdamOptimizer;
  ort: OrtModule;
  /** onnxruntime intra-op threads; the machine's cores by default. */
  threads?: number;
  /** Profile every op of every step into `<prefix>_<date>.json` (Chrome trace; see bench/train.ts). */
  profilePrefix?: string;
  /** Run the session in a worker thread (default: yes, when the compiled worker script exists). */
  ownThread?: boolean;
  /** onnxruntime's intra-op spin-waiting (its default: on); see SessionSettings. */
  allowSpinning?: boolean;
  /** The network's input and output names; see InProcessEngineOptions. */
  tensorNames?: TensorNames;
}

/** Where the session runs: its own thread, or this one. */
interface StepRunner {
  readonly where: string;
  run(feeds: Record<string, PlainTensor>): Promise<Record<string, Float32Array>>;
  endProfiling(): Promise<void>;
  close(): Promise<void>;
}

async function inProcessRunner(
  ort: OrtModule,
  model: Uint8Array,
  settings: SessionSettings,
): Promise<StepRunner> {
  const session = await ort.InferenceSession.create(model, sessionOptions(settings));
  return {
    where: 'main thread',
    run: async (feeds) => {
      const tensors: Record<string, Ort.Tensor> = {};
      for (const [name, t] of Object.entries(feeds))
        tensors[name] = new ort.Tensor('float32', t.data, t.dims);
      const out = await session.run(tensors);
      return Object.fromEntries(Object.entries(out).map(([name, t]) => [name, t.data as Float32Array]));
    },
    endProfiling: async () => session.endProfiling(),
    close: () => session.release(),
  };
}

async function threadRunner(
  script: string,
  model: Uint8Array,
  settings: SessionSettings,
): Promise<StepRunner> {
  const thread = await SessionThread.create({ model, settings }, script);
  return {
    where: 'own thread',
    run: (feeds) => thread.run(feeds),
    endProfiling: () => thread.endProfiling(),
    close: () => thread.close(),
  };
}

interface BatchNormUpdate {
  mean: tf.LayerVariable;
  variance: tf.LayerVariable;
  meanOut: string;
  varianceOut: string;
  momentum: number;
}

export class OnnxTrainEngine extends AdamEngine implements TrainEngine {
  readonly description: string;
  /** For each graph weight input, the model variable it reads. */
  private readonly fed: { input: string; variable: tf.LayerVariable }[];
  private readonly evalFed: { input: string; variable: tf.LayerVariable }[];
  /**
   * The trainable variables in Replica order, with the graph output holding each one's gradient (null: the
   * variable does not lead to the scored output, its gradient is zero).
   */
  private readonly gradOutputs: (string | null)[];
  private readonly batchNorms: BatchNormUpdate[];
  private disposed = false;

  private constructor(
    opts: OnnxTrainEngineOptions,
    private readonly runner: StepRunner,
    private readonly evalRunner: StepRunner,
    private readonly graph: TrainingGraph,
    evalGraph: TrainingGraph,
    threads: number,
  ) {
    super(
      new Replica(opts.model, lossOptions(opts), opts.tensorNames),
      opts.optimizer ?? tf.train.adam(opts.learningRate),
    );
    const byKey = variablesByKey(opts.model);
    this.fed = graph.weights.map((w) => ({ input: w.input, variable: lookup(byKey, w.input) }));
    this.evalFed = evalGraph.weights.map((w) => ({ input: w.input, variable: lookup(byKey, w.input) }));
    const gradOf = new Map(graph.weights.map((w) => [lookup(byKey, w.input).id, w.grad]));
    this.gradOutputs = opts.model.trainableWeights.map((v) => {
      const g = gradOf.get(v.id);
      // With several outputs, a weight that leads only to those the loss does not score is not in the graph.
      if (g === undefined && opts.model.outputs.length === 1) {
        throw new Error(`the training graph computes no gradient for ${v.name}`);
      }
      return g ?? null;
    });
    this.batchNorms = graph.batchNorms.map((bn) => {
      const layer = opts.model.getLayer(bn.layerName);
      const momentum = Number(layer.getConfig().momentum ?? 0.99);
      return {
        mean: lookup(byKey, `${bn.layerName}/moving_mean`),
        variance: lookup(byKey, `${bn.layerName}/moving_variance`),
        meanOut: bn.mean,
        varianceOut: bn.variance,
        momentum,
      };
    });
    this.description = `onnxruntime (${threads} thread${threads > 1 ? 's' : ''}, ${runner.where})`;
  }

  /** Builds the step graph and its session; throws (an `unsupported` TaskError) for layers it cannot train. */
  static async create(opts: OnnxTrainEngineOptions): Promise<OnnxTrainEngine> {
    const layers = readLayerGraph(opts.model);
    const signature = modelSignature(opts.model, opts.tensorNames);
    const scored = scoredOutputIndex(
      signature.outputs.map((o) => o.name),
      lossOptions(opts),
      opts.model.name,
    );
    const graph = buildTrainingGraph(layers, 'train', scored);
    const evalGraph = buildTrainingGraph(layers, 'eval', scored);
    if (graph.numClasses !== opts.numClasses) {
      throw new Error(
        `the network outputs ${graph.numClasses} channels but there are ${opts.numClasses} classes`,
      );
    }
    const threads = opts.threads ?? availableParallelism();
    const script = opts.ownThread === false ? null : sessionWorkerScript();
    if (opts.ownThread === true && script === null) {
      throw new Error('the onnxruntime worker script is not built: run npm run build');
    }
    const settings: SessionSettings = {
      intraOpNumThreads: threads,
      ...(opts.allowSpinning !== undefined ? { allowSpinning: opts.allowSpinning } : {}),
    };
    const start = (model: Uint8Array, s: SessionSettings): Promise<StepRunner> =>
      script !== null ? threadRunner(script, model, s) : inProcessRunner(opts.ort, model, s);
    const profiled =
      opts.profilePrefix !== undefined ? { ...settings, profilePrefix: opts.profilePrefix } : settings;
    const runner = await start(graph.model, profiled);
    let evalRunner: StepRunner | undefined;
    try {
      evalRunner = await start(evalGraph.model, settings);
      return new OnnxTrainEngine(opts, runner, evalRunner, graph, evalGraph, threads);
    } catch (e) {
      // No thread outlives a failed start.
      await Promise.all([runner.close(), evalRunner?.close()]);
      throw e;
    }
  }

  async trainStep(batch: Batch): Promise<TrainStepResult> {
    this.assertLive();
    const bound = this.replica.bind(batch);
    const { labels, count, weight } = prepareLabels(batch.labels.data, this.replica.loss, true);
    if (count === 0) return { loss: 0, accuracy: 0, pixels: 0, applied: false };
    const t0 = performance.now();
    const feeds = this.feeds(bound, labels, this.fed);
    // With class weights the target holds w_c where a one-hot holds 1: the graph's -Σ target·log p and its
    // gradient (p·Σ_k target - target) are then w_y·CE and its gradient, and scale makes them a weighted mean.
    feeds[TRAINING_INPUTS.scale] = { data: Float32Array.of(1 / weight), dims: [] };
    const out = await this.runner.run(feeds);
    const t1 = performance.now();
    const grads = this.gradOutputs.map((name, i) =>
      name === null
        ? tf.zerosLike(this.replica.trainable[i])
        : tf.tensor(out[name], this.replica.trainable[i].shape, 'float32'),
    );
    try {
      for (const bn of this.batchNorms) {
        movingAverage(bn.mean, out[bn.meanOut], bn.momentum);
        movingAverage(bn.variance, out[bn.varianceOut], bn.momentum);
      }
      const result = finishTrainStep(this.optimizer, this.replica.trainable, [
        {
          grads,
          loss: out[TRAINING_OUTPUTS.loss][0],
          correct: out[TRAINING_OUTPUTS.correct][0],
          count,
          weight,
        },
      ]);
      return { ...result, timing: { computeMs: t1 - t0, waitMs: 0, combineMs: performance.now() - t1 } };
    } finally {
      grads.forEach((t) => t.dispose());
    }
  }

  async evalStep(batch: Batch): Promise<EvalStepResult> {
    this.assertLive();
    const bound = this.replica.bind(batch);
    const { labels, count, weight } = prepareLabels(batch.labels.data, this.replica.loss);
    const out = await this.evalRunner.run(this.feeds(bound, labels, this.evalFed));
    const classes = this.graph.numClasses;
    const predicted = out[EVAL_OUTPUTS.predicted];
    const confusion = new Float64Array(classes * classes);
    for (let i = 0; i < labels.length; i++) {
      if (labels[i] >= 0) confusion[labels[i] * classes + predicted[i]]++;
    }
    return {
      loss: weight > 0 ? out[EVAL_OUTPUTS.lossSum][0] / weight : 0,
      pixels: count,
      lossWeight: weight,
      confusion,
      numClasses: classes,
    };
  }

  /**
   * The inputs (bound by name, in the model's order, as the graph's inputs are), one-hot labels and weights,
   * each a fresh copy: the runner may transfer them to its thread.
   */
  private feeds(
    bound: ReturnType<Replica['bind']>,
    labels: Int32Array,
    fed: readonly { input: string; variable: tf.LayerVariable }[],
  ): Record<string, PlainTensor> {
    const { n, height, width }: BatchSize = bound.size;
    const g = this.graph;
    const feeds: Record<string, PlainTensor> = {};
    g.inputs.forEach((input, i) => {
      const t = bound.inputs[i];
      feeds[input.input] = { data: t.data.slice(), dims: [...t.shape] };
    });
    feeds[TRAINING_INPUTS.target] = {
      data: oneHotNCHW(labels, n, g.numClasses, height * width, this.replica.loss.classWeights),
      dims: [n, g.numClasses, height, width],
    };
    for (const { input, variable } of fed) {
      const value = variable.read();
      feeds[input] = { data: Float32Array.from(value.dataSync() as Float32Array), dims: value.shape };
    }
    return feeds;
  }

  /** Writes the profile file when profiling was asked for. */
  endProfiling(): Promise<void> {
    return this.runner.endProfiling();
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.optimizer.dispose();
    await Promise.all([this.runner.close(), this.evalRunner.close()]);
  }

  private assertLive(): void {
    if (this.disposed) throw new Error('the training engine was disposed');
  }
}

/** Every model weight under `<layer>/<short name>`, the training graph's input names. */
function variablesByKey(model: tf.LayersModel): Map<string, tf.LayerVariable> {
  const out = new Map<string, tf.LayerVariable>();
  for (const layer of model.layers) {
    for (const w of layer.weights) out.set(`${layer.name}/${shortWeightName(w.originalName)}`, w);
  }
  return out;
}

function lookup(map: Map<string, tf.LayerVariable>, key: string): tf.LayerVariable {
  const v = map.get(key);
  if (v === undefined) throw new Error(`the model has no weight ${key}`);
  return v;
}

/**
 * Labels (-1 = ignored) as a one-hot [n, classes, pixels] block, the layout the graph's loss reads; with class
 * weights, a pixel's entry is its class's weight instead of 1.
 */
export function oneHotNCHW(
  labels: Int32Array,
  n: number,
  classes: number,
  pixels: number,
  classWeights?: readonly number[],
): Float32Array {
  const value = classWeights ?? new Array<number>(classes).fill(1);
  const out = new Float32Array(n * classes * pixels);
  for (let b = 0; b < n; b++) {
    const src = b * pixels;
    const dst = b * classes * pixels;
    for (let p = 0; p < pixels; p++) {
      const c = labels[src + p];
      if (c >= 0) out[dst + c * pixels + p] = value[c];
    }
  }
  return out;
}

/** tfjs BatchNormalization's update: moving -= (moving - batch) * (1 - momentum), in tfjs ops. */
function movingAverage(variable: tf.LayerVariable, batchValue: Float32Array, momentum: number): void {
  tf.tidy(() => {
    const orig = variable.read();
    const value = tf.tensor(batchValue, orig.shape, 'float32');
    variable.write(tf.sub(orig, tf.mul(tf.sub(orig, value), 1 - momentum)));
  });
}
