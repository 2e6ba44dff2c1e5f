/**
 * Builds one training step of a tfjs layers model as an ONNX graph, so onnxruntime's native CPU kernels can run
 * it: forward in training mode (BatchNorm on batch statistics), softmax cross-entropy over the counted pixels,
 * and the backward pass written out layer by layer (ONNX has no autodiff). Weights are graph inputs, so one
 * session serves every step; gradients come out in the tfjs kernel layouts, ready for the tfjs optimizer.
 *
 * Inputs: `x` [N,H,W,C] NHWC images (a model of several inputs: one `x:<input layer>` each, see
 * `TrainingGraph.inputs`); `target` [N,K,H,W] one-hot labels (an ignored pixel is an all-zero
 * column), or class weights in place of the ones for a class-weighted loss; `scale` [] = 1 / counted pixels
 * (weighted: 1 / Σ of their weights); one input per weight, named `<layer>/<weight>`.
 * Outputs: `loss` [] (mean over counted pixels), `correct` [] (counted pixels whose arg-max is right), one
 * `grad:<layer>/<weight>` per weight, and `<layer>/batch_mean` and `<layer>/batch_variance` per BatchNorm.
 *
 * The same builder makes the validation graph (`mode: 'eval'`): the forward pass in inference mode, BatchNorm on
 * its moving statistics (inputs as well), with `loss_sum` and the arg-max class per pixel as outputs.
 *
 * Each layer's nodes, forward and backward, come from its training form in lowering.ts, beside the forward
 * lowering the exporter uses too, written through the TrainingEmitter this builder implements (weights as graph
 * inputs, their gradients collected here). What is this file's own: walking the layer graph (the part that leads
 * to the output the loss scores), summing each
 * tensor's gradients, the graph's inputs and outputs, and the loss on a channel softmax output. The layers that
 * train here are listed in lowering.ts; anything else is an `unsupported` error naming the layer, and the caller
 * then trains with tfjs.
 */
import { onnx } from 'onnx-proto';
import { requireWeight, unsupported } from './config-read';
import { GraphBuilder, type Attrs } from './graph-builder';
import type { GraphNode, LayerGraph } from './layer-graph';
import {
  evalBatchNormalization,
  isChannelSoftmax,
  NHWC_TO_NCHW,
  trainActivation,
  trainBatchNormalization,
  trainConcatenate,
  trainConv2D,
  trainConv2DTranspose,
  trainMaxPooling2D,
  trainReLU,
  type Backward,
  type TrainingCall,
  type TrainingEmitter,
} from './lowering';

export interface TrainableInput {
  /** Graph input name, `<layer>/<weight>`. */
  readonly input: string;
  /** Graph output with its gradient, same shape (the tfjs layout); training graphs only. */
  readonly grad: string;
  readonly layerName: string;
  /** Short weight name: `kernel`, `bias`, `gamma`, `beta`. */
  readonly weight: string;
  readonly shape: readonly number[];
}

export interface BatchNormOutputs {
  readonly layerName: string;
  /** Graph outputs [channels]: the batch's mean and (biased) variance, as tfjs's moving averages use them. */
  readonly mean: string;
  readonly variance: string;
}

/** One of the model's inputs as a graph input, in the model's input order. */
export interface GraphInput {
  /** `x` for a model of one input, else `x:<input layer name>`. */
  readonly input: string;
  readonly layerName: string;
  /** Without the batch dimension, NHWC. */
  readonly shape: readonly number[];
}

export interface TrainingGraph {
  readonly model: Uint8Array;
  readonly inputs: readonly GraphInput[];
  readonly weights: readonly TrainableInput[];
  readonly batchNorms: readonly BatchNormOutputs[];
  /** The output's (and so the labels') size. */
  readonly height: number;
  readonly width: number;
  readonly numClasses: number;
}

export const TRAINING_INPUTS = { x: 'x', target: 'target', scale: 'scale' } as const;
export const TRAINING_OUTPUTS = { loss: 'loss', correct: 'correct' } as const;
/** The evaluation graph's outputs: the summed loss and the arg-max class per pixel [N,H,W] (as floats). */
export const EVAL_OUTPUTS = { lossSum: 'loss_sum', predicted: 'predicted' } as const;

/**
 * `train`: one training step (above). `eval`: the forward pass in inference mode (BatchNorm on its moving
 * statistics, which become inputs too) with the summed loss and the predicted classes: validation.
 */
