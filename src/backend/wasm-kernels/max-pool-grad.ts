/**
 * MaxPoolGrad for wasm as one pass over the pooling windows: find each window's maximum in the input (the
 * first one in scan order on ties, like the cpu backend) and add the window's output gradient there. The
 * shipped kernel is several times slower on the U-Net's 2x2 pools.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: BackendWasm; attrs: tf.NamedAttrMap };

export function makeMaxPoolGradConfig(shipped: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc = (args: KernelArgs): tf.TensorInfo => {
    const { dy, input } = args.inputs as Record<'dy' | 'input', tf.TensorInfo>;
    const attrs = args.attrs as unknown as tf.MaxPoolGradAttrs;
    if (input.dtype !== 'float32') {
      return shipped.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    }
    const info = tf.backend_util.computePool2DInfo(
      input.shape as [number, number, number, number],
      attrs.filterSize,
      attrs.strides,
      1,
      attrs.pad,
      attrs.dimRoundingMode,
    );
    const backend = args.backend;
    const dx = backend.makeOutput(input.shape, 'float32');
    const out = backend.typedArrayFromHeap(dx) as Float32Array;
    out.fill(0);
    maxPoolBackward({
      x: backend.typedArrayFromHeap(input) as Float32Array,
      dy: backend.typedArrayFromHeap(dy) as Float32Array,
      dx: out,
      info,
    });
    return dx;
  };
  return { ...shipped, kernelFunc: kernelFunc as unknown as tf.KernelFunc };
}

function maxPoolBackward(o: {
  x: Float32Array;
  dy: Float32Array;
  dx: Float32Array;
  info: tf.backend_util.Conv2DInfo;
}): void {
  const { x, dy, dx, info } = o;
  const { batchSize, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, strideWidth: sw, effectiveFilterHeight: fh, effectiveFilterWidth: fw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  for (let b = 0; b < batchSize; b++) {
    const xBase = b * h * w * c;
    for (let yr = 0; yr < oh; yr++) {
      const r0 = Math.max(0, yr * sh - top);
      const r1 = Math.min(h, yr * sh - top + fh);
      for (let yc = 0; yc < ow; yc++) {
        const c0 = Math.max(0, yc * sw - left);
        const c1 = Math.min(w, yc * sw - left + fw);
        const dyBase = ((b * oh + yr) * ow + yc) * c;
        for (let d = 0; d < c; d++) {
          let best = Number.NEGATIVE_INFINITY;
          let at = -1;
          for (let r = r0; r < r1; r++) {
            for (let col = c0; col < c1; col++) {
              const idx = xBase + (r * w + col) * c + d;
              if (x[idx] > best) {
                best = x[idx];
                at = idx;
              }
            }
          }
          if (at >= 0) dx[at] += dy[dyBase + d];
        }
      }
    }
  }
}
