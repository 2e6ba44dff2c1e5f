/**
 * Each tfjs layer kind's lowering to ONNX nodes, written once for both graphs that need it: the forward pass,
 * called by the exporter (layer-converters.ts: weights as initialisers, a BatchNorm maybe folded into its
 * conv) and by the training graph (training-graph.ts: weights as graph inputs), and beside it the layer's
 * training form (`train*`): the same forward call plus its backward pass, written through a TrainingEmitter
 * that the training graph implements. A lowering reads the layer's config, takes the names of its input
 * tensors and of its weights (already in ONNX's layout, see TFJS_KERNEL_TO_ONNX) and writes the output name
 * it is given.
 *
 * Inside both graphs every image tensor is NCHW (ONNX's Conv, ConvTranspose and MaxPool only take
 * channels-first); each transposes at its edges, so axes given in NHWC terms by tfjs configs are mapped here.
 * What differs between the two graphs stays with them: where weights come from and how a BatchNorm folds into
 * a conv (the exporter), walking the graph, summing the gradients and the loss (the training graph).
 *
 * The training forms support what our networks train with (Conv2D stride 1, Conv2DTranspose with kernel ==
 * stride, BatchNormalization on channels, ReLU, MaxPooling2D with pool == stride, Concatenate); anything else
 * is an `unsupported` error naming the layer, and the caller then trains with tfjs.
 */
import {
  readActivation,
  readBool,
  readChoice,
  readNumber,
  readOptionalNumber,
  readPair,
  requireChannelsLast,
  requireWeight,
  unsupported,
} from './config-read';
import type { Attrs, GraphBuilder } from './graph-builder';
import type { GraphNode } from './layer-graph';
import { tfSamePads, tfTransposePlan } from './padding';
import type { BatchNormParams } from './tensor-math';

/** Transpose perms between the graphs' NHWC edges and their NCHW inside. */
export const NHWC_TO_NCHW = [0, 3, 1, 2];
export const NCHW_TO_NHWC = [0, 2, 3, 1];
/**
 * tfjs kernel → ONNX weight: Conv2D [kh, kw, ci, co] → Conv [co, ci, kh, kw], and Conv2DTranspose
 * [kh, kw, co, ci] → ConvTranspose [ci, co, kh, kw], the same permutation.
 */
export const TFJS_KERNEL_TO_ONNX = [3, 2, 0, 1];

/** The axes a per-channel statistic reduces over in NCHW: batch, height and width. */
const NCHW_SPATIAL = [0, 2, 3];

/** Emits the backward nodes of one layer call given its output gradient; returns its inputs' gradients. */
export type Backward = (gradOut: string) => (string | null)[];

/** One layer call in the training graph: its output and, unless it has none (evaluation), its backward pass. */
export interface TrainingCall {
  readonly y: string;
  readonly backward?: Backward;
}

/**
 * What a layer's training form needs from the training graph, which implements it: weights as graph inputs
 * with their gradients collected there, and helpers that give every node output a fresh name.
 */
export interface TrainingEmitter {
  readonly builder: GraphBuilder;
  /** A node of one output, named fresh from `base`; returns that name. */
  op(opType: string, inputs: readonly string[], base: string, attrs?: Attrs): string;
  /** An int64 constant (shapes, axes, slice bounds). */
  ints(base: string, values: readonly number[]): string;
  /** A float 0 scalar, one initialiser for the whole graph. */
  zeroScalar(): string;
  reduceSum(x: string, axes: readonly number[], keepdims: 0 | 1, base: string): string;
  /** ReduceMean with keepdims. */
  reduceMean(x: string, axes: readonly number[], base: string): string;
  /** The layer's weight as a graph input `<layer>/<weight>` (tfjs layout), its gradient an output. */
  weightInput(node: GraphNode, weight: string): string;
  /** One part of a weight input's gradient (the parts are summed). */
  weightGrad(input: string, grad: string): void;
  /**
   * Reserves a BatchNorm's graph outputs for its batch mean and variance, [channels] each, which the caller
   * then writes: tfjs folds them into its moving averages.
   */
  batchStatistics(layerName: string, channels: number): { readonly mean: string; readonly variance: string };
  /** Whether a layer output is one of the model's inputs, whose gradient nothing needs. */
  isGraphInput(id: string): boolean;
}

