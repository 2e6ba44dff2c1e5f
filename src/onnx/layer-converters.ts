/**
 * One converter per supported tfjs layer class: each reads the layer's config and weights and appends the
 * equivalent ONNX nodes. Inside the graph every image tensor is NCHW (ONNX's Conv, ConvTranspose and MaxPool
 * only take channels-first); the exporter transposes at the graph's edges, so axes given in NHWC terms by
 * tfjs configs are mapped here.
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
import { batchNormAffine, foldAffineIntoConv, permute, type BatchNormParams } from './tensor-math';

export interface ConvertContext {
  readonly builder: GraphBuilder;
  /** ONNX name of the node's i-th input (NCHW). */
  input(node: GraphNode, i: number): string;
}

export interface ConvertOptions {
  /** A batch normalisation that reads only this conv's output: fold it into the conv's weights. */
  readonly foldedBatchNorm?: BatchNormParams;
  /** The ONNX name the converter must give its output. */
  readonly output: string;
}

export type Converter = (node: GraphNode, ctx: ConvertContext, opts: ConvertOptions) => void;

/** An NHWC axis of a rank-4 tensor (negative allowed, as tfjs allows) → the same axis in NCHW. */
export function nchwAxis(node: GraphNode, axis: number, field: string): number {
  const a = axis < 0 ? axis + 4 : axis;
  const map = [0, 2, 3, 1];
  if (!Number.isInteger(a) || a < 0 || a > 3)
    throw unsupported(node, `axis ${axis} is out of range for a 4-D tensor`, field);
  return map[a];
}

/** Classes whose activation can be followed by a folded batch norm: a linear conv of these kinds. */
export const FOLDABLE_INTO = new Set(['Conv2D', 'Conv2DTranspose']);

