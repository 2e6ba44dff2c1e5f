/** Padding and weight arithmetic of the ONNX exporter, checked against their definitions. */
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import {
  onnxTransposeOutSize,
  tfSamePads,
  tfTransposeOutSize,
  tfTransposePlan,
} from '../../src/onnx/padding';
import { batchNormAffine, foldAffineIntoConv, permute } from '../../src/onnx/tensor-math';
import { randomArray } from './onnx-helpers';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('TF "same" padding for windows', () => {
  it('gives ceil(in / stride) outputs and puts the odd pixel at the end', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 3 }),
        (inSize, kernel, stride, dilation) => {
          const pads = tfSamePads(inSize, { kernel, stride, dilation });
          expect(pads).not.toBeNull();
          if (pads === null) return;
          const effective = (kernel - 1) * dilation + 1;
          const out = Math.floor((inSize + pads.begin + pads.end - effective) / stride) + 1;
          expect(out).toBe(Math.ceil(inSize / stride));
          expect(pads.end - pads.begin === 0 || pads.end - pads.begin === 1).toBe(true);
        },
      ),
    );
  });

  it('is known without the input size only for stride 1', () => {
    expect(tfSamePads(null, { kernel: 3, stride: 1, dilation: 2 })).toEqual({ begin: 2, end: 2 });
    expect(tfSamePads(null, { kernel: 2, stride: 1, dilation: 1 })).toEqual({ begin: 0, end: 1 });
    expect(tfSamePads(null, { kernel: 3, stride: 2, dilation: 1 })).toBeNull();
  });
});

describe('Conv2DTranspose plan', () => {
  it('makes ONNX ConvTranspose give tfjs deconvLength, with output_padding < stride', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 1, max: 4 }),
        fc.constantFrom<'same' | 'valid'>('same', 'valid'),
        (inSize, kernel, stride, padding) => {
          const plan = tfTransposePlan({ kernel, stride, padding });
          expect(onnxTransposeOutSize(inSize, kernel, stride, plan)).toBe(
            tfTransposeOutSize(inSize, { kernel, stride, padding }),
          );
          expect(plan.outputPadding).toBeLessThan(stride);
          expect(plan.pads.begin).toBeLessThanOrEqual(plan.pads.end);
        },
      ),
    );
  });
});

describe('weight arithmetic', () => {
  it('permute agrees with tf.transpose', () => {
    const shape = [2, 3, 4, 5];
    const data = randomArray(120, 1);
    for (const perm of [
      [3, 2, 0, 1],
      [0, 3, 1, 2],
      [1, 0, 3, 2],
    ]) {
      const want = tf.tidy(() => tf.transpose(tf.tensor(data, shape), perm).dataSync());
      expect(Array.from(permute(data, shape, perm))).toEqual(Array.from(want));
    }
  });

  it('a folded 1x1 conv equals the conv followed by the batch norm', () => {
    // 1x1 conv, 2 in, 3 out, ONNX layout [co, ci]: y_o = sum_i W[o, i] x_i + b_o.
    const weight = Float32Array.of(1, 2, -1, 0.5, 3, -2);
    const bias = Float32Array.of(0.1, -0.2, 0.3);
    const bn = {
      gamma: Float32Array.of(1.5, 0.5, 2),
      beta: Float32Array.of(0.2, 0, -1),
      movingMean: Float32Array.of(0.3, -0.1, 1),
      movingVariance: Float32Array.of(0.5, 2, 1),
      epsilon: 1e-3,
    };
    const folded = foldAffineIntoConv({
      weight,
      bias,
      channelOf: (i) => Math.floor(i / 2),
      ...batchNormAffine(bn),
    });
    const x = [0.7, -1.3];
    for (let o = 0; o < 3; o++) {
      const conv = weight[2 * o] * x[0] + weight[2 * o + 1] * x[1] + bias[o];
      const want =
        ((conv - bn.movingMean[o]) * bn.gamma[o]) / Math.sqrt(bn.movingVariance[o] + bn.epsilon) + bn.beta[o];
      const got = folded.weight[2 * o] * x[0] + folded.weight[2 * o + 1] * x[1] + folded.bias[o];
      expect(got).toBeCloseTo(want, 5);
    }
  });
});
