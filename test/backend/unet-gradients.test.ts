/**
 * A whole small U-Net's training gradients on wasm (with our kernels) against the cpu backend, every gradient
 * tensor. The loss is pixel-wise cross-entropy on the softmax output with BatchNorm in training mode, the
 * same path training takes. Tolerance: 5e-5 relative L2 per tensor; errors compound through about 20 layers
 * of float32 sums in different orders (measured worst about 2e-6), and a wrong kernel gives O(1).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { ALL_WASM_PATCHES, setWasmPatches } from '../../src/backend/wasm-kernels';
import { onBackend, randomArray, relativeL2 } from './helpers';
import { buildTinyUnet } from './tiny-unet';

const N = 2;
const SIZE = 16;
const CLASSES = 3;

function gradients(model: tf.LayersModel): { loss: number; grads: Float32Array[]; names: string[] } {
  return tf.tidy(() => {
    const x = tf.tensor4d(randomArray(N * SIZE * SIZE * 3, 11), [N, SIZE, SIZE, 3]);
    const labels = tf.tensor1d(
      Array.from(randomArray(N * SIZE * SIZE, 12), (v) => Math.floor((v + 1) * 1.5)),
      'int32',
    );
    const onehot = tf.reshape(tf.oneHot(labels, CLASSES), [N, SIZE, SIZE, CLASSES]);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const { value, grads } = tf.variableGrads(() => {
      const p = model.apply(x, { training: true }) as tf.Tensor;
      return tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.log(tf.clipByValue(p, 1e-7, 1))), -1))) as tf.Scalar;
    }, vars);
    return {
      loss: value.dataSync()[0],
      grads: vars.map((v) => grads[v.name].dataSync() as Float32Array),
      names: vars.map((v) => v.name),
    };
  });
}

describe('U-Net training gradients: wasm with our kernels vs cpu (spec G, issue 4)', () => {
  it('agree for every trainable tensor, and no tensor leaks', async () => {
    setWasmPatches(ALL_WASM_PATCHES);
    const model = await onBackend('cpu', () =>
      buildTinyUnet({ size: SIZE, base: 4, depth: 2, classes: CLASSES }),
    );
    // Moving statistics change on every training-mode call; restore them so both runs see the same state.
    const saved = model.getWeights().map((w) => w.clone());
    const ref = gradients(model);
    model.setWeights(saved);

    await onBackend('wasm', () => undefined);
    const before = tf.memory().numTensors;
    const got = gradients(model);
    const again = gradients(model); // a second step must not leave tensors behind either
    expect(tf.memory().numTensors).toBe(before);
    expect(again.grads).toHaveLength(got.grads.length);

    expect(got.names).toEqual(ref.names);
    expect(got.grads.length).toBe(model.trainableWeights.length);
    expect(got.grads.length).toBeGreaterThan(30);
    expect(Math.abs(got.loss - ref.loss) / ref.loss).toBeLessThan(1e-5);
    const worst = got.grads
      .map((g, i) => ({ name: got.names[i], diff: relativeL2(g, ref.grads[i]) }))
      .sort((a, b) => b.diff - a.diff);
    console.log(`worst relative L2 gradient differences: ${JSON.stringify(worst.slice(0, 3))}`);
    // Every gradient carries signal (a zero reference would make the relative difference meaningless).
    for (const g of ref.grads) expect(Math.max(...Array.from(g, Math.abs))).toBeGreaterThan(1e-6);
    expect(worst[0].diff).toBeLessThan(5e-5);
    saved.forEach((t) => t.dispose());
    model.dispose();
  });
});
