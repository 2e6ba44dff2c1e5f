import fc from 'fast-check';
import {
  ConfusionMatrix,
  WeightedMean,
  finiteOrNull,
  iouByClass,
  validationMetrics,
} from '../../src/training/metrics';

describe('validation metrics', () => {
  // truth 3 is the neutral (ignored) class.
  const truth = [0, 0, 1, 1, 2, 3];
  const predicted = [0, 1, 1, 1, 0, 2];

  function example(): ConfusionMatrix {
    const m = new ConfusionMatrix({ numClasses: 3, ignoreIndex: 3 });
    m.add({ predicted, truth });
    return m;
  }

  it('counts truth x prediction, skipping pixels whose truth is the ignore index', () => {
    const m = example();
    expect(m.total).toBe(5);
    expect([m.count(0, 0), m.count(0, 1), m.count(1, 1), m.count(2, 0), m.count(2, 2)]).toEqual([
      1, 1, 2, 1, 0,
    ]);
  });

  it('pixel accuracy, per-class IoU and mean IoU of a hand-worked example', () => {
    const m = example();
    expect(m.pixelAccuracy()).toBeCloseTo(3 / 5, 12);
    const iou = m.classIou();
    // class 0: TP 1, union {truth 2 + predicted 2 - 1} = 3; class 1: 2 / 3; class 2: 0 / 1.
    expect(iou[0]).toBeCloseTo(1 / 3, 12);
    expect(iou[1]).toBeCloseTo(2 / 3, 12);
    expect(iou[2]).toBe(0);
    expect(m.meanIou()).toBeCloseTo(1 / 3, 12);
  });

  it('a class absent from prediction and truth is null, not 0, and left out of the mean', () => {
    const m = new ConfusionMatrix({ numClasses: 4 });
    m.add({ predicted: [0, 1, 1], truth: [0, 1, 2] });
    expect(m.classIou()).toEqual([1, 0.5, 0, null]);
    expect(m.meanIou()).toBeCloseTo(0.5, 12);
    expect(iouByClass(m, { bg: 0, a: 1, b: 2, c: 3, gone: 9 })).toEqual({ bg: 1, a: 0.5, b: 0, c: null });
  });

  it('accumulating batches equals counting everything at once', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 2 })), {
            maxLength: 30,
          }),
          {
            maxLength: 6,
          },
        ),
        (batches) => {
          const batched = new ConfusionMatrix({ numClasses: 3, ignoreIndex: 3 });
          for (const b of batches) batched.add({ truth: b.map((p) => p[0]), predicted: b.map((p) => p[1]) });
          const all = batches.flat();
          const once = new ConfusionMatrix({ numClasses: 3, ignoreIndex: 3 });
          once.add({ truth: all.map((p) => p[0]), predicted: all.map((p) => p[1]) });
          expect(batched.classIou()).toEqual(once.classIou());
          expect(batched.pixelAccuracy()).toEqual(once.pixelAccuracy());
          const counted = all.filter((p) => p[0] !== 3);
          const correct = counted.filter((p) => p[0] === p[1]).length;
          expect(batched.pixelAccuracy()).toEqual(counted.length === 0 ? null : correct / counted.length);
        },
      ),
    );
  });

  it('merges another matrix', () => {
    const a = example();
    a.merge(example());
    expect(a.total).toBe(10);
    expect(a.meanIou()).toBeCloseTo(1 / 3, 12);
    expect(() => a.merge(new ConfusionMatrix({ numClasses: 3 }))).toThrow(/same classes/);
  });

  it('rejects arrays of different lengths and values that are not class indices', () => {
    const m = new ConfusionMatrix({ numClasses: 2 });
    expect(() => m.add({ predicted: [0], truth: [0, 1] })).toThrow(/1 values but truth has 2/);
    expect(() => m.add({ predicted: [0], truth: [2] })).toThrow(/truth\[0\] = 2/);
    expect(() => m.add({ predicted: [-1], truth: [1] })).toThrow(/predicted\[0\] = -1/);
    expect(() => m.add({ predicted: [0.5], truth: [1] })).toThrow(/predicted\[0\] = 0.5/);
    expect(m.total).toBe(0);
  });

  it('weights the loss by batch size', () => {
    const loss = new WeightedMean();
    expect(loss.value()).toBeNull();
    loss.add(1, 2);
    loss.add(4, 1);
    expect(loss.value()).toBeCloseTo(2, 12);
    expect(() => loss.add(1, -1)).toThrow(/non-negative/);
  });

  it('gives plain numbers for the metrics line, null for what is not finite or not known', () => {
    const loss = new WeightedMean();
    loss.add(0.25, 4);
    const line = validationMetrics({ loss, confusion: example() });
    expect(line.loss).toBe(0.25);
    expect(line.accuracy).toBeCloseTo(0.6, 12);
    expect(line.mean_iou).toBeCloseTo(1 / 3, 12);
    const nan = new WeightedMean();
    nan.add(Number.NaN, 1);
    expect(validationMetrics({ loss: nan, confusion: new ConfusionMatrix({ numClasses: 2 }) })).toEqual({
      loss: null,
      accuracy: null,
      mean_iou: null,
    });
    expect(JSON.stringify({ a: finiteOrNull(Infinity), b: finiteOrNull(1.5) })).toBe('{"a":null,"b":1.5}');
  });
});
