/**
 * Our wasm kernels against the cpu backend's reference implementations.
 *
 * Tolerances: both backends compute in float32 but sum in different orders (XNNPACK blocks its sums, the cpu
 * backend loops). A sum of K products of values in [-1, 1) then differs by about sqrt(K) * 6e-8 relative to
 * its magnitude; our largest K here is about 3000 (gradient sums over batch x positions), hence 1e-5 on the
 * relative L2 difference and 1e-4 on the worst element relative to the largest (2-3 orders above the expected
 * error, 3-4 below what a wrong index or a missing tap produces: one tap of nine is about 0.1).
 *
 * Dilations: tfjs's Conv2D gradient refuses dilations > 1, and the Conv2DBackpropFilter/Input kernels have no
 * dilation attribute, so there is no dilated case to test.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { backpropInputPath } from '../../src/backend/wasm-kernels/conv2d-backprop-input';
import { isPatchMatMul } from '../../src/backend/wasm-kernels/conv2d-backprop-filter';
import { ALL_WASM_PATCHES, setWasmPatches } from '../../src/backend/wasm-kernels';
import { leadingAxes } from '../../src/backend/wasm-kernels/leading-axis-reduce';
import { onBackend, randomArray, relativeL2, relativeMaxAbs, sizeOf, wasmDataIds } from './helpers';

type Pad = 'same' | 'valid' | number;
interface ConvCase {
  x: [number, number, number, number];
  k: [number, number];
  co: number;
  stride: number;
  pad: Pad;
}

const L2_TOL = 1e-5;
const MAX_TOL = 1e-4;

const CASES: ConvCase[] = [
  { x: [2, 9, 9, 3], k: [3, 3], co: 4, stride: 1, pad: 'same' },
  { x: [1, 8, 7, 2], k: [3, 3], co: 5, stride: 1, pad: 'valid' },
  { x: [3, 10, 10, 4], k: [3, 3], co: 3, stride: 2, pad: 'same' },
  { x: [2, 10, 9, 3], k: [3, 3], co: 2, stride: 2, pad: 'valid' }, // 'valid' leaves the last input row unread
  { x: [2, 11, 11, 2], k: [5, 5], co: 3, stride: 2, pad: 'same' },
  { x: [2, 8, 8, 3], k: [2, 2], co: 4, stride: 1, pad: 'same' }, // even kernel: asymmetric 'same' padding
  { x: [2, 8, 8, 6], k: [2, 2], co: 3, stride: 2, pad: 'valid' }, // kernel == stride: the matMul paths
  { x: [1, 9, 9, 4], k: [2, 2], co: 3, stride: 2, pad: 'valid' }, // kernel == stride, one row left over
  { x: [3, 6, 5, 7], k: [1, 1], co: 4, stride: 1, pad: 'same' }, // the 1x1 head
  { x: [2, 7, 7, 2], k: [3, 1], co: 2, stride: 1, pad: 1 }, // explicit numeric padding, non-square kernel
  { x: [1, 12, 12, 8], k: [3, 3], co: 8, stride: 1, pad: 'same' },
];

function label(c: ConvCase): string {
  return `x=${c.x.join('x')} k=${c.k.join('x')} co=${c.co} stride=${c.stride} pad=${c.pad}`;
}

function convInfo(c: ConvCase): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(c.x, [c.k[0], c.k[1], c.x[3], c.co], c.stride, 1, c.pad);
}

/** Runs one kernel directly (not through an op) so the kernel under test is exactly what runs. */
function runKernelData(name: string, inputs: Record<string, tf.Tensor>, attrs: object): Float32Array {
  const out = tf.engine().runKernel(name, inputs, attrs as tf.NamedAttrMap) as tf.Tensor;
  const data = out.dataSync() as Float32Array;
  out.dispose();
  return data;
}

function filterGrad(c: ConvCase, seed: number): Float32Array {
  const info = convInfo(c);
  return tf.tidy(() => {
    const x = tf.tensor4d(randomArray(sizeOf(c.x), seed), c.x);
    const dy = tf.tensor4d(randomArray(sizeOf(info.outShape), seed + 1), info.outShape);
    return runKernelData(
      tf.Conv2DBackpropFilter,
      { x, dy },
      {
        strides: c.stride,
        pad: c.pad,
        dataFormat: 'NHWC',
        filterShape: [c.k[0], c.k[1], c.x[3], c.co],
      },
    );
  });
}