/** An NHWC axis of a rank-4 tensor (negative allowed, as tfjs allows) → the same axis in NCHW. */
export function nchwAxis(node: GraphNode, axis: number, field: string): number {
  const a = axis < 0 ? axis + 4 : axis;
  const map = [0, 2, 3, 1];
  if (!Number.isInteger(a) || a < 0 || a > 3)
    throw unsupported(node, `axis ${axis} is out of range for a 4-D tensor`, field);
  return map[a];
}

export function readBatchNorm(node: GraphNode): BatchNormParams {
  const axis = readNumber(node, 'axis', -1);
  if (axis !== -1 && axis !== 3)
    throw unsupported(node, `only the channel axis (-1) is supported, got ${axis}`, 'axis');
  const scale = readBool(node, 'scale', true);
  const center = readBool(node, 'center', true);
  return {
    gamma: scale ? requireWeight(node, 'gamma').data : null,
    beta: center ? requireWeight(node, 'beta').data : null,
    movingMean: requireWeight(node, 'moving_mean').data,
    movingVariance: requireWeight(node, 'moving_variance').data,
    epsilon: readNumber(node, 'epsilon', 1e-3),
  };
}

/**
 * Applies a tfjs activation by name to `x`, writing `out`. `linear` is an Identity so that every caller can
 * name its output freely.
 */
export function lowerActivation(
  b: GraphBuilder,
  node: GraphNode,
  x: string,
  activation: string,
  out: string,
): void {
  const base = node.layerName;
  const unary = (op: string, attrs = {}): void => b.node(op, [x], [out], attrs);
  switch (activation) {
    case 'linear':
      return unary('Identity');
    case 'relu':
      return unary('Relu');
    case 'relu6':
      return b.node('Clip', [x, scalar(b, `${base}/zero`, 0), scalar(b, `${base}/six`, 6)], [out]);
    case 'sigmoid':
      return unary('Sigmoid');
    case 'tanh':
      return unary('Tanh');
    case 'softplus':
      return unary('Softplus');
    case 'softsign':
      return unary('Softsign');
    case 'elu':
      return unary('Elu', { alpha: { float: 1 } });
    case 'selu':
      // ONNX's default alpha and gamma are the SELU constants tfjs uses.
      return unary('Selu');
    case 'hardSigmoid':
      // tfjs: clip(0.2 x + 0.5, 0, 1).
      return unary('HardSigmoid', { alpha: { float: 0.2 }, beta: { float: 0.5 } });
    case 'softmax':
      // The activation form always works on the last (channel) axis.
      return unary('Softmax', { axis: 1 });
    case 'swish': {
      const s = b.fresh(`${base}/sigmoid`);
      b.node('Sigmoid', [x], [s]);
      return b.node('Mul', [x, s], [out]);
    }
    case 'mish': {
      const sp = b.fresh(`${base}/softplus`);
      const th = b.fresh(`${base}/tanh`);
      b.node('Softplus', [x], [sp]);
      b.node('Tanh', [sp], [th]);
      return b.node('Mul', [x, th], [out]);
    }
    default:
      throw unsupported(node, `activation "${activation}" is not supported`, 'activation');
  }
}

function scalar(b: GraphBuilder, base: string, v: number): string {
  return b.floatConst(base, [], Float32Array.of(v));
}

/**
 * A fresh name for the output of `activation` in the training graph (relu or linear, the ones with a backward
 * pass): `<layer>/relu`, or `<layer>/<linearBase>` when linear.
 */
function trainedActivationOutput(
  e: TrainingEmitter,
  node: GraphNode,
  activation: string,
  linearBase: string,
): string {
  if (activation !== 'linear' && activation !== 'relu') {
    throw unsupported(node, `activation "${activation}" is trained by the tfjs engine only`, 'activation');
  }
  return e.builder.fresh(`${node.layerName}/${activation === 'linear' ? linearBase : 'relu'}`);
}

/**
 * The forward pass of a trained (transposed) convolution: its kernel and bias as graph inputs, the kernel
 * transposed to ONNX's layout, lowered by `lower` into a fresh output. What its backward pass needs comes back.
 */
