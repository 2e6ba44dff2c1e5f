/**
 * The class-weighted loss of the in-process engine (class_weights): the loss and the gradient of a step
 * against a direct computation, with micro-batches too (shards combine by their weights, not their pixels);
 * a class of weight 0 left out of the train loss and accuracy but measured by validation; the validation
 * loss weighted the same way; no weights meaning exactly the unweighted step; no tensor left behind.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/select';
import { InProcessEngine, type InProcessEngineOptions } from '../../src/training/engine/in-process';
import { trainingView } from '../../src/training/engine/loss';
import { sliceBatch } from '../../src/training/engine/batch';
import { maxRelativeDifference, randomBatch, tinySegmenter, weightsOf } from './tiny-model';
import { GradientCapture, weightedReference } from './weighted-reference';

const SIZE = 8;
const CLASSES = 3;
const IGNORE = 3;
const WEIGHTS = [0.5, 2, 4];

beforeAll(async () => {
  await initBackend({ force: 'wasm', env: {} });
});

/** Four samples, the first all class 2 (the heaviest): shards then differ in weight per pixel. */
function skewedBatch(seed: number) {
  const b = randomBatch({ n: 4, size: SIZE, labelMax: IGNORE, seed });
  b.y.fill(2, 0, SIZE * SIZE);
  return b;
}

/** The in-process engine on `model` with the neutral class ignored and `opts` (class weights and more). */
function engineFor(model: tf.LayersModel, opts: Partial<InProcessEngineOptions> = {}): InProcessEngine {
  return new InProcessEngine({
    model,
    learningRate: 0.01,
    numClasses: CLASSES,
    ignoreIndex: IGNORE,
    ...opts,
  });
}

/** Float64 Σ w·CE / Σ w from the model's probabilities (inference mode: the tiny model has no BatchNorm). */
function referenceLoss(model: tf.LayersModel, b: ReturnType<typeof randomBatch>, weights: number[]) {
  const p = tf.tidy(() =>
    (model.apply(tf.tensor4d(b.x, [b.n, SIZE, SIZE, 3]), { training: false }) as tf.Tensor).dataSync(),
  );
  let sum = 0;
  let weight = 0;
  for (let i = 0; i < b.y.length; i++) {
    if (b.y[i] === IGNORE) continue;
    const w = weights[b.y[i]];
    sum -= w * Math.log(p[i * CLASSES + b.y[i]]);
    weight += w;
  }
  return { loss: sum / weight, weight };
}

describe('class-weighted cross-entropy, in-process engine', () => {
  it.each([1, 2])('a step computes the weighted loss and its gradient (micro-batches: %d)', async (micro) => {
    const model = tinySegmenter({ classes: CLASSES, size: SIZE, batchNorm: false });
    const capture = new GradientCapture();
    const engine = engineFor(model, {
      optimizer: capture.asAdam(),
      classWeights: WEIGHTS,
      microBatches: micro,
    });
    const b = skewedBatch(1);
    const direct = weightedReference({
      logits: trainingView(model).forward,
      trainable: model.trainableWeights,
      shards: [b],
      classWeights: WEIGHTS,
      ignore: IGNORE,
    });
    const r = await engine.trainStep(b);
    expect(Math.abs(r.loss - direct.loss) / direct.loss).toBeLessThan(1e-5);
    expect(Math.abs(r.loss - referenceLoss(model, b, WEIGHTS).loss) / direct.loss).toBeLessThan(1e-5);
    expect(maxRelativeDifference(capture.inOrder(model), direct.grads)).toBeLessThan(1e-5);
    // Unweighted, the loss and gradient are other numbers, far outside the tolerances: the test sees the weights.
    const plain = weightedReference({
      logits: trainingView(model).forward,
      trainable: model.trainableWeights,
      shards: [b],
      classWeights: [1, 1, 1],
      ignore: IGNORE,
    });
    expect(Math.abs(r.loss - plain.loss) / direct.loss).toBeGreaterThan(1e-3);
    expect(maxRelativeDifference(capture.inOrder(model), plain.grads)).toBeGreaterThan(0.05);
    await engine.dispose();
    model.dispose();
  });

  it('without class weights the step is exactly the unweighted one (all-ones weights give the same bits)', async () => {
    const b = skewedBatch(2);
    const runs: { losses: number[]; weights: Float32Array[]; evalLoss: number }[] = [];
    for (const classWeights of [undefined, [1, 1, 1]]) {
      const model = tinySegmenter({ classes: CLASSES, size: SIZE, batchNorm: true });
      const engine = engineFor(model, {
        ...(classWeights === undefined ? {} : { classWeights }),
        microBatches: 2,
      });
      const losses = [(await engine.trainStep(b)).loss, (await engine.trainStep(b)).loss];
      const evalLoss = (await engine.evalStep(b)).loss;
      runs.push({ losses, weights: weightsOf(model), evalLoss });
      await engine.dispose();
      model.dispose();
    }
    expect(runs[1].losses).toEqual(runs[0].losses);
    expect(runs[1].evalLoss).toBe(runs[0].evalLoss);
    expect(maxRelativeDifference(runs[1].weights, runs[0].weights)).toBe(0);
  });

  it('a class of weight 0 counts in neither the train loss nor the train accuracy, but validation measures it', async () => {
    const model = tinySegmenter({ classes: CLASSES, size: SIZE, batchNorm: false });
    const weights = [1, 3, 0];
    const engine = engineFor(model, { classWeights: weights });
    const b = randomBatch({ n: 2, size: SIZE, labelMax: IGNORE, seed: 3 });
    const of = (c: number) => Array.from(b.y).filter((y) => y === c).length;
    const ref = referenceLoss(model, b, weights);
    const e = await engine.evalStep(b);
    expect(e.pixels).toBe(of(0) + of(1) + of(2));
    expect(e.lossWeight).toBe(of(0) + 3 * of(1));
    expect(Math.abs(e.loss - ref.loss) / ref.loss).toBeLessThan(1e-5);
    const row2 = e.confusion.slice(2 * CLASSES, 3 * CLASSES).reduce((a, v) => a + v, 0);
    expect(row2).toBe(of(2));
    const t = await engine.trainStep(b);
    expect(t.pixels).toBe(of(0) + of(1));
    expect(Math.abs(t.loss - ref.loss) / ref.loss).toBeLessThan(1e-5);
    await engine.dispose();
    model.dispose();
  });

  it('keeps the tensor count flat from step to step', async () => {
    const model = tinySegmenter({ classes: CLASSES, size: SIZE, batchNorm: true });
    const engine = engineFor(model, { classWeights: WEIGHTS });
    await engine.trainStep(skewedBatch(4));
    const tensors = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      await engine.trainStep(skewedBatch(5 + i));
      await engine.evalStep(sliceBatch(skewedBatch(9), 0, 2));
    }
    expect(tf.memory().numTensors).toBe(tensors);
    await engine.dispose();
    model.dispose();
  });

  it('refuses weights that do not fit the classes', () => {
    const model = tinySegmenter({ classes: CLASSES, size: SIZE, batchNorm: false });
    const make = (classWeights: number[]) =>
      new InProcessEngine({
        model,
        learningRate: 0.01,
        numClasses: CLASSES,
        ignoreIndex: IGNORE,
        classWeights,
      });
    expect(() => make([1, 2])).toThrow(/classWeights must be 3 finite non-negative numbers/);
    expect(() => make([1, -1, 2])).toThrow(/non-negative/);
    model.dispose();
  });
});
