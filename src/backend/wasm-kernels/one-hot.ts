/**
 * A correctness fix, not a speed-up: tfjs-backend-wasm 4.22's OneHot kernel allocates the output in the
 * requested dtype but its C++ always writes int32 values, so `tf.oneHot(i, n, 1, 0, 'float32')` holds integer
 * bit patterns (1 reads as 1.4e-45) and a cross-entropy built on it is about 0: nothing trains. The fix runs
 * the shipped kernel in int32 and casts to the dtype asked for. Always on (a switch back to wrong values has no
 * use), registered once per thread.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { composeKernel } from './compose';

export function makeOneHotConfig(shipped: tf.KernelConfig): tf.KernelConfig {
  return {
    kernelName: tf.OneHot,
    backendName: 'wasm',
    // The shipped setup binds the C++ function when the backend starts: keep it, or a fix registered before
    // start-up calls an unbound function.
    setupFunc: shipped.setupFunc,
    disposeFunc: shipped.disposeFunc,
    kernelFunc: (args) => {
      const attrs = args.attrs as unknown as { dtype?: tf.DataType };
      const call = (a: typeof args): tf.TensorInfo => shipped.kernelFunc(a) as tf.TensorInfo;
      if (attrs.dtype === undefined || attrs.dtype === 'int32') return call(args);
      return composeKernel(args.backend as BackendWasm, (s) => {
        const ints = s.track(call({ ...args, attrs: { ...args.attrs, dtype: 'int32' } }));
        return s.run(tf.Cast, { x: ints }, { dtype: attrs.dtype as tf.DataType });
      });
    },
  };
}

let fixed = false;

/** Registers the fixed OneHot for wasm in this thread (idempotent). */
export function fixWasmOneHot(): void {
  if (fixed) return;
  const shipped = tf.getKernel(tf.OneHot, 'wasm');
  if (shipped === undefined) {
    throw new Error(
      `wasm kernel '${tf.OneHot}' is not registered: import @tensorflow/tfjs-backend-wasm first`,
    );
  }
  tf.unregisterKernel(tf.OneHot, 'wasm');
  tf.registerKernel(makeOneHotConfig(shipped));
  fixed = true;
}