function inputGrad(c: ConvCase, seed: number): Float32Array {
  const info = convInfo(c);
  const fShape = [c.k[0], c.k[1], c.x[3], c.co];
  return tf.tidy(() => {
    const dy = tf.tensor4d(randomArray(sizeOf(info.outShape), seed), info.outShape);
    const filter = tf.tensor4d(
      randomArray(sizeOf(fShape), seed + 1),
      fShape as [number, number, number, number],
    );
    return runKernelData(
      tf.Conv2DBackpropInput,
      { dy, filter },
      {
        strides: c.stride,
        pad: c.pad,
        dataFormat: 'NHWC',
        inputShape: c.x,
      },
    );
  });
}

beforeAll(async () => {
  setWasmPatches(ALL_WASM_PATCHES);
  await onBackend('wasm', () => undefined);
});

describe('wasm Conv2DBackpropFilter (tfjs issue 8474) against cpu', () => {
  it('is registered for wasm only once patched', () => {
    setWasmPatches({ conv2dBackpropFilter: false });
    expect(tf.getKernel(tf.Conv2DBackpropFilter, 'wasm')).toBeUndefined();
    setWasmPatches({ conv2dBackpropFilter: true });
    expect(tf.getKernel(tf.Conv2DBackpropFilter, 'wasm')).toBeDefined();
  });

  it('covers both rewrites in the cases below', () => {
    const paths = CASES.map((c) => isPatchMatMul(convInfo(c)));
    expect(paths).toContain(true);
    expect(paths).toContain(false);
  });

  it.each(CASES.map((c, i) => [label(c), c, i] as const))('%s', async (_name, c, i) => {
    const ref = await onBackend('cpu', () => filterGrad(c, 100 + i));
    const tensorsBefore = (await onBackend('wasm', () => tf.memory().numTensors)) as number;
    const idsBefore = wasmDataIds();
    const got = filterGrad(c, 100 + i);
    expect(got.length).toBe(c.k[0] * c.k[1] * c.x[3] * c.co);
    expect(relativeL2(got, ref)).toBeLessThan(L2_TOL);
    expect(relativeMaxAbs(got, ref)).toBeLessThan(MAX_TOL);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(wasmDataIds()).toBe(idsBefore);
  });
});

describe('wasm Conv2DBackpropInput (fast paths) against cpu', () => {
  it('replaces the shipped kernel and restores it when switched off', () => {
    setWasmPatches({ conv2dBackpropInput: false });
    const shipped = tf.getKernel(tf.Conv2DBackpropInput, 'wasm');
    setWasmPatches({ conv2dBackpropInput: true });
    const ours = tf.getKernel(tf.Conv2DBackpropInput, 'wasm');
    expect(ours?.kernelFunc).not.toBe(shipped?.kernelFunc);
    // The shipped code's set-up (binding its wasm function) is kept for the fallback path.
    expect(ours?.setupFunc).toBe(shipped?.setupFunc);
    setWasmPatches({ conv2dBackpropInput: false });
    expect(tf.getKernel(tf.Conv2DBackpropInput, 'wasm')?.kernelFunc).toBe(shipped?.kernelFunc);
    setWasmPatches({ conv2dBackpropInput: true });
  });

  it('covers the three paths in the cases below', () => {
    const paths = new Set(CASES.map((c) => backpropInputPath(convInfo(c))));
    expect([...paths].sort()).toEqual(['flipped-conv', 'matmul', 'shipped']);
  });

  it.each(CASES.map((c, i) => [label(c), c, i] as const))('%s', async (_name, c, i) => {
    const ref = await onBackend('cpu', () => inputGrad(c, 200 + i));
    const tensorsBefore = (await onBackend('wasm', () => tf.memory().numTensors)) as number;
    const idsBefore = wasmDataIds();
    const got = inputGrad(c, 200 + i);
    expect(got.length).toBe(sizeOf(c.x));
    expect(relativeL2(got, ref)).toBeLessThan(L2_TOL);
    expect(relativeMaxAbs(got, ref)).toBeLessThan(MAX_TOL);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(wasmDataIds()).toBe(idsBefore);
  });
});

