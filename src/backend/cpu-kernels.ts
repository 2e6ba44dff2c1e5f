/**
 * Mends to tfjs's cpu backend (the fallback when neither the native nor the wasm backend starts, and what plain
 * tfjs runs in tests):
 * - ResizeBilinearGrad returns its gradient with height and width swapped in the shape (the values are laid
 *   out right), so any non-square resize fails its backward pass ("gradient ... has shape '4,10,8,1', which does
 *   not match the shape of the input '4,8,10,1'"). The tracker's decoder upsamples with resizeBilinear, and
 *   test-time adaptation trains on frames of the video's aspect. The wrapper gives the shape of the input.
 * Idempotent; each fix is applied once per process.
 */
import * as tf from '@tensorflow/tfjs';

let applied = false;

export function applyCpuKernelFixes(): void {
  if (applied) return;
  applied = true;
  const shipped = tf.getKernel(tf.ResizeBilinearGrad, 'cpu');
  if (shipped === undefined) return;
  const kernelFunc = shipped.kernelFunc;
  tf.unregisterKernel(tf.ResizeBilinearGrad, 'cpu');
  tf.registerKernel({
    ...shipped,
    kernelFunc: (args) => {
      const out = kernelFunc(args) as tf.TensorInfo;
      const images = (args.inputs as { images: tf.TensorInfo }).images;
      return { ...out, shape: [...images.shape] };
    },
  });
}
