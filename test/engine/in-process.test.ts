/**
 * The in-process engine: the loss and accuracy it reports against an independent computation, the ignore
 * index (neutral class, spec G.2), one Adam step per call, micro-batches, evaluation, and no tensor leaks.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/select';
import { InProcessEngine } from '../../src/training/engine/in-process';
import { trainingView } from '../../src/training/engine/loss';
import { maxRelativeDifference, randomBatch, tinySegmenter, weightsOf } from './tiny-model';

const SIZE = 8;
const CLASSES = 3;
const IGNORE = 3;

beforeAll(async () => {
  await initBackend({ force: 'wasm', env: {} });
});

/** Mean cross-entropy and accuracy over counted pixels, from the model's probabilities, in float64. */
function reference(model: tf.LayersModel, b: ReturnType<typeof randomBatch>) {
  const p = tf.tidy(() =>
    (model.apply(tf.tensor4d(b.x, [b.n, SIZE, SIZE, 3]), { training: false }) as tf.Tensor).dataSync(),
  );
  let loss = 0;
  let correct = 0;
  let count = 0;
  for (let i = 0; i < b.y.length; i++) {
    if (b.y[i] === IGNORE) continue;
    const row = Array.from(p.slice(i * CLASSES, (i + 1) * CLASSES));
    loss -= Math.log(row[b.y[i]]);
    if (row.indexOf(Math.max(...row)) === b.y[i]) correct++;
    count++;
  }
  return { loss: loss / count, accuracy: correct / count, count };
}