describe('wasm Sum and Mean over leading axes (one matMul instead of transpose + reduce) against cpu', () => {
  const REDUCTIONS: { shape: number[]; axis: number | number[]; keepDims: boolean }[] = [
    { shape: [4, 6, 5, 3], axis: [0, 1, 2], keepDims: false }, // BatchNorm statistics: the patched case
    { shape: [4, 6, 5, 3], axis: [2, 0, 1], keepDims: true }, // same axes, any order, kept dims
    { shape: [7, 9], axis: 0, keepDims: false },
    { shape: [3, 4, 5], axis: [0, 1], keepDims: false },
    { shape: [3, 4, 5], axis: [1, 2], keepDims: false }, // trailing axes: the shipped kernel
    { shape: [3, 4, 5], axis: [0, 2], keepDims: true }, // not contiguous: the shipped kernel
    { shape: [3, 4, 5], axis: [0, 1, 2], keepDims: false }, // everything: the shipped kernel
    { shape: [1, 4, 5], axis: 0, keepDims: false }, // one row: the shipped kernel
  ];

  function reduce(kind: 'Sum' | 'Mean', r: (typeof REDUCTIONS)[number], seed: number): Float32Array {
    return tf.tidy(() => {
      const x = tf.tensor(randomArray(sizeOf(r.shape), seed), r.shape);
      const out = kind === 'Sum' ? tf.sum(x, r.axis, r.keepDims) : tf.mean(x, r.axis, r.keepDims);
      const expectedShape = tf.sum(tf.zeros(r.shape), r.axis, r.keepDims).shape;
      expect(out.shape).toEqual(expectedShape);
      return out.dataSync() as Float32Array;
    });
  }

  it('picks the patched path exactly for leading contiguous axes', () => {
    expect(REDUCTIONS.map((r) => leadingAxes(r.axis, r.shape.length))).toEqual([
      3,
      3,
      1,
      2,
      null,
      null,
      null,
      1,
    ]);
  });

  for (const kind of ['Sum', 'Mean'] as const) {
    it.each(
      REDUCTIONS.map((r, i) => [`${r.shape.join('x')} axis=${r.axis} keepDims=${r.keepDims}`, r, i] as const),
    )(`${kind} %s`, async (_n, r, i) => {
      const ref = await onBackend('cpu', () => reduce(kind, r, 300 + i));
      const tensorsBefore = (await onBackend('wasm', () => tf.memory().numTensors)) as number;
      const idsBefore = wasmDataIds();
      const got = reduce(kind, r, 300 + i);
      expect(relativeMaxAbs(got, ref)).toBeLessThan(MAX_TOL);
      expect(tf.memory().numTensors).toBe(tensorsBefore);
      expect(wasmDataIds()).toBe(idsBefore);
    });
  }

  it('leaves int32 sums to the shipped kernel and still gets them right', async () => {
    await onBackend('wasm', () => undefined);
    const s = tf.tidy(() => tf.sum(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], 'int32'), 0));
    expect(s.dtype).toBe('int32');
    expect(Array.from(s.dataSync())).toEqual([9, 12]);
    s.dispose();
  });
});

describe('wasm Concat and SplitV as heap copies against cpu', () => {
  const CONCATS: { shapes: number[][]; axis: number; dtype: 'float32' | 'int32' }[] = [
    {
      shapes: [
        [2, 3, 4, 5],
        [2, 3, 4, 7],
      ],
      axis: -1,
      dtype: 'float32',
    }, // the U-Net's skip concatenation
    {
      shapes: [
        [2, 3, 4, 5],
        [2, 1, 4, 5],
        [2, 2, 4, 5],
      ],
      axis: 1,
      dtype: 'float32',
    },
    {
      shapes: [
        [3, 300],
        [3, 2],
      ],
      axis: 1,
      dtype: 'int32',
    }, // a long run (set) and a short one (loop)
    {
      shapes: [
        [2, 0, 3],
        [2, 4, 3],
      ],
      axis: 1,
      dtype: 'float32',
    }, // an empty input: the shipped kernel
  ];
  it.each(CONCATS.map((c, i) => [JSON.stringify(c), c, i] as const))('Concat %s', async (_n, c, i) => {
    const run = () =>
      tf.tidy(() => {
        const xs = c.shapes.map((s, j) =>
          tf.tensor(randomArray(sizeOf(s), 400 + 10 * i + j), s).cast(c.dtype),
        );
        const out = tf.concat(xs, c.axis);
        return { shape: out.shape, data: Array.from(out.dataSync()) };
      });
    const ref = await onBackend('cpu', run);
    const before = (await onBackend('wasm', () => tf.memory().numTensors)) as number;
    const ids = wasmDataIds();
    expect(run()).toEqual(ref);
    expect(tf.memory().numTensors).toBe(before);
    expect(wasmDataIds()).toBe(ids);
  });

  const SPLITS: { shape: number[]; sizes: number | number[]; axis: number; dtype: 'float32' | 'int32' }[] = [
    { shape: [2, 3, 4, 12], sizes: [5, 7], axis: 3, dtype: 'float32' }, // the concatenation's gradient
    { shape: [2, 6, 4, 3], sizes: 3, axis: 1, dtype: 'float32' },
    { shape: [4, 10], sizes: [1, -1, 2], axis: 1, dtype: 'int32' },
  ];
  it.each(SPLITS.map((c, i) => [JSON.stringify(c), c, i] as const))('SplitV %s', async (_n, c, i) => {
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor(randomArray(sizeOf(c.shape), 500 + i), c.shape).cast(c.dtype);
        return tf.split(x, c.sizes, c.axis).map((t) => ({ shape: t.shape, data: Array.from(t.dataSync()) }));
      });
    const ref = await onBackend('cpu', run);
    const before = (await onBackend('wasm', () => tf.memory().numTensors)) as number;
    const ids = wasmDataIds();
    expect(run()).toEqual(ref);
    expect(tf.memory().numTensors).toBe(before);
    expect(wasmDataIds()).toBe(ids);
  });
});

