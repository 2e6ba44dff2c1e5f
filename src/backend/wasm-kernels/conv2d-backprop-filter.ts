/**
 * Conv2DBackpropFilter for the wasm backend, which ships without it (tfjs issue 8474), so a conv net cannot
 * train on wasm as shipped. Two exact rewrites onto kernels wasm runs fast (XNNPACK):
 * - kernel == stride, no padding (1x1 convs, the filter gradient of 2x2 transposed convs): one matMul, since
 *   every input pixel meets exactly one filter tap;
 * - otherwise: one forward convolution on transposed tensors. With the input as [Ci,H,W,N] (batch Ci,
 *   channels N) and the output gradient as a [Ho,Wo,N,Co] filter dilated by the stride, the forward conv sums
 *   over n and output positions, which is exactly the filter gradient, laid out as [Ci,kh,kw,Co].
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { composeKernel, explicitPadding, type KernelScope } from './compose';

type ConvInfo = tf.backend_util.Conv2DInfo;

function conv2DBackpropFilter(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: BackendWasm;
  attrs: tf.NamedAttrMap;
}): tf.TensorInfo {
  const { x, dy } = args.inputs as unknown as tf.Conv2DBackpropFilterInputs &
    Record<'x' | 'dy', tf.TensorInfo>;
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const format = tf.backend_util.convertConv2DDataFormat(attrs.dataFormat);
  if (format !== 'channelsLast') {
    throw new Error(`wasm Conv2DBackpropFilter supports only NHWC, got dataFormat '${attrs.dataFormat}'`);
  }
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1, // the tfjs Conv2D gradient refuses dilations > 1 before it gets here
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    format,
  );
  return composeKernel(args.backend, (s) =>
    isPatchMatMul(info) ? filterGradByMatMul(s, x, dy, info) : filterGradByConv(s, x, dy, info),
  );
}

/** True when the filter tiles the input exactly: kernel == stride and no padding, so no two taps overlap. */
export function isPatchMatMul(info: ConvInfo): boolean {
  const p = info.padInfo;
  return (
    info.filterHeight === info.strideHeight &&
    info.filterWidth === info.strideWidth &&
    p.top === 0 &&
    p.bottom === 0 &&
    p.left === 0 &&
    p.right === 0 &&
    info.inHeight === info.outHeight * info.strideHeight &&
    info.inWidth === info.outWidth * info.strideWidth
  );
}

/**
 * dW[a,b,c,o] = sum over n,i,j of x[n, i*s+a, j*s+b, c] * dy[n,i,j,o]: with patches as rows P [rows, K]
 * (K = kh*kw*ci, a cheap transpose that keeps channels innermost) this is P^T dy, computed as (dy^T P)^T
 * because wasm's BatchMatMul is 10-50x slower when asked to transpose an operand, and transposing P to
 * [K, rows] moves channels outermost (15x slower than the other transposes here).
 */
function filterGradByMatMul(
  s: KernelScope,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  info: ConvInfo,
): tf.TensorInfo {
  const { batchSize: n, outHeight: ho, outWidth: wo, filterHeight: kh, filterWidth: kw } = info;
  const { inChannels: ci, outChannels: co } = info;
  const rows = n * ho * wo;
  const patches =
    kh === 1 && kw === 1
      ? s.reshape(x, [rows, ci])
      : s.reshape(s.transpose(s.reshape(x, [n, ho, kh, wo, kw, ci]), [0, 1, 3, 2, 4, 5]), [
          rows,
          kh * kw * ci,
        ]);
  const dyT = s.transpose(s.reshape(dy, [rows, co]), [1, 0]);
  const prod = s.run(tf.BatchMatMul, { a: dyT, b: patches }, { transposeA: false, transposeB: false }); // [co, K]
  return s.reshape(s.transpose(prod, [1, 0]), [kh, kw, ci, co]);
}

function filterGradByConv(
  s: KernelScope,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  info: ConvInfo,
): tf.TensorInfo {
  const { filterHeight: kh, filterWidth: kw, inChannels: ci, outChannels: co } = info;
  const p = info.padInfo;
  const xT = s.transpose(x, [3, 1, 2, 0]); // [Ci, H, W, N]
  const dyT = s.transpose(dy, [1, 2, 0, 3]); // [Ho, Wo, N, Co]
  const full = s.run(
    tf.Conv2D,
    { x: xT, filter: dyT },
    {
      strides: [1, 1],
      pad: explicitPadding(p.top, p.bottom, p.left, p.right),
      dataFormat: 'NHWC',
      dilations: [info.strideHeight, info.strideWidth],
    },
  ); // [Ci, >=kh, >=kw, Co]
  const [, oh, ow] = full.shape;
  if (oh < kh || ow < kw) {
    // Only 'ceil' rounding can make the last output row read past the padding; tfjs layers never use it.
    throw new Error(
      `wasm Conv2DBackpropFilter: unsupported geometry (dimRoundingMode) for filter ${kh}x${kw}`,
    );
  }
  // Extra rows appear when 'valid' leaves input rows no output reads: those taps are not filter taps.
  const cropped =
    oh === kh && ow === kw
      ? full
      : s.run(tf.Slice, { x: full }, { begin: [0, 0, 0, 0], size: [ci, kh, kw, co] });
  return s.transpose(cropped, [1, 2, 0, 3]);
}

export const conv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilter as unknown as tf.KernelFunc, // tfjs types kernel args loosely
};