export type GraphMode = 'train' | 'eval';

class TrainingGraphBuilder implements TrainingEmitter {
  readonly builder = new GraphBuilder();
  private readonly names = new Map<string, string>();
  private readonly backward = new Map<string, Backward>();
  private readonly grads = new Map<string, string[]>();
  readonly weights: TrainableInput[] = [];
  readonly batchNorms: BatchNormOutputs[] = [];
  private readonly outputs: { name: string; dims: number[] }[] = [];
  private zero: string | undefined;
  private readonly graphInputs = new Map<string, GraphInput>();

  constructor(
    private readonly graph: LayerGraph,
    private readonly mode: GraphMode,
    private readonly output: number,
  ) {}

  build(): TrainingGraph {
    const g = this.graph;
    const scoredId = g.outputs[this.output];
    if (scoredId === undefined) {
      throw new Error(
        `training graph: the model has ${g.outputs.length} outputs, not an output ${this.output}`,
      );
    }
    // Only what leads to the scored output: a model of one output is all of it, in the same order.
    const nodes = ancestors(g, scoredId);
    const last = nodes[nodes.length - 1];
    const logitsId = softmaxInput(last);
    for (const id of g.inputs) {
      const input = g.nodes.find((n) => n.id === id);
      if (input === undefined) throw new Error('the layer graph has no node for its input');
      const [, ...shape] = input.outputShape;
      if (shape.some((d) => d === null)) {
        throw unsupported(input, 'the training engine needs a fixed input size', 'batchInputShape');
      }
      // One input keeps the name `x` the graph always had.
      const name = g.inputs.length === 1 ? TRAINING_INPUTS.x : `${TRAINING_INPUTS.x}:${input.layerName}`;
      this.graphInputs.set(id, { input: name, layerName: input.layerName, shape: shape as number[] });
    }
    const [, height, width] = last.outputShape;
    if (height === null || width === null) {
      throw unsupported(last, 'the training engine needs a fixed output size', 'batchInputShape');
    }
    for (const node of nodes) {
      if (node === last) continue;
      if (node.config['trainable'] === false) {
        throw unsupported(node, 'frozen layers are trained by the tfjs engine only', 'trainable');
      }
      this.forward(node);
    }
    const logits = this.name(logitsId);
    const numClasses = last.outputShape[3];
    if (numClasses === null) throw unsupported(last, 'the number of classes is unknown');
    const dims = { height, width, numClasses };
    if (this.mode === 'eval') return this.finishEval(logits, dims);
    this.addGrad(logitsId, this.loss(logits));
    for (let i = nodes.length - 1; i >= 0; i--) {
      const node = nodes[i];
      const back = this.backward.get(node.id);
      const gradOut = this.gradOf(node.id);
      if (back === undefined || gradOut === null) continue;
      back(gradOut).forEach((gin, k) => {
        if (gin !== null) this.addGrad(node.inputs[k], gin);
      });
    }
    for (const w of this.weights) {
      const g2 = this.gradOf(`weight:${w.input}`);
      if (g2 === null) throw unsupported(last, `no gradient reaches ${w.input}`);
      this.builder.node('Identity', [g2], [this.builder.reserve(w.grad)]);
      this.outputs.push({ name: w.grad, dims: [...w.shape] });
    }
    const float = onnx.TensorProto.DataType.FLOAT;
    const model = this.builder.toModelProto({
      graphName: 'training_step',
      docString: 'One training step (forward, loss, backward) of a tfjs layers model',
      inputs: [
        ...this.inputValueInfos(),
        { name: TRAINING_INPUTS.target, dims: ['N', numClasses, height, width] },
        { name: TRAINING_INPUTS.scale, dims: [] },
        ...this.weights.map((w) => ({ name: w.input, dims: [...w.shape] })),
      ],
      outputs: [
        { name: TRAINING_OUTPUTS.loss, dims: [], elemType: float },
        { name: TRAINING_OUTPUTS.correct, dims: [], elemType: float },
        ...this.outputs,
      ],
    });
    return {
      model,
      inputs: [...this.graphInputs.values()],
      weights: this.weights,
      batchNorms: this.batchNorms,
      height,
      width,
      numClasses,
    };
  }