describe('wasm MaxPoolGrad against cpu', () => {
  const POOLS: { x: [number, number, number, number]; k: number; s: number; pad: 'same' | 'valid' }[] = [
    { x: [2, 8, 8, 3], k: 2, s: 2, pad: 'valid' }, // the U-Net's pooling
    { x: [2, 9, 7, 2], k: 2, s: 2, pad: 'valid' }, // odd sizes: a row and a column nobody reads
    { x: [1, 7, 7, 4], k: 3, s: 2, pad: 'same' }, // padding
    { x: [2, 6, 6, 2], k: 3, s: 1, pad: 'same' }, // overlapping windows accumulate
  ];
  it.each(POOLS.map((c, i) => [JSON.stringify(c), c, i] as const))('%s', async (_n, c, i) => {
    // ReLU'd inputs: many ties at zero, where the position that gets the gradient must match (first max).
    const run = () =>
      tf.tidy(() => {
        const x = tf.relu(tf.tensor4d(randomArray(sizeOf(c.x), 600 + i), c.x));
        const y = tf.maxPool(x, c.k, c.s, c.pad);
        const dy = tf.tensor(randomArray(sizeOf(y.shape), 700 + i), y.shape);
        const g = tf.grad((t: tf.Tensor) =>
          tf.sum(tf.mul(tf.maxPool(t as tf.Tensor4D, c.k, c.s, c.pad), dy)),
        )(x);
        return g.dataSync() as Float32Array;
      });
    const ref = await onBackend('cpu', run);
    const before = (await onBackend('wasm', () => tf.memory().numTensors)) as number;
    const ids = wasmDataIds();
    const got = run();
    expect(relativeMaxAbs(got, ref)).toBeLessThan(1e-6);
    expect(tf.memory().numTensors).toBe(before);
    expect(wasmDataIds()).toBe(ids);
  });
});

describe('wasm Identity shares the buffer instead of copying', () => {
  it('clones without a new buffer, and the buffer lives until the last reference goes', async () => {
    await onBackend('wasm', () => undefined);
    const ids = wasmDataIds();
    const a = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    const b = tf.clone(a);
    expect(wasmDataIds()).toBe(ids + 1); // one buffer for both
    a.dispose();
    expect(Array.from(b.dataSync())).toEqual([1, 2, 3, 4]);
    const c = tf.add(b, 1); // a kernel reading the shared buffer
    expect(Array.from(c.dataSync())).toEqual([2, 3, 4, 5]);
    b.dispose();
    c.dispose();
    expect(wasmDataIds()).toBe(ids);
  });

  it('keeps variables independent: assigning to one does not change its clone', async () => {
    await onBackend('wasm', () => undefined);
    const v = tf.variable(tf.tensor1d([1, 2, 3]));
    const snapshot = tf.clone(v);
    v.assign(tf.tensor1d([7, 8, 9]));
    expect(Array.from(snapshot.dataSync())).toEqual([1, 2, 3]);
    expect(Array.from(v.dataSync())).toEqual([7, 8, 9]);
    snapshot.dispose();
    v.dispose();
  });
});
