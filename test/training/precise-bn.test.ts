import * as tf from '@tensorflow/tfjs';
import { batchNormLayers, preciseBatchNorm } from '../../src/training/precise-bn';

/** Dense(3) then batch norm, in a model nested in another (the layers are found inside). */
function model(): { outer: tf.LayersModel; bn: tf.layers.Layer; dense: tf.layers.Layer } {
  const input = tf.input({ shape: [2] });
  const dense = tf.layers.dense({ units: 3, kernelInitializer: 'ones', biasInitializer: 'zeros' });
  const bn = tf.layers.batchNormalization({ momentum: 0.99 });
  const inner = tf.model({ inputs: input, outputs: bn.apply(dense.apply(input)) as tf.SymbolicTensor });
  const x = tf.input({ shape: [2] });
  const outer = tf.model({ inputs: x, outputs: inner.apply(x) as tf.SymbolicTensor });
  return { outer, bn, dense };
}

/** Batch i: 4 rows whose dense outputs have mean 2i + 1 and population variance i + 1 in every unit. */
function batch(i: number): tf.Tensor2D {
  const d = Math.sqrt(i + 1) / 2; // two columns summed by the ones kernel: each row's output is 2 * value
  const m = (2 * i + 1) / 2;
  return tf.tensor2d([m - d, m - d, m + d, m + d, m - d, m - d, m + d, m + d], [4, 2]);
}

const stats = (bn: tf.layers.Layer): { mean: number[]; variance: number[] } => {
  const [, , mean, variance] = bn.getWeights();
  return { mean: Array.from(mean.dataSync()), variance: Array.from(variance.dataSync()) };
};

describe('precise batch norm', () => {
  it('finds batch-norm layers in nested models', () => {
    const { outer, bn } = model();
    expect(batchNormLayers([outer])).toEqual([bn]);
  });

  it('makes the moving statistics the average of the batch statistics, and leaves the rest as it was', async () => {
    const { outer, bn, dense } = model();
    const kernel = Array.from(dense.getWeights()[0].dataSync());
    const before = tf.memory().numTensors;
    const n = 5;
    const result = await preciseBatchNorm([outer], n, (i) => {
      tf.tidy(() => {
        outer.apply(batch(i), { training: true });
      });
    });
    expect(result).toEqual({ layers: 1, batches: n });
    // Means 1, 3, 5, 7, 9 average 5; variances 1..5 average 3 (a 0.99 moving average would still be near 0 and 1).
    const { mean, variance } = stats(bn);
    for (const v of mean) expect(v).toBeCloseTo(5, 4);
    for (const v of variance) expect(v).toBeCloseTo(3, 4);
    expect((bn as unknown as { momentum: number }).momentum).toBe(0.99);
    expect(Object.hasOwn(bn, 'call')).toBe(false);
    expect(Array.from(dense.getWeights()[0].dataSync())).toEqual(kernel);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a stop ends the pass with the average of the batches run; a throwing pass restores the layer', async () => {
    const { outer, bn } = model();
    let runs = 0;
    const result = await preciseBatchNorm(
      [outer],
      10,
      (i) => {
        runs += 1;
        tf.tidy(() => {
          outer.apply(batch(i), { training: true });
        });
      },
      () => runs === 2,
    );
    expect(result).toEqual({ layers: 1, batches: 2 });
    for (const v of stats(bn).mean) expect(v).toBeCloseTo(2, 4); // (1 + 3) / 2

    await expect(
      preciseBatchNorm([outer], 3, () => {
        throw new Error('no clips');
      }),
    ).rejects.toThrow('no clips');
    expect((bn as unknown as { momentum: number }).momentum).toBe(0.99);
    expect(Object.hasOwn(bn, 'call')).toBe(false);
  });

  it('does nothing without batch-norm layers or batches', async () => {
    const input = tf.input({ shape: [2] });
    const plain = tf.model({
      inputs: input,
      outputs: tf.layers.dense({ units: 1 }).apply(input) as tf.SymbolicTensor,
    });
    let runs = 0;
    expect(await preciseBatchNorm([plain], 4, () => void (runs += 1))).toEqual({ layers: 0, batches: 0 });
    expect(await preciseBatchNorm([model().outer], 0, () => void (runs += 1))).toEqual({
      layers: 0,
      batches: 0,
    });
    expect(runs).toBe(0);
  });
});