export function canFoldBatchNormInto(conv: GraphNode): boolean {
  return FOLDABLE_INTO.has(conv.className) && readActivation(conv) === 'linear';
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
 * Applies a tfjs activation by name to `x`, writing `out`. `linear` is an Identity so that every converter can
 * name its output freely.
 */
export function emitActivation(
  ctx: ConvertContext,
  node: GraphNode,
  x: string,
  activation: string,
  out: string,
): void {
  const b = ctx.builder;
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

/** Writes `pads` or, when TF's padding depends on an unknown input size, `auto_pad: SAME_UPPER`. */
function windowPadding(
  node: GraphNode,
  padding: 'same' | 'valid',
  kernel: [number, number],
  strides: [number, number],
  dilation: [number, number],
): Record<string, string | number[]> {
  if (padding === 'valid') return { pads: [0, 0, 0, 0] };
  const shape = node.inputShapes[0];
  const h = tfSamePads(shape[1], { kernel: kernel[0], stride: strides[0], dilation: dilation[0] });
  const w = tfSamePads(shape[2], { kernel: kernel[1], stride: strides[1], dilation: dilation[1] });
  // SAME_UPPER puts the odd pixel at the end like TF; tests check it on stride-2 layers of unknown size.
  if (h === null || w === null) return { auto_pad: 'SAME_UPPER' };
  return { pads: [h.begin, w.begin, h.end, w.end] };
}

const convertConv2D: Converter = (node, ctx, opts) => {
  requireChannelsLast(node);
  const kernel = readPair(node, 'kernelSize');
  const strides = readPair(node, 'strides', [1, 1]);
  const dilation = readPair(node, 'dilationRate', [1, 1]);
  const padding = readChoice(node, 'padding', ['same', 'valid'], 'valid');
  const k = requireWeight(node, 'kernel'); // tfjs [kh, kw, ci, co]
  const [kh, kw, ci, co] = k.shape;
  let weight = permute(k.data, k.shape, [3, 2, 0, 1]); // ONNX [co, ci, kh, kw]
  let bias = readBool(node, 'useBias', true) ? requireWeight(node, 'bias').data : null;
  if (opts.foldedBatchNorm !== undefined) {
    const per = ci * kh * kw;
    const folded = foldAffineIntoConv({
      weight,
      bias,
      channelOf: (i) => Math.floor(i / per),
      ...batchNormAffine(opts.foldedBatchNorm),
    });
    weight = folded.weight;
    bias = folded.bias;
  }
  const b = ctx.builder;
  const inputs = [ctx.input(node, 0), b.floatConst(`${node.layerName}/weight`, [co, ci, kh, kw], weight)];
  if (bias !== null) inputs.push(b.floatConst(`${node.layerName}/bias`, [co], bias));
  const activation = readActivation(node);
  const convOut = activation === 'linear' ? opts.output : b.fresh(`${node.layerName}/conv`);
  b.node('Conv', inputs, [convOut], {
    kernel_shape: kernel,
    strides,
    dilations: dilation,
    ...windowPadding(node, padding, kernel, strides, dilation),
  });
  if (activation !== 'linear') emitActivation(ctx, node, convOut, activation, opts.output);
};

const convertConv2DTranspose: Converter = (node, ctx, opts) => {
  requireChannelsLast(node);
  const kernel = readPair(node, 'kernelSize');
  const strides = readPair(node, 'strides', [1, 1]);
  const dilation = readPair(node, 'dilationRate', [1, 1]);
  if (dilation[0] !== 1 || dilation[1] !== 1)
    throw unsupported(node, 'dilation is not supported', 'dilationRate');
  const padding = readChoice(node, 'padding', ['same', 'valid'], 'valid');
  const k = requireWeight(node, 'kernel'); // tfjs [kh, kw, co, ci]
  const [kh, kw, co, ci] = k.shape;
  let weight = permute(k.data, k.shape, [3, 2, 0, 1]); // ONNX [ci, co, kh, kw]
  let bias = readBool(node, 'useBias', true) ? requireWeight(node, 'bias').data : null;
  if (opts.foldedBatchNorm !== undefined) {
    const per = kh * kw;
    const folded = foldAffineIntoConv({
      weight,
      bias,
      channelOf: (i) => Math.floor(i / per) % co,
      ...batchNormAffine(opts.foldedBatchNorm),
    });
    weight = folded.weight;
    bias = folded.bias;
  }
  const h = tfTransposePlan({ kernel: kernel[0], stride: strides[0], padding });
  const w = tfTransposePlan({ kernel: kernel[1], stride: strides[1], padding });
  const b = ctx.builder;
  const inputs = [ctx.input(node, 0), b.floatConst(`${node.layerName}/weight`, [ci, co, kh, kw], weight)];
  if (bias !== null) inputs.push(b.floatConst(`${node.layerName}/bias`, [co], bias));
  const activation = readActivation(node);
  const convOut = activation === 'linear' ? opts.output : b.fresh(`${node.layerName}/deconv`);
  b.node('ConvTranspose', inputs, [convOut], {
    kernel_shape: kernel,
    strides,
    pads: [h.pads.begin, w.pads.begin, h.pads.end, w.pads.end],
    output_padding: [h.outputPadding, w.outputPadding],
  });
  if (activation !== 'linear') emitActivation(ctx, node, convOut, activation, opts.output);
};

const convertBatchNormalization: Converter = (node, ctx, opts) => {
  const p = readBatchNorm(node);
  const n = p.movingMean.length;
  const b = ctx.builder;
  const base = node.layerName;
  const ones = new Float32Array(n).fill(1);
  b.node(
    'BatchNormalization',
    [
      ctx.input(node, 0),
      b.floatConst(`${base}/gamma`, [n], p.gamma ?? ones),
      b.floatConst(`${base}/beta`, [n], p.beta ?? new Float32Array(n)),
      b.floatConst(`${base}/moving_mean`, [n], p.movingMean),
      b.floatConst(`${base}/moving_variance`, [n], p.movingVariance),
    ],
    [opts.output],
    { epsilon: { float: p.epsilon } },
  );
};

const convertActivation: Converter = (node, ctx, opts) =>
  emitActivation(ctx, node, ctx.input(node, 0), readActivation(node), opts.output);

const convertReLU: Converter = (node, ctx, opts) => {
  const max = readOptionalNumber(node, 'maxValue');
  const b = ctx.builder;
  if (max === null) return b.node('Relu', [ctx.input(node, 0)], [opts.output]);
  b.node(
    'Clip',
    [ctx.input(node, 0), scalar(b, `${node.layerName}/zero`, 0), scalar(b, `${node.layerName}/max`, max)],
    [opts.output],
  );
};

const convertLeakyReLU: Converter = (node, ctx, opts) =>
  ctx.builder.node('LeakyRelu', [ctx.input(node, 0)], [opts.output], {
    alpha: { float: readNumber(node, 'alpha', 0.3) },
  });

const convertSoftmax: Converter = (node, ctx, opts) => {
  // tfjs's Softmax layer defaults to axis 1, but tf.softmax only runs on the last axis: such a model cannot
  // predict in tfjs either. Only the channel axis is exported.
  const raw = node.config['axis'];
  const axis = Array.isArray(raw) && raw.length === 1 ? raw[0] : raw;
  if (axis !== -1 && axis !== 3) {
    throw unsupported(
      node,
      `only the channel axis (-1) is supported, got ${JSON.stringify(raw ?? 1)}`,
      'axis',
    );
  }
  ctx.builder.node('Softmax', [ctx.input(node, 0)], [opts.output], { axis: 1 });
};

const convertMaxPooling2D: Converter = (node, ctx, opts) => {
  requireChannelsLast(node);
  const pool = readPair(node, 'poolSize', [2, 2]);
  const strides = readPair(node, 'strides', pool);
  const padding = readChoice(node, 'padding', ['same', 'valid'], 'valid');
  ctx.builder.node('MaxPool', [ctx.input(node, 0)], [opts.output], {
    kernel_shape: pool,
    strides,
    ...windowPadding(node, padding, pool, strides, [1, 1]),
  });
};

const convertUpSampling2D: Converter = (node, ctx, opts) => {
  requireChannelsLast(node);
  const [sh, sw] = readPair(node, 'size', [2, 2]);
  const interpolation = readChoice(node, 'interpolation', ['nearest', 'bilinear'], 'nearest');
  const b = ctx.builder;
  const scales = b.floatConst(`${node.layerName}/scales`, [4], Float32Array.of(1, 1, sh, sw));
  // tfjs resizes with alignCorners = false and halfPixelCenters = false: source = dest / scale, i.e. ONNX's
  // "asymmetric" transform; nearest rounds that source coordinate down.
  const attrs: Attrs =
    interpolation === 'nearest'
      ? { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }
      : { mode: 'linear', coordinate_transformation_mode: 'asymmetric' };
  b.node('Resize', [ctx.input(node, 0), '', scales], [opts.output], attrs);
};

const convertConcatenate: Converter = (node, ctx, opts) => {
  const axis = nchwAxis(node, readNumber(node, 'axis', -1), 'axis');
  ctx.builder.node(
    'Concat',
    node.inputs.map((_, i) => ctx.input(node, i)),
    [opts.output],
    { axis },
  );
};

const convertAdd: Converter = (node, ctx, opts) =>
  ctx.builder.node(
    'Sum',
    node.inputs.map((_, i) => ctx.input(node, i)),
    [opts.output],
  );

/** Dropout is the identity at inference time. */
const convertIdentity: Converter = (node, ctx, opts) =>
  ctx.builder.node('Identity', [ctx.input(node, 0)], [opts.output]);

export const CONVERTERS: Readonly<Record<string, Converter>> = {
  Conv2D: convertConv2D,
  Conv2DTranspose: convertConv2DTranspose,
  BatchNormalization: convertBatchNormalization,
  Activation: convertActivation,
  ReLU: convertReLU,
  LeakyReLU: convertLeakyReLU,
  Softmax: convertSoftmax,
  MaxPooling2D: convertMaxPooling2D,
  UpSampling2D: convertUpSampling2D,
  Concatenate: convertConcatenate,
  Add: convertAdd,
  Dropout: convertIdentity,
};
