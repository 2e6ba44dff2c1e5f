/**
 * The cpu backend's ResizeBilinearGrad swaps height and width in its gradient's shape; the fix gives the input's
 * shape, and the values are those the wasm backend computes.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { applyCpuKernelFixes } from '../../src/backend/cpu-kernels';

async function gradOn(backend: string): Promise<{ shape: number[]; values: Float32Array }> {
  await tf.setBackend(backend);
  await tf.ready();
  const x = tf.tensor4d(
    Float32Array.from({ length: 2 * 6 * 10 * 3 }, (_, i) => Math.sin(i)),
    [2, 6, 10, 3],
  );
  const w = tf.tensor4d(
    Float32Array.from({ length: 2 * 9 * 25 * 3 }, (_, i) => Math.cos(i)),
    [2, 9, 25, 3],
  );
  const g = tf.grad((v: tf.Tensor) =>
    tf.image
      .resizeBilinear(v as tf.Tensor4D, [9, 25])
      .mul(w)
      .sum(),
  )(x);
  const out = { shape: g.shape, values: (await g.data()) as Float32Array };
  tf.dispose([x, w, g]);
  return out;
}

describe('cpu kernel fixes', () => {
  it('the gradient of a non-square bilinear resize has the input shape and the wasm values', async () => {
    applyCpuKernelFixes();
    applyCpuKernelFixes(); // idempotent
    const cpu = await gradOn('cpu');
    const wasm = await gradOn('wasm');
    expect(cpu.shape).toEqual([2, 6, 10, 3]);
    expect(wasm.shape).toEqual([2, 6, 10, 3]);
    let worst = 0;
    for (let i = 0; i < cpu.values.length; i++)
      worst = Math.max(worst, Math.abs(cpu.values[i] - wasm.values[i]));
    expect(worst).toBeLessThan(1e-4);
  });
});
