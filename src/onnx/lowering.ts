/**
 * The forward lowering of each tfjs layer kind to ONNX nodes, written once for both graphs that need it: the
 * exporter (layer-converters.ts: weights as initialisers, a BatchNorm maybe folded into its conv) and the
 * training graph (training-graph.ts: weights as graph inputs, its backward pass beside each call). A lowering
 * reads the layer's config, takes the names of its input tensors and of its weights (already in ONNX's
 * layout, see TFJS_KERNEL_TO_ONNX) and writes the output name it is given.
 *
 * Inside both graphs every image tensor is NCHW (ONNX's Conv, ConvTranspose and MaxPool only take
 * channels-first); each transposes at its edges, so axes given in NHWC terms by tfjs configs are mapped here.
 * What differs between the two graphs stays with them: where weights come from and how a BatchNorm folds into
 * a conv (the exporter), BatchNorm on batch statistics and the restrictions of the backward pass (training).
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

export function lowerReLU(b: GraphBuilder, node: GraphNode, x: string, out: string): void {
  const max = readOptionalNumber(node, 'maxValue');
  if (max === null) return b.node('Relu', [x], [out]);
  b.node('Clip', [x, scalar(b, `${node.layerName}/zero`, 0), scalar(b, `${node.layerName}/max`, max)], [out]);
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

export function lowerAdd(b: GraphBuilder, xs: readonly string[], out: string): void {
  b.node('Sum', xs, [out]);
}

/** Dropout is the identity at inference time. */
export function lowerIdentity(b: GraphBuilder, x: string, out: string): void {
  b.node('Identity', [x], [out]);
}
