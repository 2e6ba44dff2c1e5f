/**
 * Sum and Mean over leading axes for wasm. The shipped kernels reduce only innermost axes, so reducing an
 * NHWC tensor over N, H, W (BatchNorm statistics and their gradients, bias gradients) first transposes the
 * whole tensor: about 26 ms for 8x128x128x16, against 3.6 ms for the same sum as ones[1, NHW] x [NHW, C], one
 * matMul in XNNPACK. Other reductions go to the shipped kernels.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { composeKernel } from './compose';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: BackendWasm; attrs: tf.NamedAttrMap };

/**
 * The count of leading axes reduced when `axis` is exactly [0, 1, ..., k-1] with k < rank (and something is
 * kept); null otherwise.
 */
export function leadingAxes(axis: number | number[] | undefined, rank: number): number | null {
  if (axis === undefined || axis === null) return null;
  const axes = tf.util.parseAxisParam(axis, new Array<number>(rank).fill(1));
  const sorted = [...new Set(axes)].sort((a, b) => a - b);
  if (sorted.length === 0 || sorted.length >= rank) return null;
  return sorted.every((a, i) => a === i) ? sorted.length : null;
}

function makeReduceConfig(shipped: tf.KernelConfig, mean: boolean): tf.KernelConfig {
  const kernelFunc = (args: KernelArgs): tf.TensorInfo => {
    const { x } = args.inputs as Record<'x', tf.TensorInfo>;
    const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const k = leadingAxes(axis, x.shape.length);
    const rows = k === null ? 0 : tf.util.sizeFromShape(x.shape.slice(0, k));
    if (k === null || x.dtype !== 'float32' || rows < 2) {
      return shipped.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    }
    const kept = x.shape.slice(k);
    const cols = tf.util.sizeFromShape(kept);
    return composeKernel(args.backend, (s) => {
      const ones = s.makeFloat32([1, rows], (v) => v.fill(1));
      const prod = s.run(
        tf.BatchMatMul,
        { a: ones, b: s.reshape(x, [rows, cols]) },
        { transposeA: false, transposeB: false },
      );
      if (mean) {
        // Divide the few sums in place, as the shipped Mean does (sum, then divide).
        const v = args.backend.typedArrayFromHeap(prod) as Float32Array;
        for (let i = 0; i < v.length; i++) v[i] /= rows;
      }
      const outShape = keepDims ? [...new Array<number>(k).fill(1), ...kept] : kept;
      return s.reshape(prod, outShape);
    });
  };
  return {
    kernelName: shipped.kernelName,
    backendName: 'wasm',
    setupFunc: shipped.setupFunc,
    disposeFunc: shipped.disposeFunc,
    kernelFunc: kernelFunc as unknown as tf.KernelFunc,
  };
}

export const makeSumConfig = (shipped: tf.KernelConfig): tf.KernelConfig => makeReduceConfig(shipped, false);
export const makeMeanConfig = (shipped: tf.KernelConfig): tf.KernelConfig => makeReduceConfig(shipped, true);
