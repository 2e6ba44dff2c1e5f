/**
 * @jest-environment ./test/onnx/ort-environment.js
 */
/**
 * The class-weighted loss in every engine on a U-Net (BatchNorm in training mode, the neutral class ignored):
 * the loss and the gradient of one step of the tfjs in-process, the data-parallel (worker threads) and the
 * onnxruntime engines against a direct computation (test/engine/weighted-reference.ts), the same train
 * accuracy everywhere (onnxruntime counts a hit as 1 whatever its weight), and the same weighted validation loss.
 * Runs the compiled worker, plugin and session thread (`npm run build` first).
 */
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { initBackend } from '../../src/backend/select';
import { loadNetworkPlugin } from '../../src/network/load-plugin';
import { sliceBatch } from '../../src/training/engine/batch';
import { DataParallelEngine } from '../../src/training/engine/data-parallel';
import { InProcessEngine } from '../../src/training/engine/in-process';
import { trainingView } from '../../src/training/engine/loss';
import type { ReplicaSpec } from '../../src/training/engine/messages';
import { OnnxTrainEngine } from '../../src/training/engine/onnx-engine';
import type { Batch, TrainEngine } from '../../src/training/engine/types';
import { DIST, ensureBuilt } from './built';
import { maxRelativeDifference, randomBatch, seedWeights } from './tiny-model';
import { GradientCapture, weightedReference } from './weighted-reference';

const SIZE = 16;
const CLASSES = 3;
const IGNORE = 3;
const WEIGHTS = [0.5, 2, 4];
const SPEC: ReplicaSpec = {
  pluginModule: path.join(DIST, 'plugin/unet/index.js'),
  buildOptions: {
    inputSize: { height: SIZE, width: SIZE },
    numClasses: CLASSES,
    settings: { depth: 2, base_filters: 4, max_filters: 8 },
  },
};

beforeAll(async () => {
  ensureBuilt();
  await initBackend({ force: 'wasm', env: {} });
});

/** The same seeded U-Net every call. */
function unet(): tf.LayersModel {
  const plugin = loadNetworkPlugin(SPEC.pluginModule);
  const model = plugin.build({
    ...SPEC.buildOptions,
    settings: plugin.parseSettings(SPEC.buildOptions.settings),
  });
  seedWeights(model, 11);
  return model;
}

/** Four samples, the first all class 2 (the heaviest): the two shards differ in weight per pixel. */
function skewedBatch(seed: number): Batch {
  const b = randomBatch({ n: 4, size: SIZE, labelMax: IGNORE, seed });
  b.y.fill(2, 0, SIZE * SIZE);
  return b;
}

type Kind = 'in-process' | 'in-process, 2 micro-batches' | 'data-parallel' | 'onnxruntime';

async function engine(
  kind: Kind,
  model: tf.LayersModel,
  classWeights: number[],
  optimizer: tf.AdamOptimizer,
) {
  const common = {
    model,
    learningRate: 0.01,
    optimizer,
    numClasses: CLASSES,
    ignoreIndex: IGNORE,
    classWeights,
  };
  switch (kind) {
    case 'in-process':
      return new InProcessEngine(common);
    case 'in-process, 2 micro-batches':
      return new InProcessEngine({ ...common, microBatches: 2 });
    case 'data-parallel':
      return DataParallelEngine.create({ ...common, replica: SPEC, workers: 1 });
    case 'onnxruntime':
      return OnnxTrainEngine.create({ ...common, ort, threads: 1 });
  }
}

/** Shards as each engine cuts the batch: BatchNorm's batch statistics are per shard. */
const SHARDS: Record<Kind, number> = {
  'in-process': 1,
  'in-process, 2 micro-batches': 2,
  'data-parallel': 2,
  onnxruntime: 1,
};

describe('class-weighted cross-entropy in every engine', () => {
  const kinds: Kind[] = ['in-process', 'in-process, 2 micro-batches', 'data-parallel', 'onnxruntime'];

  it.each(kinds)('%s: the loss and the gradient of a step match the direct computation', async (kind) => {
    const b = skewedBatch(1);
    const shards = SHARDS[kind] === 1 ? [b] : [sliceBatch(b, 0, 2), sliceBatch(b, 2, 2)];
    const refModel = unet();
    const direct = weightedReference({
      logits: trainingView(refModel).forward,
      trainable: refModel.trainableWeights,
      shards,
      classWeights: WEIGHTS,
      ignore: IGNORE,
    });
    const model = unet();
    const capture = new GradientCapture();
    const e: TrainEngine = await engine(kind, model, WEIGHTS, capture.asAdam());
    const r = await e.trainStep(b);
    expect(Math.abs(r.loss - direct.loss) / direct.loss).toBeLessThan(1e-5);
    // Measured: at most 6e-6 of each tensor's largest gradient (onnxruntime), 3e-6 (tfjs).
    expect(maxRelativeDifference(capture.inOrder(model), direct.grads)).toBeLessThan(1e-5);
    await e.dispose();
    model.dispose();
    refModel.dispose();
  });

  it('all engines agree on the step, the train accuracy (weight-0 class left out) and the weighted validation', async () => {
    const weights = [1, 3, 0];
    const b = randomBatch({ n: 4, size: SIZE, labelMax: IGNORE, seed: 5 });
    const results = [];
    for (const kind of kinds) {
      const model = unet();
      const capture = new GradientCapture();
      const e: TrainEngine = await engine(kind, model, weights, capture.asAdam());
      // Validation first, on the same weights everywhere (a step's moving statistics depend on the shards).
      const val = await e.evalStep(b);
      const train = await e.trainStep(b);
      results.push({ kind, train, val, grads: capture.inOrder(model) });
      await e.dispose();
      model.dispose();
    }
    const [base] = results;
    const of = (c: number) => Array.from(b.y).filter((y) => y === c).length;
    expect(base.train.pixels).toBe(of(0) + of(1));
    expect(base.val.lossWeight).toBe(of(0) + 3 * of(1));
    for (const r of results) {
      expect([r.kind, r.train.pixels]).toEqual([r.kind, base.train.pixels]);
      expect([r.kind, r.val.pixels, r.val.lossWeight]).toEqual([
        r.kind,
        of(0) + of(1) + of(2),
        base.val.lossWeight,
      ]);
      expect(Math.abs(r.val.loss - base.val.loss) / base.val.loss).toBeLessThan(1e-5);
    }
    // Same shards, same statistics: the whole-batch engines agree with each other, the two-shard ones too.
    const pairs: [number, number][] = [
      [0, 3],
      [1, 2],
    ];
    for (const [i, j] of pairs) {
      expect(Math.abs(results[i].train.loss - results[j].train.loss) / results[i].train.loss).toBeLessThan(
        1e-5,
      );
      expect(results[j].train.accuracy).toBe(results[i].train.accuracy);
      expect(maxRelativeDifference(results[j].grads, results[i].grads)).toBeLessThan(1e-5);
    }
  });
});