function trainedConvForward(
  e: TrainingEmitter,
  node: GraphNode,
  x: string,
  linearBase: 'conv' | 'deconv',
  lower: (b: GraphBuilder, node: GraphNode, t: ConvTensors, out: string) => void,
): { activation: string; kernel: string; bias: string | null; weight: string; y: string } {
  const activation = readActivation(node);
  const kernel = e.weightInput(node, 'kernel');
  const bias = readBool(node, 'useBias', true) ? e.weightInput(node, 'bias') : null;
  const weight = e.op('Transpose', [kernel], `${node.layerName}/weight`, { perm: TFJS_KERNEL_TO_ONNX });
  const y = trainedActivationOutput(e, node, activation, linearBase);
  lower(e.builder, node, { x, weight, bias }, y);
  return { activation, kernel, bias, weight, y };
}

/** The gradient before a relu/linear activation, given the gradient after it and its output. */
function activationGrad(
  e: TrainingEmitter,
  node: GraphNode,
  y: string,
  gy: string,
  activation: string,
): string {
  if (activation === 'linear') return gy;
  const positive = e.op('Greater', [y, e.zeroScalar()], `${node.layerName}/relu_mask`);
  return e.op('Where', [positive, gy, e.zeroScalar()], `${node.layerName}/relu_grad`);
}

/** An activation layer: `lower` writes `y` (the shared lowering); the backward is relu's or linear's. */
function trainActivationCall(
  e: TrainingEmitter,
  node: GraphNode,
  activation: string,
  lower: (y: string) => void,
): TrainingCall {
  const y = trainedActivationOutput(e, node, activation, 'linear');
  lower(y);
  return { y, backward: (gy) => [activationGrad(e, node, y, gy, activation)] };
}

/** The Activation layer in the training graph (relu or linear). */
export function trainActivation(e: TrainingEmitter, node: GraphNode, x: string): TrainingCall {
  const activation = readActivation(node);
  return trainActivationCall(e, node, activation, (y) => lowerActivation(e.builder, node, x, activation, y));
}

/** A conv's or pool's sliding window, as its tfjs config gives it. */
export interface Window {
  readonly kernel: [number, number];
  readonly strides: [number, number];
  readonly dilation: [number, number];
  /**
   * ONNX pads [top, left, bottom, right] giving TF's padding, or null when TF's "same" padding depends on an
   * unknown input size (strides > 1): the lowering then writes `auto_pad: SAME_UPPER`.
   */
  readonly pads: readonly number[] | null;
}

function window(
  node: GraphNode,
  padding: 'same' | 'valid',
  kernel: [number, number],
  strides: [number, number],
  dilation: [number, number],
): Window {
  if (padding === 'valid') return { kernel, strides, dilation, pads: [0, 0, 0, 0] };
  const shape = node.inputShapes[0];
  const h = tfSamePads(shape[1], { kernel: kernel[0], stride: strides[0], dilation: dilation[0] });
  const w = tfSamePads(shape[2], { kernel: kernel[1], stride: strides[1], dilation: dilation[1] });
  // SAME_UPPER puts the odd pixel at the end like TF; tests check it on stride-2 layers of unknown size.
  const pads = h === null || w === null ? null : [h.begin, w.begin, h.end, w.end];
  return { kernel, strides, dilation, pads };
}

/** `pads` or, when TF's padding depends on an unknown input size, `auto_pad: SAME_UPPER`. */
function paddingAttrs(w: Window): Record<string, string | readonly number[]> {
  return w.pads === null ? { auto_pad: 'SAME_UPPER' } : { pads: w.pads };
}

export function readConvWindow(node: GraphNode): Window {
  requireChannelsLast(node);
  const kernel = readPair(node, 'kernelSize');
  const strides = readPair(node, 'strides', [1, 1]);
  const dilation = readPair(node, 'dilationRate', [1, 1]);
  const padding = readChoice(node, 'padding', ['same', 'valid'], 'valid');
  return window(node, padding, kernel, strides, dilation);
}

export function readPoolWindow(node: GraphNode): Window {
  requireChannelsLast(node);
  const pool = readPair(node, 'poolSize', [2, 2]);
  const strides = readPair(node, 'strides', pool);
  const padding = readChoice(node, 'padding', ['same', 'valid'], 'valid');
  return window(node, padding, pool, strides, [1, 1]);
}

