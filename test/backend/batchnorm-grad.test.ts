/**
 * Our FusedBatchNorm gradient (broadcast instead of Tile) against tfjs-core's, and proof that registering
 * over the existing gradient really changes what runs. (Without a scale input tfjs-core cannot record
 * batchNorm for gradients at all, with either gradient: it clones the missing input. Not tested here.) Tolerances as in wasm-kernels.test.ts: float32 sums of
 * at most a few hundred terms in a different order.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { setWasmPatches } from '../../src/backend/wasm-kernels';
import { onBackend, randomArray, relativeL2, relativeMaxAbs, sizeOf } from './helpers';

type Inputs = {
  x: tf.Tensor4D;
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
  scale: tf.Tensor1D;
  offset: tf.Tensor1D;
};

function makeInputs(shape: [number, number, number, number], seed: number): Inputs {
  const c = shape[3];
  const pos = (a: Float32Array) => a.map((v) => 0.5 + Math.abs(v));
  return {
    x: tf.tensor4d(randomArray(sizeOf(shape), seed), shape),
    mean: tf.tensor1d(randomArray(c, seed + 1)),
    variance: tf.tensor1d(pos(randomArray(c, seed + 2))),
    scale: tf.tensor1d(randomArray(c, seed + 3)),
    offset: tf.tensor1d(randomArray(c, seed + 4)),
  };
}

/** Gradients of sum(batchNorm(...) * w) with respect to x, mean, variance, offset (and scale), as plain arrays. */
function batchNormGrads(shape: [number, number, number, number], seed: number): Float32Array[] {
  return tf.tidy(() => {
    const inp = makeInputs(shape, seed);
    const w = tf.tensor4d(randomArray(sizeOf(shape), seed + 9), shape);
    const f = (x: tf.Tensor, m: tf.Tensor, v: tf.Tensor, o: tf.Tensor, s: tf.Tensor) =>
      tf.sum(tf.mul(tf.batchNorm(x, m, v, o, s, 1e-3), w));
    const grads = tf.grads(f)([inp.x, inp.mean, inp.variance, inp.offset, inp.scale]);
    return grads.map((g) => g.dataSync() as Float32Array);
  });
}

function kernelsRunDuringGrad(shape: [number, number, number, number]): Promise<string[]> {
  return tf
    .profile(() => {
      batchNormGrads(shape, 1);
    })
    .then((p) => p.kernelNames);
}

const SHAPES: [number, number, number, number][] = [
  [2, 5, 6, 3],
  [4, 8, 8, 16],
  [1, 3, 3, 1],
];

describe('FusedBatchNorm gradient without Tile', () => {
  it.each(SHAPES.map((s) => [s.join('x'), s] as const))(
    'matches tfjs-core on cpu and wasm, x=%s',
    async (_n, shape) => {
      setWasmPatches({ batchNormGrad: false });
      const ref = await onBackend('cpu', () => batchNormGrads(shape, 7));
      setWasmPatches({ batchNormGrad: true });
      for (const backend of ['cpu', 'wasm']) {
        const before = (await onBackend(backend, () => tf.memory().numTensors)) as number;
        const got = batchNormGrads(shape, 7);
        expect(tf.memory().numTensors).toBe(before);
        expect(got.map((g) => g.length)).toEqual(ref.map((g) => g.length));
        got.forEach((g, i) => {
          expect(relativeL2(g, ref[i])).toBeLessThan(1e-5);
          expect(relativeMaxAbs(g, ref[i])).toBeLessThan(1e-4);
        });
      }
    },
  );

  it('really replaces the registered gradient: Tile runs before the patch and not after', async () => {
    await onBackend('wasm', () => undefined);
    setWasmPatches({ batchNormGrad: false });
    expect(await kernelsRunDuringGrad([2, 4, 4, 3])).toContain('Tile');
    setWasmPatches({ batchNormGrad: true });
    const names = await kernelsRunDuringGrad([2, 4, 4, 3]);
    expect(names).not.toContain('Tile');
    expect(names).toContain('FusedBatchNorm');
  });
});
