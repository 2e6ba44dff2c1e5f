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
 * Each layer's forward nodes come from the lowering the exporter uses too (lowering.ts), fed with the weights as
 * graph inputs; what is this file's own is the backward pass beside each call, BatchNorm on batch statistics,
 * and the loss.
 *
 * Supported: the layers our networks train with (Conv2D stride 1, Conv2DTranspose with kernel == stride,
 * BatchNormalization on channels, ReLU, MaxPooling2D with pool == stride, Concatenate) and a softmax output.
 * Anything else is an `unsupported` error naming the layer; the caller then trains with tfjs.
 */
import { onnx } from 'onnx-proto';
import { readActivation, readBool, readOptionalNumber, requireWeight, unsupported } from './config-read';
import { GraphBuilder } from './graph-builder';
import type { GraphNode, LayerGraph } from './layer-graph';
import {
  concatAxis,
  isChannelSoftmax,
  lowerActivation,
  lowerBatchNormalization,
  lowerConcatenate,
  lowerConv2D,
  lowerConv2DTranspose,
  lowerMaxPooling2D,
  lowerReLU,
  NHWC_TO_NCHW,
  readBatchNorm,
  readConvTransposeWindow,
  readConvWindow,
  readPoolWindow,
  TFJS_KERNEL_TO_ONNX,
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

const NCHW_SPATIAL = [0, 2, 3];

/** Emits the backward nodes of one layer call given its output gradient; returns its inputs' gradients. */
type Backward = (gradOut: string) => (string | null)[];

class TrainingGraphBuilder {
  readonly b = new GraphBuilder();
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
  ) {}

  build(): TrainingGraph {
    const g = this.graph;
    if (g.outputs.length !== 1) {
      throw unsupported(g.nodes[g.nodes.length - 1], 'the training engine needs one output');
    }
    const last = g.nodes[g.nodes.length - 1];
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
    for (const node of g.nodes) {
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
    for (let i = g.nodes.length - 1; i >= 0; i--) {
      const node = g.nodes[i];
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
      this.b.node('Identity', [g2], [this.b.reserve(w.grad)]);
      this.outputs.push({ name: w.grad, dims: [...w.shape] });
    }
    const float = onnx.TensorProto.DataType.FLOAT;
    const model = this.b.toModelProto({
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
    this.b.node('Neg', [total], [this.b.reserve(EVAL_OUTPUTS.lossSum)]);
    const argmax = this.op('ArgMax', [logits], 'argmax', { axis: 1, keepdims: 0 });
    this.b.node('Cast', [argmax], [this.b.reserve(EVAL_OUTPUTS.predicted)], {
      to: onnx.TensorProto.DataType.FLOAT,
    });
    const model = this.b.toModelProto({
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
    const out = this.b.fresh(`${id}/grad_sum`);
    this.b.node('Sum', list, [out]);
    return out;
  }

  private weightInput(node: GraphNode, weight: string): string {
    const w = requireWeight(node, weight);
    const input = this.b.reserve(`${node.layerName}/${weight}`);
    this.weights.push({
      input,
      grad: `grad:${input}`,
      layerName: node.layerName,
      weight,
      shape: w.shape,
    });
    return input;
  }

  private weightGrad(input: string, grad: string): void {
    this.addGrad(`weight:${input}`, grad);
  }

  private op(opType: string, inputs: readonly string[], base: string, attrs = {}): string {
    const out = this.b.fresh(base);
    this.b.node(opType, inputs, [out], attrs);
    return out;
  }

  private ints(base: string, values: readonly number[]): string {
    return this.b.int64Const(base, values);
  }

  private zeroScalar(): string {
    this.zero ??= this.b.floatConst('zero', [], Float32Array.of(0));
    return this.zero;
  }

  private reduceSum(x: string, axes: readonly number[], keepdims: 0 | 1, base: string): string {
    return this.op('ReduceSum', [x, this.ints(`${base}/axes`, axes)], base, { keepdims });
  }

  private reduceMean(x: string, axes: readonly number[], base: string): string {
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
    switch (node.className) {
      case 'Conv2D':
        return this.conv2d(node);
      case 'Conv2DTranspose':
        return this.conv2dTranspose(node);
      case 'BatchNormalization':
        return this.batchNorm(node);
      case 'Activation': {
        const activation = readActivation(node);
        return this.activation(node, activation, (x, y) => lowerActivation(this.b, node, x, activation, y));
      }
      case 'ReLU':
        if (readOptionalNumber(node, 'maxValue') !== null) {
          throw unsupported(node, 'a capped ReLU is trained by the tfjs engine only', 'maxValue');
        }
        return this.activation(node, 'relu', (x, y) => lowerReLU(this.b, node, x, y));
      case 'MaxPooling2D':
        return this.maxPool(node);
      case 'Concatenate':
        return this.concat(node);
      default:
        throw unsupported(node, `the onnxruntime training engine has no ${node.className} layer`);
    }
  }

  /**
   * A fresh name for the output of `activation` (relu or linear, the ones with a backward pass here):
   * `<layer>/relu`, or `<layer>/<linearBase>` when linear.
   */
  private activated(node: GraphNode, activation: string, linearBase: string): string {
    if (activation !== 'linear' && activation !== 'relu') {
      throw unsupported(node, `activation "${activation}" is trained by the tfjs engine only`, 'activation');
    }
    return this.b.fresh(`${node.layerName}/${activation === 'linear' ? linearBase : 'relu'}`);
  }

  /** The gradient before a relu/linear activation, given the gradient after it and its output. */
  private activationGrad(node: GraphNode, y: string, gy: string, activation: string): string {
    if (activation === 'linear') return gy;
    const positive = this.op('Greater', [y, this.zeroScalar()], `${node.layerName}/relu_mask`);
    return this.op('Where', [positive, gy, this.zeroScalar()], `${node.layerName}/relu_grad`);
  }

  private biasGrad(node: GraphNode, bias: string | null, gz: string): void {
    if (bias === null) return;
    this.weightGrad(bias, this.reduceSum(gz, NCHW_SPATIAL, 0, `${node.layerName}/bias_grad`));
  }

  private conv2d(node: GraphNode): void {
    const window = readConvWindow(node);
    const [kh, kw] = window.kernel;
    if (window.strides.some((s) => s !== 1) || window.dilation.some((d) => d !== 1)) {
      throw unsupported(
        node,
        'strided or dilated convolutions are trained by the tfjs engine only',
        'strides',
      );
    }
    if (window.pads === null) throw new Error('stride-1 padding never depends on the input size');
    const pads = window.pads;
    const [pt, pl, pb, pr] = pads;
    const [, h, w, ci] = node.inputShapes[0];
    const [, ho, wo, co] = node.outputShape;
    if (h === null || w === null || ci === null || ho === null || wo === null || co === null) {
      throw unsupported(node, 'the training engine needs fixed sizes');
    }
    const base = node.layerName;
    const activation = readActivation(node);
    const kernel = this.weightInput(node, 'kernel');
    const bias = readBool(node, 'useBias', true) ? this.weightInput(node, 'bias') : null;
    const weight = this.op('Transpose', [kernel], `${base}/weight`, { perm: TFJS_KERNEL_TO_ONNX }); // [co,ci,kh,kw]
    const x = this.name(node.inputs[0]);
    const y = this.activated(node, activation, 'conv');
    lowerConv2D(this.b, node, { x, weight, bias }, y);
    this.names.set(node.id, y);
    const needsInputGrad = !this.graphInputs.has(node.inputs[0]);
    this.backward.set(node.id, (gy) => {
      const gz = this.activationGrad(node, y, gy, activation);
      this.biasGrad(node, bias, gz);
      // dW[a,b,c,o] = sum over n,i,j of xpad[n,c,i+a,j+b] dz[n,o,i,j]: per tap, one matrix product per image
      // ([ci, h*w] x [h*w, co]) summed over the batch. The images stay channel-major as the convs left them, so
      // only dz is transposed, once; measured faster than one GEMM per tap over all n*h*w positions.
      const gzT = this.op(
        'Transpose',
        [this.op('Reshape', [gz, this.ints(`${base}/gz_rows`, [0, co, -1])], `${base}/gz_rows`)],
        `${base}/gz_t`,
        { perm: [0, 2, 1] },
      ); // [n, h*w, co]
      const xp = pads.some((p) => p !== 0)
        ? this.op('Pad', [x, this.ints(`${base}/pads`, [0, 0, pt, pl, 0, 0, pb, pr])], `${base}/x_pad`)
        : x;
      const ciRows = this.ints(`${base}/ci_rows`, [0, ci, -1]);
      const taps: string[] = [];
      for (let a = 0; a < kh; a++) {
        for (let c = 0; c < kw; c++) {
          const tap =
            kh === 1 && kw === 1 && xp === x
              ? x
              : this.op(
                  'Slice',
                  [
                    xp,
                    this.ints(`${base}/tap_start`, [a, c]),
                    this.ints(`${base}/tap_end`, [a + ho, c + wo]),
                    this.ints(`${base}/tap_axes`, [2, 3]),
                  ],
                  `${base}/tap`,
                );
          const rows = this.op('Reshape', [tap, ciRows], `${base}/tap_rows`); // [n, ci, h*w]
          const perImage = this.op('MatMul', [rows, gzT], `${base}/tap_grads`); // [n, ci, co]
          taps.push(this.reduceSum(perImage, [0], 1, `${base}/tap_grad`)); // [1, ci, co]
        }
      }
      const stacked = taps.length === 1 ? taps[0] : this.op('Concat', taps, `${base}/taps`, { axis: 0 });
      this.weightGrad(
        kernel,
        this.op('Reshape', [stacked, this.ints(`${base}/grid`, [kh, kw, ci, co])], `${base}/kernel_grad`),
      );
      if (!needsInputGrad) return [null];
      // dx is the forward conv of dz with the filter flipped in space, channels swapped, padded by k-1-p: a
      // plain Conv runs 2-3x faster than onnxruntime's ConvTranspose here.
      const swapped = this.op('Transpose', [weight], `${base}/weight_t`, { perm: [1, 0, 2, 3] });
      const flipped =
        kh === 1 && kw === 1
          ? swapped
          : this.op(
              'Slice',
              [
                swapped,
                this.ints(`${base}/flip_start`, [-1, -1]),
                this.ints(`${base}/flip_end`, [-(kh + 1), -(kw + 1)]),
                this.ints(`${base}/flip_axes`, [2, 3]),
                this.ints(`${base}/flip_steps`, [-1, -1]),
              ],
              `${base}/weight_flipped`,
            );
      return [
        this.op('Conv', [gz, flipped], `${base}/x_grad`, {
          kernel_shape: [kh, kw],
          pads: [kh - 1 - pt, kw - 1 - pl, kh - 1 - pb, kw - 1 - pr],
        }),
      ];
    });
  }

  private conv2dTranspose(node: GraphNode): void {
    const { kernel: size, strides, dilation } = readConvTransposeWindow(node);
    const [kh, kw] = size;
    if (kh !== strides[0] || kw !== strides[1] || dilation.some((d) => d !== 1)) {
      throw unsupported(
        node,
        'transposed convolutions train on onnxruntime only with kernel == stride (no overlap)',
        'kernelSize',
      );
    }
    const [, h, w, ci] = node.inputShapes[0];
    const co = node.outputShape[3];
    if (h === null || w === null || ci === null || co === null) {
      throw unsupported(node, 'the training engine needs fixed sizes');
    }
    const base = node.layerName;
    const activation = readActivation(node);
    const kernel = this.weightInput(node, 'kernel'); // tfjs [kh, kw, co, ci]
    const bias = readBool(node, 'useBias', true) ? this.weightInput(node, 'bias') : null;
    const weight = this.op('Transpose', [kernel], `${base}/weight`, { perm: TFJS_KERNEL_TO_ONNX }); // [ci,co,kh,kw]
    const x = this.name(node.inputs[0]);
    const y = this.activated(node, activation, 'deconv');
    lowerConv2DTranspose(this.b, node, { x, weight, bias }, y);
    this.names.set(node.id, y);
    this.backward.set(node.id, (gy) => {
      const gz = this.activationGrad(node, y, gy, activation);
      this.biasGrad(node, bias, gz);
      // Each output pixel has exactly one tap: dW[a,b,o,c] = sum over n,i,j of dz[n,o,i*kh+a,j*kw+b] x[n,c,i,j].
      const blocks = this.op(
        'Reshape',
        [gz, this.ints(`${base}/blocks`, [0, 0, h, kh, w, kw])],
        `${base}/gz_blocks`,
      );
      const byTap = this.op(
        'Reshape',
        [
          this.op('Transpose', [blocks], `${base}/gz_taps`, { perm: [3, 5, 1, 0, 2, 4] }),
          this.ints(`${base}/tap_rows`, [kh * kw * co, -1]),
        ],
        `${base}/gz_tap_rows`,
      );
      const xRows = this.op(
        'Reshape',
        [
          this.op('Transpose', [x], `${base}/x_t`, { perm: [1, 0, 2, 3] }),
          this.ints(`${base}/ci_rows`, [ci, -1]),
        ],
        `${base}/x_rows`,
      );
      const prod = this.op('Gemm', [byTap, xRows], `${base}/kernel_grad_rows`, { transB: 1 });
      this.weightGrad(
        kernel,
        this.op(
          'Reshape',
          [prod, this.ints(`${base}/kernel_shape`, [kh, kw, co, ci])],
          `${base}/kernel_grad`,
        ),
      );
      return [
        this.op('Conv', [gz, weight], `${base}/x_grad`, {
          kernel_shape: [kh, kw],
          strides,
          pads: [0, 0, 0, 0],
        }),
      ];
    });
  }

  /**
   * Evaluation normalises with the moving statistics: the exporter's inference-mode lowering, with the
   * statistics as graph inputs too. Training normalises with the batch's statistics, written out here because
   * its backward pass reads the pieces (xhat, 1/std) and its outputs give tfjs the batch's mean and variance.
   */
  private batchNorm(node: GraphNode): void {
    const p = readBatchNorm(node); // checks the axis
    const base = node.layerName;
    const channels = p.movingMean.length;
    if (this.mode === 'eval') {
      const t = {
        x: this.name(node.inputs[0]),
        gamma:
          p.gamma !== null
            ? this.weightInput(node, 'gamma')
            : this.b.floatConst(`${base}/gamma`, [channels], new Float32Array(channels).fill(1)),
        beta:
          p.beta !== null
            ? this.weightInput(node, 'beta')
            : this.b.floatConst(`${base}/beta`, [channels], new Float32Array(channels)),
        mean: this.weightInput(node, 'moving_mean'),
        variance: this.weightInput(node, 'moving_variance'),
      };
      const y = this.b.fresh(`${base}/bn`);
      lowerBatchNormalization(this.b, node, t, y);
      this.names.set(node.id, y);
      return;
    }
    const cshape = this.ints(`${base}/c_shape`, [1, channels, 1, 1]);
    const gammaIn = p.gamma !== null ? this.weightInput(node, 'gamma') : null;
    const betaIn = p.beta !== null ? this.weightInput(node, 'beta') : null;
    const x = this.name(node.inputs[0]);
    const mean = this.reduceMean(x, NCHW_SPATIAL, `${base}/mean`);
    const xc = this.op('Sub', [x, mean], `${base}/centred`);
    const variance = this.reduceMean(this.op('Mul', [xc, xc], `${base}/sq`), NCHW_SPATIAL, `${base}/var`);
    const eps = this.b.floatConst(`${base}/epsilon`, [], Float32Array.of(p.epsilon));
    const inv = this.op(
      'Reciprocal',
      [this.op('Sqrt', [this.op('Add', [variance, eps], `${base}/var_eps`)], `${base}/std`)],
      `${base}/inv_std`,
    );
    const xhat = this.op('Mul', [xc, inv], `${base}/xhat`);
    const gamma = gammaIn !== null ? this.op('Reshape', [gammaIn, cshape], `${base}/gamma4`) : null;
    const scaled = gamma !== null ? this.op('Mul', [xhat, gamma], `${base}/scaled`) : xhat;
    const y =
      betaIn !== null
        ? this.op('Add', [scaled, this.op('Reshape', [betaIn, cshape], `${base}/beta4`)], `${base}/bn`)
        : scaled;
    this.names.set(node.id, y);
    const flat = this.ints(`${base}/flat`, [channels]);
    const meanOut = this.b.reserve(`${base}/batch_mean`);
    const varOut = this.b.reserve(`${base}/batch_variance`);
    this.b.node('Reshape', [mean, flat], [meanOut]);
    this.b.node('Reshape', [variance, flat], [varOut]);
    this.outputs.push({ name: meanOut, dims: [channels] }, { name: varOut, dims: [channels] });
    this.batchNorms.push({ layerName: base, mean: meanOut, variance: varOut });
    this.backward.set(node.id, (gy) => {
      // dx = gamma / std * (gy - mean(gy) - xhat * mean(gy * xhat)), means over n, h, w per channel.
      const gyXhat = this.op('Mul', [gy, xhat], `${base}/gy_xhat`);
      if (betaIn !== null) this.weightGrad(betaIn, this.reduceSum(gy, NCHW_SPATIAL, 0, `${base}/beta_grad`));
      if (gammaIn !== null) {
        this.weightGrad(gammaIn, this.reduceSum(gyXhat, NCHW_SPATIAL, 0, `${base}/gamma_grad`));
      }
      const centred = this.op(
        'Sub',
        [
          this.op('Sub', [gy, this.reduceMean(gy, NCHW_SPATIAL, `${base}/gy_mean`)], `${base}/gy_c`),
          this.op(
            'Mul',
            [xhat, this.reduceMean(gyXhat, NCHW_SPATIAL, `${base}/gy_xhat_mean`)],
            `${base}/xhat_term`,
          ),
        ],
        `${base}/gx_core`,
      );
      const factor = gamma !== null ? this.op('Mul', [gamma, inv], `${base}/gx_factor`) : inv;
      return [this.op('Mul', [centred, factor], `${base}/x_grad`)];
    });
  }

  /** An activation layer: `lower` writes `y` from `x` (the shared lowering); the backward is relu's or linear's. */
  private activation(node: GraphNode, activation: string, lower: (x: string, y: string) => void): void {
    const y = this.activated(node, activation, 'linear');
    lower(this.name(node.inputs[0]), y);
    this.names.set(node.id, y);
    this.backward.set(node.id, (gy) => [this.activationGrad(node, y, gy, activation)]);
  }

  private maxPool(node: GraphNode): void {
    const { kernel: pool, strides } = readPoolWindow(node);
    const [, h, w] = node.inputShapes[0];
    if (
      pool[0] !== strides[0] ||
      pool[1] !== strides[1] ||
      h === null ||
      w === null ||
      h % pool[0] !== 0 ||
      w % pool[1] !== 0
    ) {
      throw unsupported(
        node,
        'max pooling trains on onnxruntime only with pool == stride dividing the input size',
        'poolSize',
      );
    }
    const base = node.layerName;
    const x = this.name(node.inputs[0]);
    const y = this.b.fresh(`${base}/pool`);
    const indices = this.b.fresh(`${base}/argmax`);
    lowerMaxPooling2D(this.b, node, x, [y, indices]);
    this.names.set(node.id, y);
    this.backward.set(node.id, (gy) => {
      // The gradient goes to the window's first maximum, as tfjs's MaxPoolGrad does; indices are flat NCHW.
      const shape = this.op('Shape', [x], `${base}/x_shape`);
      const all = this.ints(`${base}/all`, [-1]);
      const zeros = this.op(
        'Reshape',
        [this.op('ConstantOfShape', [shape], `${base}/zeros`), all],
        `${base}/zeros_flat`,
      );
      const scattered = this.op(
        'ScatterElements',
        [
          zeros,
          this.op('Reshape', [indices, all], `${base}/argmax_flat`),
          this.op('Reshape', [gy, all], `${base}/gy_flat`),
        ],
        `${base}/scattered`,
        { axis: 0 },
      );
      return [this.op('Reshape', [scattered, shape], `${base}/x_grad`)];
    });
  }

  private concat(node: GraphNode): void {
    if (concatAxis(node) !== 1)
      throw unsupported(node, 'only channel concatenation trains on onnxruntime', 'axis');
    const sizes = node.inputShapes.map((s) => s[3]);
    if (sizes.some((s) => s === null)) throw unsupported(node, 'the training engine needs fixed sizes');
    const base = node.layerName;
    const y = this.b.fresh(`${base}/concat`);
    lowerConcatenate(
      this.b,
      node,
      node.inputs.map((i) => this.name(i)),
      y,
    );
    this.names.set(node.id, y);
    this.backward.set(node.id, (gy) => {
      const outs = node.inputs.map(() => this.b.fresh(`${base}/x_grad`));
      this.b.node('Split', [gy, this.ints(`${base}/split`, sizes as number[])], outs, { axis: 1 });
      return outs;
    });
  }

  /** Softmax cross-entropy on the logits; returns the logits' gradient. */
  private loss(logits: string): string {
    const t = TRAINING_INPUTS.target;
    const scale = TRAINING_INPUTS.scale;
    const logp = this.op('LogSoftmax', [logits], 'log_probs', { axis: 1 });
    const total = this.op('ReduceSum', [this.op('Mul', [t, logp], 'target_log_probs')], 'log_likelihood', {
      keepdims: 0,
    });
    this.b.node('Mul', [this.op('Neg', [total], 'neg_log_likelihood'), scale], [this.b.reserve('loss')]);
    // An ignored pixel's target column is all zero: it picks nothing and its mask is 0. A hit counts 1 whatever
    // the class's weight: train accuracy stays a plain pixel accuracy.
    const argmax = this.op('ArgMax', [logits], 'predicted', { axis: 1, keepdims: 1 });
    const picked = this.op('GatherElements', [t, argmax], 'picked', { axis: 1 });
    const hits = this.op('Cast', [this.op('Greater', [picked, this.zeroScalar()], 'is_hit')], 'hits', {
      to: onnx.TensorProto.DataType.FLOAT,
    });
    this.b.node('ReduceSum', [hits], [this.b.reserve('correct')], { keepdims: 0 });
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

export function buildTrainingGraph(graph: LayerGraph, mode: GraphMode = 'train'): TrainingGraph {
  return new TrainingGraphBuilder(graph, mode).build();
}