export interface TransposeWindow {
  readonly kernel: [number, number];
  readonly strides: [number, number];
  readonly dilation: [number, number];
  readonly padding: 'same' | 'valid';
}

/** A transposed conv's window; the lowering takes no dilation, which each caller rejects in its own words. */
export function readConvTransposeWindow(node: GraphNode): TransposeWindow {
  requireChannelsLast(node);
  return {
    kernel: readPair(node, 'kernelSize'),
    strides: readPair(node, 'strides', [1, 1]),
    dilation: readPair(node, 'dilationRate', [1, 1]),
    padding: readChoice(node, 'padding', ['same', 'valid'], 'valid'),
  };
}

/** The tensors of a conv: `x` NCHW, `weight` in ONNX's layout, `bias` [co] or null. */
export interface ConvTensors {
  readonly x: string;
  readonly weight: string;
  readonly bias: string | null;
}

/** Conv2D then its activation, writing `out`; the conv's own output is `<layer>/conv` unless linear. */
export function lowerConv2D(b: GraphBuilder, node: GraphNode, t: ConvTensors, out: string): void {
  const w = readConvWindow(node);
  const activation = readActivation(node);
  const convOut = activation === 'linear' ? out : b.fresh(`${node.layerName}/conv`);
  b.node('Conv', t.bias === null ? [t.x, t.weight] : [t.x, t.weight, t.bias], [convOut], {
    kernel_shape: w.kernel,
    strides: w.strides,
    dilations: w.dilation,
    ...paddingAttrs(w),
  });
  if (activation !== 'linear') lowerActivation(b, node, convOut, activation, out);
}

/** A conv's bias gradient: the gradient before its activation, summed per channel. */
function biasGrad(e: TrainingEmitter, node: GraphNode, bias: string | null, gz: string): void {
  if (bias === null) return;
  e.weightGrad(bias, e.reduceSum(gz, NCHW_SPATIAL, 0, `${node.layerName}/bias_grad`));
}

/**
 * Conv2D in the training graph (stride 1, no dilation, relu or linear): the forward lowering on the kernel and
 * bias as graph inputs, and its backward pass.
 */