  private inputValueInfos(): { name: string; dims: (string | number)[] }[] {
    return [...this.graphInputs.values()].map((i) => ({ name: i.input, dims: ['N', ...i.shape] }));
  }

  private finishEval(
    logits: string,
    dims: { height: number; width: number; numClasses: number },
  ): TrainingGraph {
    const { height, width, numClasses } = dims;
    const t = TRAINING_INPUTS.target;
    const logp = this.op('LogSoftmax', [logits], 'log_probs', { axis: 1 });
    const total = this.op('ReduceSum', [this.op('Mul', [t, logp], 'target_log_probs')], 'log_likelihood', {
      keepdims: 0,
    });
    this.builder.node('Neg', [total], [this.builder.reserve(EVAL_OUTPUTS.lossSum)]);
    const argmax = this.op('ArgMax', [logits], 'argmax', { axis: 1, keepdims: 0 });
    this.builder.node('Cast', [argmax], [this.builder.reserve(EVAL_OUTPUTS.predicted)], {
      to: onnx.TensorProto.DataType.FLOAT,
    });
    const model = this.builder.toModelProto({
      graphName: 'evaluation',
      docString: 'The forward pass in inference mode with the summed loss and the predicted classes',
      inputs: [
        ...this.inputValueInfos(),
        { name: TRAINING_INPUTS.target, dims: ['N', numClasses, height, width] },
        ...this.weights.map((w) => ({ name: w.input, dims: [...w.shape] })),
      ],
      outputs: [
        { name: EVAL_OUTPUTS.lossSum, dims: [] },
        { name: EVAL_OUTPUTS.predicted, dims: ['N', height, width] },
      ],
    });
    return { model, inputs: [...this.graphInputs.values()], weights: this.weights, batchNorms: [], ...dims };
  }

  // ---- bookkeeping

  private name(id: string): string {
    const n = this.names.get(id);
    if (n === undefined) throw new Error(`training graph: ${id} used before it was computed`);
    return n;
  }

  private addGrad(id: string, grad: string): void {
    const list = this.grads.get(id) ?? [];
    list.push(grad);
    this.grads.set(id, list);
  }

  /** The gradient of `id`: the sum of what its consumers sent back (a tensor read twice gets two). */
  private gradOf(id: string): string | null {
    const list = this.grads.get(id);
    if (list === undefined || list.length === 0) return null;
    if (list.length === 1) return list[0];
    const out = this.builder.fresh(`${id}/grad_sum`);
    this.builder.node('Sum', list, [out]);
    return out;
  }

  // ---- the TrainingEmitter the layers' training forms write through

  weightInput(node: GraphNode, weight: string): string {
    const w = requireWeight(node, weight);
    const input = this.builder.reserve(`${node.layerName}/${weight}`);
    this.weights.push({
      input,
      grad: `grad:${input}`,
      layerName: node.layerName,
      weight,
      shape: w.shape,
    });
    return input;
  }

  weightGrad(input: string, grad: string): void {
    this.addGrad(`weight:${input}`, grad);
  }

  batchStatistics(layerName: string, channels: number): { mean: string; variance: string } {
    const mean = this.builder.reserve(`${layerName}/batch_mean`);
    const variance = this.builder.reserve(`${layerName}/batch_variance`);
    this.outputs.push({ name: mean, dims: [channels] }, { name: variance, dims: [channels] });
    this.batchNorms.push({ layerName, mean, variance });
    return { mean, variance };
  }

  isGraphInput(id: string): boolean {
    return this.graphInputs.has(id);
  }

  op(opType: string, inputs: readonly string[], base: string, attrs: Attrs = {}): string {
    const out = this.builder.fresh(base);
    this.builder.node(opType, inputs, [out], attrs);
    return out;
  }

  ints(base: string, values: readonly number[]): string {
    return this.builder.int64Const(base, values);
  }

  zeroScalar(): string {
    this.zero ??= this.builder.floatConst('zero', [], Float32Array.of(0));
    return this.zero;
  }

  reduceSum(x: string, axes: readonly number[], keepdims: 0 | 1, base: string): string {
    return this.op('ReduceSum', [x, this.ints(`${base}/axes`, axes)], base, { keepdims });
  }

  reduceMean(x: string, axes: readonly number[], base: string): string {
    return this.op('ReduceMean', [x], base, { axes, keepdims: 1 });
  }

  // ---- forward, one layer call at a time; each registers its backward

