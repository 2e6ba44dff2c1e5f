/** @jest-environment ./test/onnx/ort-environment.js */
/**
 * Every layer kind the exporter supports, in several configurations: the ONNX graph run by onnxruntime-node
 * must give the tfjs model's outputs (tfjs cpu backend) on random inputs.
 */
import * as tf from '@tensorflow/tfjs';
import { onnx } from 'onnx-proto';
import { exportToOnnx } from '../../src/onnx';
import { compareWithOnnx, randomizeStatistics } from './onnx-helpers';

type Sym = tf.SymbolicTensor;
type LayerFactory = (x: Sym) => Sym;

/** One input of `shape` (HWC, null = free size), the given layers in sequence. */
function chain(shape: (number | null)[], ...layers: LayerFactory[]): tf.LayersModel {
  const input = tf.input({ shape, name: 'img' });
  let x: Sym = input;
  for (const f of layers) x = f(x);
  return tf.model({ inputs: input, outputs: x });
}

const apply =
  (layer: tf.layers.Layer): LayerFactory =>
  (x) =>
    layer.apply(x) as Sym;

const conv = (args: Parameters<typeof tf.layers.conv2d>[0]): LayerFactory => apply(tf.layers.conv2d(args));
const deconv = (args: Parameters<typeof tf.layers.conv2dTranspose>[0]): LayerFactory =>
  apply(tf.layers.conv2dTranspose(args));
const bn = (args: Parameters<typeof tf.layers.batchNormalization>[0] = {}): LayerFactory =>
  apply(tf.layers.batchNormalization(args));

/** Counts of ONNX op types in an exported model. */
function opCounts(model: tf.LayersModel): Record<string, number> {
  const proto = onnx.ModelProto.decode(exportToOnnx(model).bytes);
  const counts: Record<string, number> = {};
  for (const n of proto.graph?.node ?? []) {
    const op = n.opType ?? '';
    counts[op] = (counts[op] ?? 0) + 1;
  }
  return counts;
}

interface Case {
  readonly name: string;
  readonly build: () => tf.LayersModel;
  /** The input size to feed when the model leaves H/W free. */
  readonly feed?: readonly number[];
}

const ACTIVATIONS = [
  'relu',
  'relu6',
  'sigmoid',
  'tanh',
  'elu',
  'selu',
  'softplus',
  'softsign',
  'hardSigmoid',
  'swish',
  'mish',
  'softmax',
] as const;

