/**
 * Identity for wasm without a copy. The shipped kernel copies the whole tensor, and tfjs clones (Identity)
 * every tensor it saves for the backward pass: dozens of full-size copies per training step. Sharing the
 * buffer with a reference count is what the cpu backend does and what wasm's own Reshape does; tensors are
 * immutable (a Variable's assign swaps its buffer, it does not write into it), so sharing is safe.
 */
import type * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

export function makeIdentityConfig(shipped: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc = (args: { inputs: tf.NamedTensorInfoMap; backend: BackendWasm }): tf.TensorInfo => {
    const { x } = args.inputs as Record<'x', tf.TensorInfo>;
    if (x.dtype === 'string') {
      return shipped.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    }
    args.backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  };
  return { ...shipped, kernelFunc: kernelFunc as unknown as tf.KernelFunc };
}
