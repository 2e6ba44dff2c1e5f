/**
 * The preflight's timed warm steps leave no trace: after them the weights (BatchNorm statistics included) and the
 * Adam state are what they were, bit for bit, the next real steps give what they would have given without the
 * warm-up (from a fresh optimizer and from one with moments), and no tensor is left behind.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/select';
import { InProcessEngine } from '../../src/training/engine/in-process';
import { adamCounters } from '../../src/training/engine/step';
import { timeWarmSteps } from '../../src/training/warm-steps';
import { randomBatch, tinySegmenter } from '../engine/tiny-model';

const SIZE = 8;

beforeAll(async () => {
  await initBackend({ force: 'wasm', env: {} });
});

function engine(): InProcessEngine {
  return new InProcessEngine({
    model: tinySegmenter({ classes: 3, size: SIZE, batchNorm: true }),
    learningRate: 0.01,
    numClasses: 3,
    ignoreIndex: null,
  });
}

const batch = (seed: number) => randomBatch({ n: 2, size: SIZE, labelMax: 2, seed });
const weights = (e: InProcessEngine): Float32Array[] =>
  e.getModel().weights.map((w) => Float32Array.from(w.read().dataSync() as Float32Array));

/** Two steps, the warm steps if asked (checking what they leave), two more steps: the weights. */
async function run(warmUp: boolean): Promise<Float32Array[]> {
  const e = engine();
  try {
    await e.trainStep(batch(1));
    await e.trainStep(batch(2));
    if (warmUp) {
      const before = weights(e);
      const counters = adamCounters(e.getOptimizer() as tf.AdamOptimizer);
      const tensors = tf.memory().numTensors;
      const estimate = await timeWarmSteps({ engine: e, batchSize: 2 });
      expect(estimate.stepSeconds).toBeGreaterThan(0);
      expect(estimate.timedSteps).toBe(2);
      expect(weights(e)).toEqual(before);
      expect(adamCounters(e.getOptimizer() as tf.AdamOptimizer)).toEqual(counters);
      expect(tf.memory().numTensors).toBe(tensors);
    }
    await e.trainStep(batch(3));
    await e.trainStep(batch(4));
    return weights(e);
  } finally {
    await e.dispose();
    e.getModel().dispose();
  }
}

describe('timeWarmSteps', () => {
  it('puts the weights and the optimizer back: the next steps are those of a run without it', async () => {
    const plain = await run(false);
    expect(await run(true)).toEqual(plain);
  });

  it('from a fresh optimizer (no moments yet) too', async () => {
    const withWarmUp = async (warm: boolean): Promise<Float32Array[]> => {
      const e = engine();
      try {
        if (warm) {
          await timeWarmSteps({ engine: e, batchSize: 2 });
          expect(adamCounters(e.getOptimizer() as tf.AdamOptimizer).iterations).toBe(0);
        }
        await e.trainStep(batch(1));
        await e.trainStep(batch(2));
        return weights(e);
      } finally {
        await e.dispose();
        e.getModel().dispose();
      }
    };
    expect(await withWarmUp(true)).toEqual(await withWarmUp(false));
  });
});