const CASES: Case[] = [
  // Conv2D
  {
    name: 'Conv2D 3x3 same s1',
    build: () => chain([9, 10, 3], conv({ filters: 5, kernelSize: 3, padding: 'same' })),
  },
  {
    name: 'Conv2D 3x3 valid s1',
    build: () => chain([9, 10, 3], conv({ filters: 5, kernelSize: 3, padding: 'valid' })),
  },
  {
    name: 'Conv2D 2x2 same s2 (even kernel), even input',
    build: () => chain([8, 10, 3], conv({ filters: 4, kernelSize: 2, strides: 2, padding: 'same' })),
  },
  {
    name: 'Conv2D 2x2 same s2 (even kernel), odd input',
    build: () => chain([9, 11, 3], conv({ filters: 4, kernelSize: 2, strides: 2, padding: 'same' })),
  },
  {
    name: 'Conv2D 3x3 same s2, odd and even input',
    build: () => chain([9, 10, 3], conv({ filters: 4, kernelSize: 3, strides: 2, padding: 'same' })),
  },
  {
    name: 'Conv2D 4x4 same s2',
    build: () => chain([10, 9, 2], conv({ filters: 3, kernelSize: 4, strides: 2, padding: 'same' })),
  },
  {
    name: 'Conv2D 3x3 valid s2',
    build: () => chain([9, 10, 3], conv({ filters: 4, kernelSize: 3, strides: 2, padding: 'valid' })),
  },
  {
    name: 'Conv2D non-square kernel 1x3, strides [1, 2]',
    build: () => chain([7, 9, 3], conv({ filters: 4, kernelSize: [1, 3], strides: [1, 2], padding: 'same' })),
  },
  {
    name: 'Conv2D 3x3 same dilation 2',
    build: () => chain([11, 12, 3], conv({ filters: 4, kernelSize: 3, dilationRate: 2, padding: 'same' })),
  },
  {
    name: 'Conv2D 2x2 valid dilation 3',
    build: () => chain([11, 12, 3], conv({ filters: 4, kernelSize: 2, dilationRate: 3, padding: 'valid' })),
  },
  {
    name: 'Conv2D 1x1 without bias',
    build: () => chain([6, 6, 5], conv({ filters: 3, kernelSize: 1, useBias: false })),
  },
  ...ACTIVATIONS.map(
    (activation): Case => ({
      name: `Conv2D with activation ${activation}`,
      build: () => chain([6, 7, 3], conv({ filters: 4, kernelSize: 3, padding: 'same', activation })),
    }),
  ),
  // Free spatial size: stride-2 same padding depends on the size, so the exporter uses auto_pad SAME_UPPER.
  {
    name: 'Conv2D 3x3 same s2, free H/W, fed 9x11',
    build: () => chain([null, null, 3], conv({ filters: 4, kernelSize: 3, strides: 2, padding: 'same' })),
    feed: [9, 11, 3],
  },
  {
    name: 'Conv2D 2x2 same s2, free H/W, fed 7x8',
    build: () => chain([null, null, 3], conv({ filters: 4, kernelSize: 2, strides: 2, padding: 'same' })),
    feed: [7, 8, 3],
  },
  // BatchNormalization
  { name: 'BatchNormalization alone', build: () => chain([5, 6, 4], bn({ epsilon: 0.01 })) },
  {
    name: 'BatchNormalization without scale and center',
    build: () => chain([5, 6, 4], bn({ scale: false, center: false })),
  },
  {
    name: 'Conv2D + BatchNormalization (folded)',
    build: () => chain([8, 8, 3], conv({ filters: 6, kernelSize: 3, padding: 'same', useBias: false }), bn()),
  },
  {
    name: 'Conv2D(bias) + BatchNormalization(no scale) (folded)',
    build: () => chain([8, 8, 3], conv({ filters: 6, kernelSize: 3, padding: 'same' }), bn({ scale: false })),
  },
  {
    name: 'Conv2D(relu) + BatchNormalization (not foldable)',
    build: () =>
      chain([8, 8, 3], conv({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu' }), bn()),
  },
  {
    name: 'Conv2DTranspose + BatchNormalization (folded)',
    build: () => chain([5, 6, 4], deconv({ filters: 3, kernelSize: 3, strides: 2, padding: 'same' }), bn()),
  },
  // Activation, ReLU, LeakyReLU, Softmax, Dropout
  ...ACTIVATIONS.map(
    (activation): Case => ({
      name: `Activation layer ${activation}`,
      build: () => chain([5, 6, 4], apply(tf.layers.activation({ activation }))),
    }),
  ),
  { name: 'ReLU layer', build: () => chain([5, 6, 4], apply(tf.layers.reLU())) },
  {
    name: 'ReLU layer maxValue 0.5',
    build: () => chain([5, 6, 4], apply(tf.layers.reLU({ maxValue: 0.5 }))),
  },
  { name: 'LeakyReLU alpha 0.1', build: () => chain([5, 6, 4], apply(tf.layers.leakyReLU({ alpha: 0.1 }))) },
  { name: 'Softmax layer axis -1', build: () => chain([5, 6, 4], apply(tf.layers.softmax({ axis: -1 }))) },
  { name: 'Softmax layer axis 3', build: () => chain([5, 6, 4], apply(tf.layers.softmax({ axis: 3 }))) },
  {
    // Not the output: the softmax stays on the NCHW channel axis (only an output softmax moves after the transpose).
    name: 'Softmax layer inside the graph',
    build: () =>
      chain([5, 6, 4], apply(tf.layers.softmax({ axis: -1 })), apply(tf.layers.leakyReLU({ alpha: 0.5 }))),
  },
  {
    name: 'Dropout is the identity',
    build: () => chain([5, 6, 4], apply(tf.layers.dropout({ rate: 0.5 })), apply(tf.layers.reLU())),
  },
  // MaxPooling2D
  {
    name: 'MaxPooling2D 2x2 valid, even input',
    build: () => chain([8, 10, 3], apply(tf.layers.maxPooling2d({ poolSize: 2 }))),
  },
  {
    name: 'MaxPooling2D 2x2 valid, odd input',
    build: () => chain([9, 11, 3], apply(tf.layers.maxPooling2d({ poolSize: 2 }))),
  },
  {
    name: 'MaxPooling2D 2x2 same s2, odd input',
    build: () => chain([9, 11, 3], apply(tf.layers.maxPooling2d({ poolSize: 2, padding: 'same' }))),
  },
  {
    name: 'MaxPooling2D 3x3 same s2',
    build: () =>
      chain([9, 10, 3], apply(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }))),
  },
  {
    name: 'MaxPooling2D 3x3 same s1',
    build: () =>
      chain([7, 8, 3], apply(tf.layers.maxPooling2d({ poolSize: 3, strides: 1, padding: 'same' }))),
  },
  {
    name: 'MaxPooling2D 3x3 same s2, free H/W, fed 9x10',
    build: () =>
      chain([null, null, 3], apply(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }))),
    feed: [9, 10, 3],
  },
  // Conv2DTranspose
  {
    name: 'Conv2DTranspose 2x2 s2 same',
    build: () => chain([5, 6, 4], deconv({ filters: 3, kernelSize: 2, strides: 2, padding: 'same' })),
  },
  {
    name: 'Conv2DTranspose 3x3 s2 same',
    build: () => chain([5, 6, 4], deconv({ filters: 3, kernelSize: 3, strides: 2, padding: 'same' })),
  },
  {
    name: 'Conv2DTranspose 4x4 s2 same',
    build: () => chain([5, 6, 4], deconv({ filters: 3, kernelSize: 4, strides: 2, padding: 'same' })),
  },
  {
    name: 'Conv2DTranspose 3x3 s2 valid',
    build: () => chain([5, 6, 4], deconv({ filters: 3, kernelSize: 3, strides: 2, padding: 'valid' })),
  },
  {
    name: 'Conv2DTranspose 1x1 s2 valid (kernel < stride)',
    build: () => chain([5, 6, 4], deconv({ filters: 3, kernelSize: 1, strides: 2, padding: 'valid' })),
  },
  {
    name: 'Conv2DTranspose 2x2 s3 same (kernel < stride)',
    build: () => chain([4, 5, 4], deconv({ filters: 3, kernelSize: 2, strides: 3, padding: 'same' })),
  },
  {
    name: 'Conv2DTranspose 3x3 s1 same',
    build: () => chain([5, 6, 4], deconv({ filters: 3, kernelSize: 3, padding: 'same' })),
  },
  {
    name: 'Conv2DTranspose 3x2 strides [1, 2] valid, relu, no bias',
    build: () =>
      chain(
        [5, 6, 4],
        deconv({
          filters: 3,
          kernelSize: [3, 2],
          strides: [1, 2],
          padding: 'valid',
          activation: 'relu',
          useBias: false,
        }),
      ),
  },
  {
    name: 'Conv2DTranspose 2x2 s2 same, free H/W, fed 5x7',
    build: () => chain([null, null, 4], deconv({ filters: 3, kernelSize: 2, strides: 2, padding: 'same' })),
    feed: [5, 7, 4],
  },
  // UpSampling2D
  {
    name: 'UpSampling2D nearest 2x2',
    build: () => chain([4, 5, 3], apply(tf.layers.upSampling2d({ size: [2, 2] }))),
  },
  {
    name: 'UpSampling2D nearest 2x3',
    build: () => chain([4, 5, 3], apply(tf.layers.upSampling2d({ size: [2, 3] }))),
  },
  {
    name: 'UpSampling2D bilinear 2x2',
    build: () => chain([4, 5, 3], apply(tf.layers.upSampling2d({ size: [2, 2], interpolation: 'bilinear' }))),
  },
  {
    name: 'UpSampling2D bilinear 3x2',
    build: () => chain([4, 5, 3], apply(tf.layers.upSampling2d({ size: [3, 2], interpolation: 'bilinear' }))),
  },
];

