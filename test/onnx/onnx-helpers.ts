/** Shared by the ONNX tests: seeded random data, random batch-norm statistics, and a tfjs-vs-ORT comparison. */
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { exportToOnnx, type OnnxExportOptions } from '../../src/onnx';
import { mulberry32 } from '../../src/util/random';

/** Seeded test data: the runtime's own mulberry32, so every failure is reproducible. */
export const seededRandom = mulberry32;

export function randomArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = seededRandom(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

/**
 * Gives every BatchNormalization non-trivial statistics (fresh layers have mean 0, variance 1, gamma 1, beta 0,
 * which would hide a wrong fold) and every bias non-zero values.
 */
export function randomizeStatistics(model: tf.LayersModel, seed: number): void {
  let s = seed;
  for (const layer of model.layers) {
    const values = layer.weights.map((w) => {
      const short = w.originalName.slice(w.originalName.lastIndexOf('/') + 1);
      const shape = w.shape as number[]; // weights always have a fixed shape
      const n = shape.reduce((a, b) => a * b, 1);
      s += 1;
      if (short === 'moving_variance') return tf.tensor(randomArray(n, s, 0.2, 2), shape);
      if (short === 'gamma') return tf.tensor(randomArray(n, s, 0.5, 1.5), shape);
      if (short === 'moving_mean' || short === 'beta' || short === 'bias') {
        return tf.tensor(randomArray(n, s, -0.5, 0.5), shape);
      }
      return w.read().clone();
    });
    layer.setWeights(values);
    tf.dispose(values);
  }
}

export interface Comparison {
  readonly maxAbsDiff: number;
  /** max |a - b| / (1 + |b|): the tolerance measure for unbounded outputs. */
  readonly maxScaledDiff: number;
  readonly tfjsShape: readonly number[];
  readonly onnxShape: readonly number[];
  readonly size: number;
  readonly foldedBatchNorms: readonly string[];
}

/** Runs the same random NHWC batch through the tfjs model (current backend) and its ONNX export in onnxruntime. */
export async function compareWithOnnx(
  model: tf.LayersModel,
  opts: { batch: number; seed: number; inputShape?: readonly number[]; exportOptions?: OnnxExportOptions },
): Promise<Comparison> {
  const shape = [opts.batch, ...(opts.inputShape ?? (model.inputs[0].shape.slice(1) as number[]))];
  const size = shape.reduce((a, b) => a * b, 1);
  const x = randomArray(size, opts.seed);
  const expected = tf.tidy(() => model.predict(tf.tensor(x, shape)) as tf.Tensor);
  const want = (await expected.data()) as Float32Array;
  const tfjsShape = [...expected.shape];
  expected.dispose();

  const exported = exportToOnnx(model, opts.exportOptions);
  const session = await ort.InferenceSession.create(exported.bytes);
  try {
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', x, shape) };
    const result = await session.run(feeds);
    const out = result[session.outputNames[0]];
    const got = out.data as Float32Array;
    let maxAbsDiff = 0;
    let maxScaledDiff = 0;
    for (let i = 0; i < want.length; i++) {
      const d = Math.abs(got[i] - want[i]);
      if (!(d <= maxAbsDiff)) maxAbsDiff = d; // NaN propagates as a failure
      maxScaledDiff = Math.max(maxScaledDiff, d / (1 + Math.abs(want[i])));
    }
    return {
      maxAbsDiff,
      maxScaledDiff,
      tfjsShape,
      onnxShape: [...out.dims],
      size: want.length,
      foldedBatchNorms: exported.foldedBatchNorms,
    };
  } finally {
    await session.release();
  }
}
