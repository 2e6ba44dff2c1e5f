/**
 * Concat and SplitV for wasm as plain copies over the wasm heap. The shipped SplitV slices through a
 * JavaScript copy of the whole input per piece and then copies row by row with subarray/set; the shipped
 * Concat also copies row by row with subarray/set. With channel concatenation (the U-Net's skips) rows are
 * 16-128 values, where the per-call overhead dominates: plain loops do the same copies several times faster.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: BackendWasm; attrs: tf.NamedAttrMap };
type NumericArray = Float32Array | Int32Array;

/** Copies `len` values; a loop for short runs, where set() costs more than the copy. */
function copyRun(src: NumericArray, srcOff: number, dst: NumericArray, dstOff: number, len: number): void {
  if (len >= 256) {
    dst.set(src.subarray(srcOff, srcOff + len), dstOff);
  } else {
    for (let i = 0; i < len; i++) dst[dstOff + i] = src[srcOff + i];
  }
}

function isNumeric(dtype: string): boolean {
  return dtype === 'float32' || dtype === 'int32';
}

export function makeConcatConfig(shipped: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc = (args: KernelArgs): tf.TensorInfo => {
    // Concat's inputs are a list, not a named map.
    const all = args.inputs as unknown as tf.TensorInfo[];
    const inputs = all.filter((t) => tf.util.sizeFromShape(t.shape) > 0);
    const dtype = inputs.length > 0 ? inputs[0].dtype : 'string';
    if (inputs.length < 2 || !isNumeric(dtype) || inputs.some((t) => t.dtype !== dtype)) {
      return shipped.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    }
    const axis = tf.util.parseAxisParam(args.attrs.axis as number, inputs[0].shape)[0];
    tf.backend_util.assertParamsConsistent(
      inputs.map((t) => t.shape),
      axis,
    );
    const outShape = tf.backend_util.computeOutShape(
      inputs.map((t) => t.shape),
      axis,
    );
    const outer = tf.util.sizeFromShape(outShape.slice(0, axis));
    const inner = inputs.map((t) => tf.util.sizeFromShape(t.shape.slice(axis)));
    const total = inner.reduce((a, b) => a + b, 0);
    const backend = args.backend;
    const out = backend.makeOutput(outShape, dtype);
    const dst = backend.typedArrayFromHeap(out) as NumericArray;
    const srcs = inputs.map((t) => backend.typedArrayFromHeap(t) as NumericArray);
    for (let b = 0; b < outer; b++) {
      let dstOff = b * total;
      for (let i = 0; i < srcs.length; i++) {
        copyRun(srcs[i], b * inner[i], dst, dstOff, inner[i]);
        dstOff += inner[i];
      }
    }
    return out;
  };
  return { ...shipped, kernelFunc: kernelFunc as unknown as tf.KernelFunc };
}

export function makeSplitVConfig(shipped: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc = (args: KernelArgs): tf.TensorInfo[] => {
    const { x } = args.inputs as Record<'x', tf.TensorInfo>;
    if (!isNumeric(x.dtype)) {
      return shipped.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo[];
    }
    const { numOrSizeSplits, axis } = args.attrs as unknown as {
      numOrSizeSplits: number | number[];
      axis: number;
    };
    const ax = tf.util.parseAxisParam(axis, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, ax);
    const outer = tf.util.sizeFromShape(x.shape.slice(0, ax));
    const step = tf.util.sizeFromShape(x.shape.slice(ax + 1));
    const total = x.shape[ax] * step;
    const backend = args.backend;
    const outs = sizes.map((s) => {
      const shape = [...x.shape];
      shape[ax] = s;
      return backend.makeOutput(shape, x.dtype);
    });
    // Views after every allocation: growing the heap detaches older views.
    const src = backend.typedArrayFromHeap(x) as NumericArray;
    let begin = 0;
    outs.forEach((out, i) => {
      const len = sizes[i] * step;
      const dst = backend.typedArrayFromHeap(out) as NumericArray;
      for (let b = 0; b < outer; b++) copyRun(src, b * total + begin, dst, b * len, len);
      begin += len;
    });
    return outs;
  };
  return { ...shipped, kernelFunc: kernelFunc as unknown as tf.KernelFunc };
}