  private forward(node: GraphNode): void {
    const input = this.graphInputs.get(node.id);
    if (input !== undefined) {
      const base = this.graphInputs.size === 1 ? 'x_nchw' : `${input.input}/nchw`;
      this.names.set(node.id, this.op('Transpose', [input.input], base, { perm: NHWC_TO_NCHW }));
      return;
    }
    const call = this.lower(node);
    this.names.set(node.id, call.y);
    if (call.backward !== undefined) this.backward.set(node.id, call.backward);
  }

  /** The layer's training form (lowering.ts): its forward nodes and its backward pass (unused in eval). */
  private lower(node: GraphNode): TrainingCall {
    const x = (): string => this.name(node.inputs[0]);
    switch (node.className) {
      case 'Conv2D':
        return trainConv2D(this, node, x());
      case 'Conv2DTranspose':
        return trainConv2DTranspose(this, node, x());
      case 'BatchNormalization':
        return this.mode === 'eval'
          ? evalBatchNormalization(this, node, x())
          : trainBatchNormalization(this, node, x());
      case 'Activation':
        return trainActivation(this, node, x());
      case 'ReLU':
        return trainReLU(this, node, x());
      case 'MaxPooling2D':
        return trainMaxPooling2D(this, node, x());
      case 'Concatenate':
        return trainConcatenate(
          this,
          node,
          node.inputs.map((i) => this.name(i)),
        );
      default:
        throw unsupported(node, `the onnxruntime training engine has no ${node.className} layer`);
    }
  }

  /** Softmax cross-entropy on the logits; returns the logits' gradient. */
  private loss(logits: string): string {
    const t = TRAINING_INPUTS.target;
    const scale = TRAINING_INPUTS.scale;
    const logp = this.op('LogSoftmax', [logits], 'log_probs', { axis: 1 });
    const total = this.op('ReduceSum', [this.op('Mul', [t, logp], 'target_log_probs')], 'log_likelihood', {
      keepdims: 0,
    });
    this.builder.node(
      'Mul',
      [this.op('Neg', [total], 'neg_log_likelihood'), scale],
      [this.builder.reserve('loss')],
    );
    // An ignored pixel's target column is all zero: it picks nothing and its mask is 0. A hit counts 1 whatever
    // the class's weight: train accuracy stays a plain pixel accuracy.
    const argmax = this.op('ArgMax', [logits], 'predicted', { axis: 1, keepdims: 1 });
    const picked = this.op('GatherElements', [t, argmax], 'picked', { axis: 1 });
    const hits = this.op('Cast', [this.op('Greater', [picked, this.zeroScalar()], 'is_hit')], 'hits', {
      to: onnx.TensorProto.DataType.FLOAT,
    });
    this.builder.node('ReduceSum', [hits], [this.builder.reserve('correct')], { keepdims: 0 });
    const probs = this.op('Softmax', [logits], 'probs', { axis: 1 });
    const mask = this.reduceSum(t, [1], 1, 'counted');
    return this.op(
      'Mul',
      [this.op('Sub', [this.op('Mul', [probs, mask], 'probs_counted'), t], 'probs_minus_target'), scale],
      'logits_grad',
    );
  }
}

/** The id of the logits feeding the model's softmax output, or an error saying the output is not one. */
function softmaxInput(last: GraphNode): string {
  if (!isChannelSoftmax(last) || last.inputs.length !== 1) {
    throw unsupported(last, 'the onnxruntime training engine needs a network that ends in a channel softmax');
  }
  return last.inputs[0];
}

/** The nodes `id` is computed from, itself last, in the graph's (topological) order. */
function ancestors(graph: LayerGraph, id: string): GraphNode[] {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const needed = new Set<string>();
  const visit = (at: string): void => {
    if (needed.has(at)) return;
    needed.add(at);
    for (const input of byId.get(at)?.inputs ?? []) visit(input);
  };
  visit(id);
  return graph.nodes.filter((n) => needed.has(n.id));
}

/**
 * `output`: the position of the model output the loss scores (its labels are the target's); the graph computes
 * only what leads to it, so the weights of other heads are neither inputs nor given a gradient.
 */
export function buildTrainingGraph(graph: LayerGraph, mode: GraphMode = 'train', output = 0): TrainingGraph {
  return new TrainingGraphBuilder(graph, mode, output).build();
}
