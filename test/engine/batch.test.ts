/** Batch checks, label preparation (ignore index, spec G.2) and sharding: pure functions. */
import {
  batchLength,
  checkBatch,
  prepareLabels,
  shardSizes,
  singleInputBatch,
  splitBatch,
} from '../../src/training/engine/batch';
import { TaskError } from '../../src/errors';

function batch(n: number, h: number, w: number, c = 3) {
  return singleInputBatch({
    x: Float32Array.from({ length: n * h * w * c }, (_, i) => i),
    y: Int32Array.from({ length: n * h * w }, (_, i) => i % 3),
    n,
    height: h,
    width: w,
  });
}

describe('engine batches (spec G.2: neutral pixels are ignored)', () => {
  it('checks the labels and the samples of every input', () => {
    expect(checkBatch(batch(2, 3, 4))).toEqual({ n: 2, height: 3, width: 4 });
    expect(checkBatch(batch(1, 2, 2, 1))).toEqual({ n: 1, height: 2, width: 2 });
    const b = batch(2, 3, 4);
    expect(() => checkBatch({ ...b, labels: { data: new Int32Array(5), shape: [2, 3, 4] } })).toThrow(
      /labels hold 5 values, expected n\*height\*width = 24/,
    );
    const other = { data: new Float32Array(36), shape: [3, 3, 4, 1] };
    expect(() => checkBatch({ ...b, inputs: { ...b.inputs, clicks: other } })).toThrow(TaskError);
    expect(() => checkBatch({ ...b, inputs: { ...b.inputs, clicks: other } })).toThrow(
      /input "clicks" of shape \[3, 3, 4, 1\] holds other than the labels' 2 samples/,
    );
    expect(() => checkBatch({ ...b, labels: { data: new Int32Array(0), shape: [0, 3, 4] } })).toThrow(
      /batch n must be a positive integer/,
    );
  });

  it('maps the ignore index to -1, counts the rest, and rejects labels out of range', () => {
    const y = Int32Array.from([0, 3, 1, 2, 3, 0]);
    expect(prepareLabels(y, { numClasses: 3, ignoreIndex: 3 })).toEqual({
      labels: Int32Array.from([0, -1, 1, 2, -1, 0]),
      count: 4,
      weight: 4,
    });
    expect(() => prepareLabels(y, { numClasses: 3, ignoreIndex: null })).toThrow(
      /label 3 at pixel 1 is not a class index in \[0, 3\)/,
    );
    // -1 is UNCOUNTED_LABEL (padding): counted nowhere; any other negative label is an error.
    expect(prepareLabels(Int32Array.from([-1, 1]), { numClasses: 3, ignoreIndex: 3 })).toEqual({
      labels: Int32Array.from([-1, 1]),
      count: 1,
      weight: 1,
    });
    expect(() => prepareLabels(Int32Array.from([-2]), { numClasses: 3, ignoreIndex: 3 })).toThrow(
      /label -2 at pixel 0 .*or the ignore index 3/,
    );
  });

  it('sums the class weights of the counted pixels; training drops the pixels of a class of weight 0', () => {
    const y = Int32Array.from([0, 3, 1, 2, 3, 0, 2]);
    const loss = { numClasses: 3, ignoreIndex: 3, classWeights: [0.5, 0, 4] };
    expect(prepareLabels(y, loss)).toEqual({
      labels: Int32Array.from([0, -1, 1, 2, -1, 0, 2]),
      count: 5,
      weight: 0.5 + 0 + 4 + 0.5 + 4,
    });
    expect(prepareLabels(y, loss, true)).toEqual({
      labels: Int32Array.from([0, -1, -1, 2, -1, 0, 2]),
      count: 4,
      weight: 9,
    });
  });

  it('splits as evenly as possible, larger shards first, never an empty shard', () => {
    expect(shardSizes(8, 2)).toEqual([4, 4]);
    expect(shardSizes(7, 2)).toEqual([4, 3]);
    expect(shardSizes(7, 3)).toEqual([3, 2, 2]);
    expect(shardSizes(1, 4)).toEqual([1]);
    expect(shardSizes(5, 1)).toEqual([5]);
  });

  it('slices contiguous samples, copying', () => {
    const b = batch(3, 2, 2);
    const [s0, s1] = splitBatch(b, 2);
    expect(batchLength(s0)).toBe(2);
    expect(batchLength(s1)).toBe(1);
    const x = b.inputs.image.data;
    expect(Array.from(s1.inputs.image.data)).toEqual(Array.from(x.slice(2 * 12, 3 * 12)));
    expect(s1.inputs.image.shape).toEqual([1, 2, 2, 3]);
    expect(Array.from(s1.labels.data)).toEqual(Array.from(b.labels.data.slice(8, 12)));
    expect(s1.labels.shape).toEqual([1, 2, 2]);
    expect(s0.inputs.image.data.buffer).not.toBe(x.buffer);
  });
});