/** Two branches of one input joined by `join` (Concatenate or Add). */
function joined(join: tf.layers.Layer, sameChannels = false): tf.LayersModel {
  const input = tf.input({ shape: [6, 7, 3] });
  const a = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }).apply(input) as Sym;
  const b = tf.layers.conv2d({ filters: sameChannels ? 4 : 2, kernelSize: 1 }).apply(input) as Sym;
  return tf.model({ inputs: input, outputs: join.apply([a, b]) as Sym });
}

CASES.push(
  { name: 'Concatenate axis -1', build: () => joined(tf.layers.concatenate({ axis: -1 })) },
  { name: 'Concatenate axis 3', build: () => joined(tf.layers.concatenate({ axis: 3 })) },
  { name: 'Concatenate axis 1 (H)', build: () => joined(tf.layers.concatenate({ axis: 1 }), true) },
  { name: 'Concatenate axis 2 (W)', build: () => joined(tf.layers.concatenate({ axis: 2 }), true) },
  { name: 'Add', build: () => joined(tf.layers.add(), true) },
);

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('ONNX export matches tfjs, layer by layer (onnxruntime-node vs tfjs cpu)', () => {
  it.each(CASES.map((c, i) => [c.name, c, i] as const))('%s', async (_name, c, i) => {
    const model = c.build();
    randomizeStatistics(model, 100 + i);
    const before = tf.memory().numTensors;
    const r = await compareWithOnnx(model, { batch: 2, seed: i, inputShape: c.feed });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.onnxShape).toEqual(r.tfjsShape);
    expect(r.size).toBeGreaterThan(0);
    expect(r.maxScaledDiff).toBeLessThan(1e-4);
    model.dispose();
  });
});

