/**
 * The exporter's side of each supported tfjs layer class: its weights become initialisers in ONNX's layout
 * (a following BatchNorm folded into a conv's), then the shared lowering (lowering.ts) writes the nodes, the
 * same lowering the training graph calls with its weights as graph inputs.
 */
import { readActivation, readBool, requireWeight } from './config-read';
import type { GraphBuilder } from './graph-builder';
import type { GraphNode } from './layer-graph';
import {
  lowerActivation,
  lowerAdd,
  lowerBatchNormalization,
  lowerConcatenate,
  lowerConv2D,
  lowerConv2DTranspose,
  lowerIdentity,
  lowerLeakyReLU,
  lowerMaxPooling2D,
  lowerReLU,
  lowerSoftmax,
  lowerUpSampling2D,
  readBatchNorm,
  TFJS_KERNEL_TO_ONNX,
  type ConvTensors,
} from './lowering';
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

/** Classes whose activation can be followed by a folded batch norm: a linear conv of these kinds. */
export const FOLDABLE_INTO = new Set(['Conv2D', 'Conv2DTranspose']);

export function canFoldBatchNormInto(conv: GraphNode): boolean {
  return FOLDABLE_INTO.has(conv.className) && readActivation(conv) === 'linear';
}

/**
 * A conv's weight and bias as initialisers, the batch norm folded in when given. `outAxis` is the output
 * channel's axis in the ONNX weight: 0 for Conv [co, ci, kh, kw], 1 for ConvTranspose [ci, co, kh, kw].
 */
function convInitializers(
  node: GraphNode,
  ctx: ConvertContext,
  opts: ConvertOptions,
  outAxis: 0 | 1,
): ConvTensors {
  const k = requireWeight(node, 'kernel');
  const dims = TFJS_KERNEL_TO_ONNX.map((p) => k.shape[p]);
  let weight = permute(k.data, k.shape, TFJS_KERNEL_TO_ONNX);
  let bias = readBool(node, 'useBias', true) ? requireWeight(node, 'bias').data : null;
  if (opts.foldedBatchNorm !== undefined) {
    const inner = dims.slice(outAxis + 1).reduce((a, d) => a * d, 1);
    const co = dims[outAxis];
    const folded = foldAffineIntoConv({
      weight,
      bias,
      channelOf: (i) => Math.floor(i / inner) % co,
      ...batchNormAffine(opts.foldedBatchNorm),
    });
    weight = folded.weight;
    bias = folded.bias;
  }
  const b = ctx.builder;
  return {
    x: ctx.input(node, 0),
    weight: b.floatConst(`${node.layerName}/weight`, dims, weight),
    bias: bias === null ? null : b.floatConst(`${node.layerName}/bias`, [dims[outAxis]], bias),
  };
}

const convertConv2D: Converter = (node, ctx, opts) =>
  lowerConv2D(ctx.builder, node, convInitializers(node, ctx, opts, 0), opts.output);

const convertConv2DTranspose: Converter = (node, ctx, opts) =>
  lowerConv2DTranspose(ctx.builder, node, convInitializers(node, ctx, opts, 1), opts.output);

const convertBatchNormalization: Converter = (node, ctx, opts) => {
  const p = readBatchNorm(node);
  const n = p.movingMean.length;
  const b = ctx.builder;
  const base = node.layerName;
  const t = {
    x: ctx.input(node, 0),
    gamma: b.floatConst(`${base}/gamma`, [n], p.gamma ?? new Float32Array(n).fill(1)),
    beta: b.floatConst(`${base}/beta`, [n], p.beta ?? new Float32Array(n)),
    mean: b.floatConst(`${base}/moving_mean`, [n], p.movingMean),
    variance: b.floatConst(`${base}/moving_variance`, [n], p.movingVariance),
  };
  lowerBatchNormalization(b, node, t, opts.output);
};

const inputs = (node: GraphNode, ctx: ConvertContext): string[] =>
  node.inputs.map((_, i) => ctx.input(node, i));

export const CONVERTERS: Readonly<Record<string, Converter>> = {
  Conv2D: convertConv2D,
  Conv2DTranspose: convertConv2DTranspose,
  BatchNormalization: convertBatchNormalization,
  Activation: (node, ctx, opts) =>
    lowerActivation(ctx.builder, node, ctx.input(node, 0), readActivation(node), opts.output),
  ReLU: (node, ctx, opts) => lowerReLU(ctx.builder, node, ctx.input(node, 0), opts.output),
  LeakyReLU: (node, ctx, opts) => lowerLeakyReLU(ctx.builder, node, ctx.input(node, 0), opts.output),
  Softmax: (node, ctx, opts) => lowerSoftmax(ctx.builder, node, ctx.input(node, 0), opts.output),
  MaxPooling2D: (node, ctx, opts) => lowerMaxPooling2D(ctx.builder, node, ctx.input(node, 0), [opts.output]),
  UpSampling2D: (node, ctx, opts) => lowerUpSampling2D(ctx.builder, node, ctx.input(node, 0), opts.output),
  Concatenate: (node, ctx, opts) => lowerConcatenate(ctx.builder, node, inputs(node, ctx), opts.output),
  Add: (node, ctx, opts) => lowerAdd(ctx.builder, inputs(node, ctx), opts.output),
  Dropout: (node, ctx, opts) => lowerIdentity(ctx.builder, ctx.input(node, 0), opts.output),
};
