/** Pure checks and reshuffles of a batch before any tensor exists: validation, labels, shards. */
import { dataError } from '../../errors';
import { formatShape, sliceTensor, sliceTensors } from '../../network/tensors';
import { UNCOUNTED_LABEL, type Batch, type LossOptions } from './types';

/** Labels ready for the loss: ignored pixels become -1 (tf.oneHot gives them an all-zero row). */
export interface PreparedLabels {
  labels: Int32Array;
  /** Non-ignored pixels. */
  count: number;
  /** Σ class weights of the counted pixels: the loss's denominator (= count without class weights). */
  weight: number;
}

/** A batch's samples and the size of its labels. */
export interface BatchSize {
  n: number;
  height: number;
  width: number;
}

/**
 * Checks what every engine needs of a batch: labels [n, height, width] and n samples in every input. The inputs'
 * own shapes are checked against the model's when they are bound (bindTensors), by name.
 */
export function checkBatch(batch: Batch): BatchSize {
  const shape = batch.labels.shape;
  if (shape.length !== 3) {
    throw dataError(`batch labels must be [n, height, width], got ${formatShape(shape)}`, {
      field: 'labels',
    });
  }
  const [n, height, width] = shape;
  for (const [field, v] of [
    ['n', n],
    ['height', height],
    ['width', width],
  ] as const) {
    if (!Number.isInteger(v) || v <= 0)
      throw dataError(`batch ${field} must be a positive integer, got ${v}`, { field });
  }
  const pixels = n * height * width;
  if (batch.labels.data.length !== pixels) {
    throw dataError(
      `batch labels hold ${batch.labels.data.length} values, expected n*height*width = ${pixels}`,
      { field: 'labels' },
    );
  }
  for (const [name, t] of Object.entries(batch.inputs)) {
    if (t.shape[0] !== n) {
      throw dataError(
        `input "${name}" of shape ${formatShape(t.shape)} holds other than the labels' ${n} samples`,
        {
          field: name,
        },
      );
    }
  }
  return { n, height, width };
}

/** A batch of one NHWC input (`x`, named `name`) and NHW labels: what the single-input networks take. */
export function singleInputBatch(o: {
  x: Float32Array;
  y: Int32Array;
  n: number;
  height: number;
  width: number;
  name?: string;
}): Batch {
  const { x, y, n, height, width } = o;
  const channels = x.length / (n * height * width);
  return {
    inputs: { [o.name ?? 'image']: { data: x, shape: [n, height, width, channels] } },
    labels: { data: y, shape: [n, height, width] },
  };
}

/** Samples in a batch. */
export function batchLength(batch: Batch): number {
  return batch.labels.shape[0];
}

/**
 * Maps the ignore index to -1 (kept for UNCOUNTED_LABEL) and checks every other label is a class index.
 * `forTraining`: pixels of a class of weight 0 become -1 too (nothing to learn from them; validation keeps them
 * for the confusion matrix).
 */
export function prepareLabels(y: Int32Array, opts: LossOptions, forTraining = false): PreparedLabels {
  const labels = new Int32Array(y.length);
  let count = 0;
  for (let i = 0; i < y.length; i++) {
    const v = y[i];
    // -1 marks padding (native-resolution windows past the image's edge): counted nowhere, like the neutral class.
    if (v === opts.ignoreIndex || v === UNCOUNTED_LABEL) {
      labels[i] = -1;
    } else if (v >= 0 && v < opts.numClasses) {
      labels[i] = v;
      count++;
    } else {
      const ignore = opts.ignoreIndex === null ? '' : ` or the ignore index ${opts.ignoreIndex}`;
      throw dataError(`label ${v} at pixel ${i} is not a class index in [0, ${opts.numClasses})${ignore}`, {
        field: 'y',
      });
    }
  }
  const weights = opts.classWeights;
  if (weights === undefined) return { labels, count, weight: count };
  // A second pass only with class weights: the unweighted loop above stays as it was.
  let weight = 0;
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    if (v < 0) continue;
    if (forTraining && weights[v] === 0) {
      labels[i] = -1;
      count--;
    } else {
      weight += weights[v];
    }
  }
  return { labels, count, weight };
}

/** Sizes of `parts` contiguous shards of n samples, as even as possible, larger first; no empty shard. */
export function shardSizes(n: number, parts: number): number[] {
  const k = Math.max(1, Math.min(parts, n));
  const base = Math.floor(n / k);
  return Array.from({ length: k }, (_, i) => base + (i < n % k ? 1 : 0));
}

/** The samples [start, start + count) of a batch; copies, so the buffers can be transferred to a worker. */
export function sliceBatch(batch: Batch, start: number, count: number): Batch {
  return {
    inputs: sliceTensors(batch.inputs, start, count),
    labels: sliceTensor(batch.labels, start, count),
  };
}

/** Splits a batch into shards of `shardSizes(n, parts)`. */
export function splitBatch(batch: Batch, parts: number): Batch[] {
  const out: Batch[] = [];
  let start = 0;
  for (const size of shardSizes(batchLength(batch), parts)) {
    out.push(parts === 1 ? batch : sliceBatch(batch, start, size));
    start += size;
  }
  return out;
}

/** Every buffer of a batch, to transfer to another thread. */
export function batchBuffers(batch: Batch): ArrayBuffer[] {
  return [...Object.values(batch.inputs), batch.labels].map((t) => t.data.buffer as ArrayBuffer);
}