export function trainConv2D(e: TrainingEmitter, node: GraphNode, x: string): TrainingCall {
  const window = readConvWindow(node);
  const [kh, kw] = window.kernel;
  if (window.strides.some((s) => s !== 1) || window.dilation.some((d) => d !== 1)) {
    throw unsupported(node, 'strided or dilated convolutions are trained by the tfjs engine only', 'strides');
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
  // The weight is [co, ci, kh, kw].
  const { activation, kernel, bias, weight, y } = trainedConvForward(e, node, x, 'conv', lowerConv2D);
  const needsInputGrad = !e.isGraphInput(node.inputs[0]);
  return {
    y,
    backward: (gy) => {
      const gz = activationGrad(e, node, y, gy, activation);
      biasGrad(e, node, bias, gz);
      // dW[a,b,c,o] = sum over n,i,j of xpad[n,c,i+a,j+b] dz[n,o,i,j]: per tap, one matrix product per image
      // ([ci, h*w] x [h*w, co]) summed over the batch. The images stay channel-major as the convs left them, so
      // only dz is transposed, once; measured faster than one GEMM per tap over all n*h*w positions.
      const gzT = e.op(
        'Transpose',
        [e.op('Reshape', [gz, e.ints(`${base}/gz_rows`, [0, co, -1])], `${base}/gz_rows`)],
        `${base}/gz_t`,
        { perm: [0, 2, 1] },
      ); // [n, h*w, co]
      const xp = pads.some((p) => p !== 0)
        ? e.op('Pad', [x, e.ints(`${base}/pads`, [0, 0, pt, pl, 0, 0, pb, pr])], `${base}/x_pad`)
        : x;
      const ciRows = e.ints(`${base}/ci_rows`, [0, ci, -1]);
      const taps: string[] = [];
      for (let a = 0; a < kh; a++) {
        for (let c = 0; c < kw; c++) {
          const tap =
            kh === 1 && kw === 1 && xp === x
              ? x
              : e.op(
                  'Slice',
                  [
                    xp,
                    e.ints(`${base}/tap_start`, [a, c]),
                    e.ints(`${base}/tap_end`, [a + ho, c + wo]),
                    e.ints(`${base}/tap_axes`, [2, 3]),
                  ],
                  `${base}/tap`,
                );
          const rows = e.op('Reshape', [tap, ciRows], `${base}/tap_rows`); // [n, ci, h*w]
          const perImage = e.op('MatMul', [rows, gzT], `${base}/tap_grads`); // [n, ci, co]
          taps.push(e.reduceSum(perImage, [0], 1, `${base}/tap_grad`)); // [1, ci, co]
        }
      }
      const stacked = taps.length === 1 ? taps[0] : e.op('Concat', taps, `${base}/taps`, { axis: 0 });
      e.weightGrad(
        kernel,
        e.op('Reshape', [stacked, e.ints(`${base}/grid`, [kh, kw, ci, co])], `${base}/kernel_grad`),
      );
      if (!needsInputGrad) return [null];
      // dx is the forward conv of dz with the filter flipped in space, channels swapped, padded by k-1-p: a
      // plain Conv runs 2-3x faster than onnxruntime's ConvTranspose here.
      const swapped = e.op('Transpose', [weight], `${base}/weight_t`, { perm: [1, 0, 2, 3] });
      const flipped =
        kh === 1 && kw === 1
          ? swapped
          : e.op(
              'Slice',
              [
                swapped,
                e.ints(`${base}/flip_start`, [-1, -1]),
                e.ints(`${base}/flip_end`, [-(kh + 1), -(kw + 1)]),
                e.ints(`${base}/flip_axes`, [2, 3]),
                e.ints(`${base}/flip_steps`, [-1, -1]),
              ],
              `${base}/weight_flipped`,
            );
      return [
        e.op('Conv', [gz, flipped], `${base}/x_grad`, {
          kernel_shape: [kh, kw],
          pads: [kh - 1 - pt, kw - 1 - pl, kh - 1 - pb, kw - 1 - pr],
        }),
      ];
    },
  };
}

/** Conv2DTranspose (no dilation) then its activation, writing `out`; its own output is `<layer>/deconv`. */
export function lowerConv2DTranspose(b: GraphBuilder, node: GraphNode, t: ConvTensors, out: string): void {
  const { kernel, strides, dilation, padding } = readConvTransposeWindow(node);
  if (dilation[0] !== 1 || dilation[1] !== 1)
    throw unsupported(node, 'dilation is not supported', 'dilationRate');
  const h = tfTransposePlan({ kernel: kernel[0], stride: strides[0], padding });
  const w = tfTransposePlan({ kernel: kernel[1], stride: strides[1], padding });
  const activation = readActivation(node);
  const convOut = activation === 'linear' ? out : b.fresh(`${node.layerName}/deconv`);
  b.node('ConvTranspose', t.bias === null ? [t.x, t.weight] : [t.x, t.weight, t.bias], [convOut], {
    kernel_shape: kernel,
    strides,
    pads: [h.pads.begin, w.pads.begin, h.pads.end, w.pads.end],
    output_padding: [h.outputPadding, w.outputPadding],
  });
  if (activation !== 'linear') lowerActivation(b, node, convOut, activation, out);
}

/** Conv2DTranspose in the training graph (kernel == stride, relu or linear), with its backward pass. */
export function trainConv2DTranspose(e: TrainingEmitter, node: GraphNode, x: string): TrainingCall {
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
  // tfjs's kernel [kh, kw, co, ci] becomes the weight [ci, co, kh, kw].
  const { activation, kernel, bias, weight, y } = trainedConvForward(
    e,
    node,
    x,
    'deconv',
    lowerConv2DTranspose,
  );
  return {
    y,
    backward: (gy) => {
      const gz = activationGrad(e, node, y, gy, activation);
      biasGrad(e, node, bias, gz);
      // Each output pixel has exactly one tap: dW[a,b,o,c] = sum over n,i,j of dz[n,o,i*kh+a,j*kw+b] x[n,c,i,j].
      const blocks = e.op(
        'Reshape',
        [gz, e.ints(`${base}/blocks`, [0, 0, h, kh, w, kw])],
        `${base}/gz_blocks`,
      );
      const byTap = e.op(
        'Reshape',
        [
          e.op('Transpose', [blocks], `${base}/gz_taps`, { perm: [3, 5, 1, 0, 2, 4] }),
          e.ints(`${base}/tap_rows`, [kh * kw * co, -1]),
        ],
        `${base}/gz_tap_rows`,
      );
      const xRows = e.op(
        'Reshape',
        [e.op('Transpose', [x], `${base}/x_t`, { perm: [1, 0, 2, 3] }), e.ints(`${base}/ci_rows`, [ci, -1])],
        `${base}/x_rows`,
      );
      const prod = e.op('Gemm', [byTap, xRows], `${base}/kernel_grad_rows`, { transB: 1 });
      e.weightGrad(
        kernel,
        e.op('Reshape', [prod, e.ints(`${base}/kernel_shape`, [kh, kw, co, ci])], `${base}/kernel_grad`),
      );
      return [
        e.op('Conv', [gz, weight], `${base}/x_grad`, {
          kernel_shape: [kh, kw],
          strides,
          pads: [0, 0, 0, 0],
        }),
      ];
    },
  };
}

/** Inference-mode BatchNormalization on given statistics, each [channels]. */
export interface BatchNormTensors {
  readonly x: string;
  readonly gamma: string;
  readonly beta: string;
  readonly mean: string;
  readonly variance: string;
}

/** BatchNorm in inference mode (the moving statistics); training mode is the training graph's own. */
export function lowerBatchNormalization(
  b: GraphBuilder,
  node: GraphNode,
  t: BatchNormTensors,
  out: string,
): void {
  b.node('BatchNormalization', [t.x, t.gamma, t.beta, t.mean, t.variance], [out], {
    epsilon: { float: readNumber(node, 'epsilon', 1e-3) },
  });
}

/** BatchNorm in the validation graph: the inference-mode lowering, the moving statistics as graph inputs too. */
export function evalBatchNormalization(e: TrainingEmitter, node: GraphNode, x: string): TrainingCall {
  const p = readBatchNorm(node); // checks the axis
  const base = node.layerName;
  const channels = p.movingMean.length;
  const t = {
    x,
    gamma:
      p.gamma !== null
        ? e.weightInput(node, 'gamma')
        : e.builder.floatConst(`${base}/gamma`, [channels], new Float32Array(channels).fill(1)),
    beta:
      p.beta !== null
        ? e.weightInput(node, 'beta')
        : e.builder.floatConst(`${base}/beta`, [channels], new Float32Array(channels)),
    mean: e.weightInput(node, 'moving_mean'),
    variance: e.weightInput(node, 'moving_variance'),
  };
  const y = e.builder.fresh(`${base}/bn`);
  lowerBatchNormalization(e.builder, node, t, y);
  return { y };
}

/**
 * BatchNorm in the training graph normalises with the batch's statistics, written out here because its
 * backward pass reads the pieces (xhat, 1/std) and its outputs give tfjs the batch's mean and variance.
 */
export function trainBatchNormalization(e: TrainingEmitter, node: GraphNode, x: string): TrainingCall {
  const p = readBatchNorm(node); // checks the axis
  const base = node.layerName;
  const channels = p.movingMean.length;
  const cshape = e.ints(`${base}/c_shape`, [1, channels, 1, 1]);
  const gammaIn = p.gamma !== null ? e.weightInput(node, 'gamma') : null;
  const betaIn = p.beta !== null ? e.weightInput(node, 'beta') : null;
  const mean = e.reduceMean(x, NCHW_SPATIAL, `${base}/mean`);
  const xc = e.op('Sub', [x, mean], `${base}/centred`);
  const variance = e.reduceMean(e.op('Mul', [xc, xc], `${base}/sq`), NCHW_SPATIAL, `${base}/var`);
  const eps = e.builder.floatConst(`${base}/epsilon`, [], Float32Array.of(p.epsilon));
  const inv = e.op(
    'Reciprocal',
    [e.op('Sqrt', [e.op('Add', [variance, eps], `${base}/var_eps`)], `${base}/std`)],
    `${base}/inv_std`,
  );
  const xhat = e.op('Mul', [xc, inv], `${base}/xhat`);
  const gamma = gammaIn !== null ? e.op('Reshape', [gammaIn, cshape], `${base}/gamma4`) : null;
  const scaled = gamma !== null ? e.op('Mul', [xhat, gamma], `${base}/scaled`) : xhat;
  const y =
    betaIn !== null
      ? e.op('Add', [scaled, e.op('Reshape', [betaIn, cshape], `${base}/beta4`)], `${base}/bn`)
      : scaled;
  const flat = e.ints(`${base}/flat`, [channels]);
  const { mean: meanOut, variance: varOut } = e.batchStatistics(base, channels);
  e.builder.node('Reshape', [mean, flat], [meanOut]);
  e.builder.node('Reshape', [variance, flat], [varOut]);
  return {
    y,
    backward: (gy) => {
      // dx = gamma / std * (gy - mean(gy) - xhat * mean(gy * xhat)), means over n, h, w per channel.
      const gyXhat = e.op('Mul', [gy, xhat], `${base}/gy_xhat`);
      if (betaIn !== null) e.weightGrad(betaIn, e.reduceSum(gy, NCHW_SPATIAL, 0, `${base}/beta_grad`));
      if (gammaIn !== null) {
        e.weightGrad(gammaIn, e.reduceSum(gyXhat, NCHW_SPATIAL, 0, `${base}/gamma_grad`));
      }
      const centred = e.op(
        'Sub',
        [
          e.op('Sub', [gy, e.reduceMean(gy, NCHW_SPATIAL, `${base}/gy_mean`)], `${base}/gy_c`),
          e.op(
            'Mul',
            [xhat, e.reduceMean(gyXhat, NCHW_SPATIAL, `${base}/gy_xhat_mean`)],
            `${base}/xhat_term`,
          ),
        ],
        `${base}/gx_core`,
      );
      const factor = gamma !== null ? e.op('Mul', [gamma, inv], `${base}/gx_factor`) : inv;
      return [e.op('Mul', [centred, factor], `${base}/x_grad`)];
    },
  };
}

export function lowerReLU(b: GraphBuilder, node: GraphNode, x: string, out: string): void {
  const max = readOptionalNumber(node, 'maxValue');
  if (max === null) return b.node('Relu', [x], [out]);
  b.node('Clip', [x, scalar(b, `${node.layerName}/zero`, 0), scalar(b, `${node.layerName}/max`, max)], [out]);
}

/** The ReLU layer in the training graph (uncapped). */
export function trainReLU(e: TrainingEmitter, node: GraphNode, x: string): TrainingCall {
  if (readOptionalNumber(node, 'maxValue') !== null) {
    throw unsupported(node, 'a capped ReLU is trained by the tfjs engine only', 'maxValue');
  }
  return trainActivationCall(e, node, 'relu', (y) => lowerReLU(e.builder, node, x, y));
}

export function lowerLeakyReLU(b: GraphBuilder, node: GraphNode, x: string, out: string): void {
  b.node('LeakyRelu', [x], [out], { alpha: { float: readNumber(node, 'alpha', 0.3) } });
}

/**
 * tfjs's Softmax layer defaults to axis 1, but tf.softmax only runs on the last axis: such a model cannot
 * predict in tfjs either. Only the channel axis is lowered.
 */
function channelSoftmaxAxis(node: GraphNode): boolean {
  const raw = node.config['axis'];
  const axis = Array.isArray(raw) && raw.length === 1 ? raw[0] : raw;
  return axis === -1 || axis === 3;
}

/** A softmax over the channels: a Softmax layer on that axis, or the softmax activation. */
export function isChannelSoftmax(node: GraphNode): boolean {
  return (
    (node.className === 'Activation' && readActivation(node) === 'softmax') ||
    (node.className === 'Softmax' && channelSoftmaxAxis(node))
  );
}

export function lowerSoftmax(b: GraphBuilder, node: GraphNode, x: string, out: string): void {
  if (!channelSoftmaxAxis(node)) {
    const raw = node.config['axis'];
    throw unsupported(
      node,
      `only the channel axis (-1) is supported, got ${JSON.stringify(raw ?? 1)}`,
      'axis',
    );
  }
  b.node('Softmax', [x], [out], { axis: 1 });
}

/** MaxPool writing `outputs`: the pooled tensor, and optionally the argmax indices (flat NCHW). */
export function lowerMaxPooling2D(
  b: GraphBuilder,
  node: GraphNode,
  x: string,
  outputs: readonly [string] | readonly [string, string],
): void {
  const w = readPoolWindow(node);
  b.node('MaxPool', [x], outputs, {
    kernel_shape: w.kernel,
    strides: w.strides,
    ...paddingAttrs(w),
  });
}

/** MaxPooling2D in the training graph (pool == stride dividing the input), with its backward pass. */
export function trainMaxPooling2D(e: TrainingEmitter, node: GraphNode, x: string): TrainingCall {
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
  const y = e.builder.fresh(`${base}/pool`);
  const indices = e.builder.fresh(`${base}/argmax`);
  lowerMaxPooling2D(e.builder, node, x, [y, indices]);
  return {
    y,
    backward: (gy) => {
      // The gradient goes to the window's first maximum, as tfjs's MaxPoolGrad does; indices are flat NCHW.
      const shape = e.op('Shape', [x], `${base}/x_shape`);
      const all = e.ints(`${base}/all`, [-1]);
      const zeros = e.op(
        'Reshape',
        [e.op('ConstantOfShape', [shape], `${base}/zeros`), all],
        `${base}/zeros_flat`,
      );
      const scattered = e.op(
        'ScatterElements',
        [
          zeros,
          e.op('Reshape', [indices, all], `${base}/argmax_flat`),
          e.op('Reshape', [gy, all], `${base}/gy_flat`),
        ],
        `${base}/scattered`,
        { axis: 0 },
      );
      return [e.op('Reshape', [scattered, shape], `${base}/x_grad`)];
    },
  };
}

export function lowerUpSampling2D(b: GraphBuilder, node: GraphNode, x: string, out: string): void {
  requireChannelsLast(node);
  const [sh, sw] = readPair(node, 'size', [2, 2]);
  const interpolation = readChoice(node, 'interpolation', ['nearest', 'bilinear'], 'nearest');
  const scales = b.floatConst(`${node.layerName}/scales`, [4], Float32Array.of(1, 1, sh, sw));
  // tfjs resizes with alignCorners = false and halfPixelCenters = false: source = dest / scale, i.e. ONNX's
  // "asymmetric" transform; nearest rounds that source coordinate down.
  const attrs: Attrs =
    interpolation === 'nearest'
      ? { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }
      : { mode: 'linear', coordinate_transformation_mode: 'asymmetric' };
  b.node('Resize', [x, '', scales], [out], attrs);
}

/** The NCHW axis a Concatenate layer joins on. */
export function concatAxis(node: GraphNode): number {
  return nchwAxis(node, readNumber(node, 'axis', -1), 'axis');
}

export function lowerConcatenate(b: GraphBuilder, node: GraphNode, xs: readonly string[], out: string): void {
  b.node('Concat', xs, [out], { axis: concatAxis(node) });
}

/** Concatenate in the training graph (channels only): its backward splits the gradient. */
export function trainConcatenate(e: TrainingEmitter, node: GraphNode, xs: readonly string[]): TrainingCall {
  if (concatAxis(node) !== 1)
    throw unsupported(node, 'only channel concatenation trains on onnxruntime', 'axis');
  const sizes = node.inputShapes.map((s) => s[3]);
  if (sizes.some((s) => s === null)) throw unsupported(node, 'the training engine needs fixed sizes');
  const base = node.layerName;
  const y = e.builder.fresh(`${base}/concat`);
  lowerConcatenate(e.builder, node, xs, y);
  return {
    y,
    backward: (gy) => {
      const outs = node.inputs.map(() => e.builder.fresh(`${base}/x_grad`));
      e.builder.node('Split', [gy, e.ints(`${base}/split`, sizes as number[])], outs, { axis: 1 });
      return outs;
    },
  };
}

export function lowerAdd(b: GraphBuilder, xs: readonly string[], out: string): void {
  b.node('Sum', xs, [out]);
}

/** Dropout is the identity at inference time. */
export function lowerIdentity(b: GraphBuilder, x: string, out: string): void {
  b.node('Identity', [x], [out]);
}
