/**
 * A faster Conv2DBackpropInput for wasm. The shipped one is a plain loop (335-690 ms for a 128x128x16 layer
 * against 26-39 ms for the forward conv). Two exact rewrites onto XNNPACK kernels, anything else goes to the
 * shipped implementation:
 * - stride 1: the input gradient is a forward conv of dy with the spatially flipped filter, in/out channels
 *   swapped, padded by (k - 1 - forward padding) on each side;
 * - kernel == stride, no padding (the forward pass of a 2x2 transposed conv, and the input gradient of 1x1
 *   convs): each output pixel gets exactly one tap, so one matMul and a depth-to-space reshuffle.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { composeKernel, explicitPadding, type KernelScope } from './compose';
import { isPatchMatMul } from './conv2d-backprop-filter';

type ConvInfo = tf.backend_util.Conv2DInfo;
type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: BackendWasm; attrs: tf.NamedAttrMap };

/** Which rewrite applies to a geometry, if any. Exported for tests and the kernel benchmark. */
export function backpropInputPath(info: ConvInfo): 'matmul' | 'flipped-conv' | 'shipped' {
  if (info.dataFormat !== 'channelsLast') return 'shipped';
  if (isPatchMatMul(info)) return 'matmul';
  const p = info.padInfo;
  const stride1 = info.strideHeight === 1 && info.strideWidth === 1;
  const padsFit =
    Math.max(p.top, p.bottom) < info.filterHeight && Math.max(p.left, p.right) < info.filterWidth;
  return stride1 && padsFit ? 'flipped-conv' : 'shipped';
}

/** Wraps the shipped kernel: our rewrites where they apply, the shipped code elsewhere. */
export function makeConv2DBackpropInputConfig(shipped: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc = (args: KernelArgs): tf.TensorInfo => {
    const { dy, filter } = args.inputs as Record<'dy' | 'filter', tf.TensorInfo>;
    const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
    const info = tf.backend_util.computeConv2DInfo(
      attrs.inputShape,
      filter.shape as [number, number, number, number],
      attrs.strides,
      1,
      attrs.pad,
      attrs.dimRoundingMode,
      false,
      tf.backend_util.convertConv2DDataFormat(attrs.dataFormat),
    );
    const path = backpropInputPath(info);
    if (path === 'shipped')
      return shipped.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    return composeKernel(args.backend, (s) =>
      path === 'matmul'
        ? inputGradByMatMul(s, dy, filter, info)
        : inputGradByFlippedConv(s, dy, filter, info),
    );
  };
  return {
    kernelName: tf.Conv2DBackpropInput,
    backendName: 'wasm',
    // The shipped kernel binds its wasm function in setup; keep it so the fallback works whichever of the
    // two (backend start or our registration) comes first.
    setupFunc: shipped.setupFunc,
    disposeFunc: shipped.disposeFunc,
    kernelFunc: kernelFunc as unknown as tf.KernelFunc,
  };
}

/** dx[n, i*s+a, j*s+b, c] = sum over o of dy[n,i,j,o] * W[a,b,c,o]. */
function inputGradByMatMul(
  s: KernelScope,
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  info: ConvInfo,
): tf.TensorInfo {
  const { batchSize: n, outHeight: h, outWidth: w, filterHeight: kh, filterWidth: kw } = info;
  const { inChannels: c, outChannels: o } = info;
  const dy2 = s.reshape(dy, [n * h * w, o]);
  // wasm's BatchMatMul is 10-50x slower with a transposed operand: transpose the small filter instead.
  const w2 = s.transpose(s.reshape(filter, [kh * kw * c, o]), [1, 0]);
  const prod = s.run(tf.BatchMatMul, { a: dy2, b: w2 }, { transposeA: false, transposeB: false }); // [nhw, kh*kw*c]
  if (kh === 1 && kw === 1) return s.reshape(prod, [n, h, w, c]);
  const blocks = s.reshape(prod, [n, h, w, kh, kw, c]);
  return s.reshape(s.transpose(blocks, [0, 1, 3, 2, 4, 5]), [n, h * kh, w * kw, c]);
}

function inputGradByFlippedConv(
  s: KernelScope,
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  info: ConvInfo,
): tf.TensorInfo {
  const { filterHeight: kh, filterWidth: kw } = info;
  const p = info.padInfo;
  const flipped = flipAndSwapChannels(s, filter, info);
  return s.run(
    tf.Conv2D,
    { x: dy, filter: flipped },
    {
      strides: [1, 1],
      pad: explicitPadding(kh - 1 - p.top, kh - 1 - p.bottom, kw - 1 - p.left, kw - 1 - p.right),
      dataFormat: 'NHWC',
      dilations: [1, 1],
    },
  );
}

/** F[a,b,o,c] = W[kh-1-a, kw-1-b, c, o]. Filters are small (at most a few hundred thousand values): a JS loop. */
function flipAndSwapChannels(s: KernelScope, filter: tf.TensorInfo, info: ConvInfo): tf.TensorInfo {
  const { filterHeight: kh, filterWidth: kw, inChannels: ci, outChannels: co } = info;
  const src = s.readFloat32(filter);
  return s.makeFloat32([kh, kw, co, ci], (out) => {
    for (let a = 0; a < kh; a++) {
      for (let b = 0; b < kw; b++) {
        const srcTap = ((kh - 1 - a) * kw + (kw - 1 - b)) * ci * co;
        const outTap = (a * kw + b) * co * ci;
        for (let c = 0; c < ci; c++) {
          for (let o = 0; o < co; o++) out[outTap + o * ci + c] = src[srcTap + c * co + o];
        }
      }
    }
  });
}