describe('batch normalisation folding', () => {
  it('folds a BatchNormalization into the linear conv it alone reads', () => {
    const model = chain([8, 8, 3], conv({ filters: 6, kernelSize: 3, padding: 'same' }), bn());
    const ops = opCounts(model);
    expect(ops['BatchNormalization']).toBeUndefined();
    expect(ops['Conv']).toBe(1);
    expect(exportToOnnx(model).foldedBatchNorms).toHaveLength(1);
  });

  it('keeps the BatchNormalization when the conv output has another consumer', async () => {
    const input = tf.input({ shape: [6, 6, 3] });
    const c = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }).apply(input) as Sym;
    const n = tf.layers.batchNormalization().apply(c) as Sym;
    const joinedOut = tf.layers.concatenate().apply([c, n]) as Sym;
    const model = tf.model({ inputs: input, outputs: joinedOut });
    randomizeStatistics(model, 7);
    expect(opCounts(model)['BatchNormalization']).toBe(1);
    const r = await compareWithOnnx(model, { batch: 2, seed: 8 });
    expect(r.foldedBatchNorms).toEqual([]);
    expect(r.maxScaledDiff).toBeLessThan(1e-4);
  });

  it('keeps the BatchNormalization after a conv with a non-linear activation', () => {
    const model = chain([6, 6, 3], conv({ filters: 4, kernelSize: 3, activation: 'relu' }), bn());
    expect(opCounts(model)['BatchNormalization']).toBe(1);
  });

  it('keeps every BatchNormalization when folding is turned off, with the same numbers', async () => {
    const model = chain([8, 8, 3], conv({ filters: 6, kernelSize: 3, padding: 'same' }), bn());
    randomizeStatistics(model, 9);
    const r = await compareWithOnnx(model, { batch: 1, seed: 10, exportOptions: { foldBatchNorm: false } });
    expect(r.foldedBatchNorms).toEqual([]);
    expect(r.maxScaledDiff).toBeLessThan(1e-4);
  });
});