describe('in-process training engine (spec G.2 loss: softmax cross-entropy, neutral ignored)', () => {
  it('computes the loss from the logits when the model ends in a softmax layer, else from probabilities', () => {
    const a = tinySegmenter({ classes: CLASSES, size: SIZE, batchNorm: false });
    const b = tinySegmenter({ classes: CLASSES, size: SIZE, batchNorm: false, softmaxLayer: false });
    expect(trainingView(a).kind).toBe('logits');
    expect(trainingView(b).kind).toBe('probabilities');
    a.dispose();
    b.dispose();
  });

  it.each([true, false])(
    'reports the loss and accuracy of the weights before the step (softmax layer: %s)',
    async (softmaxLayer) => {
      // No BatchNorm: training and inference forward passes agree, so the reference can use inference mode.
      const model = tinySegmenter({ classes: CLASSES, size: SIZE, batchNorm: false, softmaxLayer });
      const engine = new InProcessEngine({
        model,
        learningRate: 0.01,
        numClasses: CLASSES,
        ignoreIndex: IGNORE,
      });
      const b = randomBatch({ n: 3, size: SIZE, labelMax: IGNORE, seed: 1 });
      const ref = reference(model, b);
      expect(ref.count).toBeGreaterThan(0);
      expect(ref.count).toBeLessThan(b.y.length); // some pixels really are ignored
      const before = weightsOf(model);
      const r = await engine.trainStep(b);
      expect(r.pixels).toBe(ref.count);
      expect(r.applied).toBe(true);
      expect(Math.abs(r.loss - ref.loss) / ref.loss).toBeLessThan(1e-5);
      expect(r.accuracy).toBeCloseTo(ref.accuracy, 10);
      expect(maxRelativeDifference(weightsOf(model), before)).toBeGreaterThan(1e-4); // Adam moved the weights
      await engine.dispose();
      model.dispose();
    },
  );

  it('skips the optimizer step when every pixel is neutral', async () => {
    const allIgnored = tinySegmenter({ classes: CLASSES, size: SIZE, batchNorm: false });
    const engine = new InProcessEngine({
      model: allIgnored,
      learningRate: 0.01,
      numClasses: CLASSES,
      ignoreIndex: IGNORE,
    });
    const b = randomBatch({ n: 1, size: SIZE, labelMax: 0, seed: 6 });
    b.y.fill(IGNORE);
    const before = weightsOf(allIgnored);
    expect(await engine.trainStep(b)).toMatchObject({ loss: 0, accuracy: 0, pixels: 0, applied: false });
    expect(maxRelativeDifference(weightsOf(allIgnored), before)).toBe(0);
    await engine.dispose();
    allIgnored.dispose();
  });

  it('learns: the loss on a fixed batch falls over a few steps, with no tensor left behind per step', async () => {
    const model = tinySegmenter({ classes: CLASSES, size: SIZE, batchNorm: true });
    const engine = new InProcessEngine({
      model,
      learningRate: 0.02,
      numClasses: CLASSES,
      ignoreIndex: IGNORE,
    });
    const b = randomBatch({ n: 4, size: SIZE, labelMax: IGNORE, seed: 2 });
    const first = await engine.trainStep(b);
    const tensors = tf.memory().numTensors;
    let last = first;
    for (let i = 0; i < 15; i++) last = await engine.trainStep(b);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(last.loss).toBeLessThan(first.loss * 0.8);
    await engine.dispose();
    model.dispose();
  });

  it('micro-batches give the same step as the whole batch when there is no BatchNorm', async () => {
    const b = randomBatch({ n: 4, size: SIZE, labelMax: IGNORE, seed: 3 });
    const results: Float32Array[][] = [];
    for (const microBatches of [1, 2]) {
      const model = tinySegmenter({ classes: CLASSES, size: SIZE, batchNorm: false });
      const engine = new InProcessEngine({
        model,
        learningRate: 0.01,
        numClasses: CLASSES,
        ignoreIndex: IGNORE,
        microBatches,
      });
      await engine.trainStep(b);
      await engine.trainStep(b);
      results.push(weightsOf(model));
      await engine.dispose();
      model.dispose();
    }
    // Float32 sums in a different grouping: about 1e-7 relative per gradient, amplified by Adam's division by
    // sqrt(v) for tiny gradients; 1e-4 of the largest weight still separates this from a wrong weighting.
    expect(maxRelativeDifference(results[1], results[0])).toBeLessThan(1e-4);
  });

  it('evaluates without changing anything: loss, pixels, and a confusion matrix of counted pixels', async () => {
    const model = tinySegmenter({ classes: CLASSES, size: SIZE, batchNorm: true });
    const engine = new InProcessEngine({
      model,
      learningRate: 0.01,
      numClasses: CLASSES,
      ignoreIndex: IGNORE,
    });
    const b = randomBatch({ n: 2, size: SIZE, labelMax: IGNORE, seed: 4 });
    const before = weightsOf(model);
    const tensors = tf.memory().numTensors;
    const r = await engine.evalStep(b);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(maxRelativeDifference(weightsOf(model), before)).toBe(0);
    const ref = reference(model, b);
    expect(r.pixels).toBe(ref.count);
    expect(Math.abs(r.loss - ref.loss) / ref.loss).toBeLessThan(1e-5);
    expect(r.confusion.reduce((a, v) => a + v, 0)).toBe(ref.count);
    const diagonal = [0, 1, 2].reduce((a, k) => a + r.confusion[k * CLASSES + k], 0);
    expect(diagonal / ref.count).toBeCloseTo(ref.accuracy, 10);
    for (let t = 0; t < CLASSES; t++) {
      const row = r.confusion.slice(t * CLASSES, (t + 1) * CLASSES).reduce((a, v) => a + v, 0);
      expect(row).toBe(Array.from(b.y).filter((v) => v === t).length);
    }
    await engine.dispose();
    model.dispose();
  });

  it('changes the learning rate and refuses nonsense', async () => {
    const model = tinySegmenter({ classes: CLASSES, size: SIZE, batchNorm: false });
    const engine = new InProcessEngine({ model, learningRate: 0.01, numClasses: CLASSES, ignoreIndex: null });
    engine.setLearningRate(0.5);
    expect(engine.getOptimizer().getConfig().learningRate).toBe(0.5);
    expect(() => engine.setLearningRate(-1)).toThrow(/positive number/);
    await engine.dispose();
    await engine.dispose(); // twice is fine
    await expect(engine.trainStep(randomBatch({ n: 1, size: SIZE, labelMax: 2, seed: 1 }))).rejects.toThrow(
      /disposed/,
    );
    model.dispose();
  });
});
