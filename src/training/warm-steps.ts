/**
 * The time-per-epoch estimate of the preflight: a couple of training steps timed on this machine and engine, on a
 * synthetic batch of the train batch's shape (a step's cost does not depend on the pixel values), after one
 * untimed step that warms the kernels up. The weights (BatchNorm statistics included) and the optimizer are put
 * back exactly as they were, so the run is the one it would have been without the estimate (the seed and resume
 * tests run through this). It counts the steps only: loading that the steps wait for, validation and
 * checkpoints are not in it.
 */
import * as tf from '@tensorflow/tfjs';
import { mulberry32 } from '../util/random';
import { restoreAdam, snapshotAdam } from './engine/step';
import type { Batch, TrainEngine } from './engine/types';

export interface StepTimeEstimate {
  /** Mean seconds per timed step. */
  stepSeconds: number;
  timedSteps: number;
}

/** A batch of `n` seeded images of the model's input shape, every pixel labelled class 0. */
export function syntheticBatch(model: tf.LayersModel, n: number): Batch {
  const [, height, width, channels] = model.inputs[0].shape as number[];
  const random = mulberry32(0x5eed);
  const x = new Float32Array(n * height * width * channels);
  for (let i = 0; i < x.length; i++) x[i] = random() * 4 - 2;
  return { x, y: new Int32Array(n * height * width), n, height, width };
}

export async function timeWarmSteps(opts: {
  engine: TrainEngine;
  batchSize: number;
  timedSteps?: number;
  now?: () => number;
}): Promise<StepTimeEstimate> {
  const { engine } = opts;
  const now = opts.now ?? (() => performance.now());
  const timedSteps = Math.max(1, opts.timedSteps ?? 2);
  const model = engine.getModel();
  const optimizer = engine.getOptimizer();
  if (!(optimizer instanceof tf.AdamOptimizer))
    throw new Error('the warm steps restore an Adam optimizer only');
  const batch = syntheticBatch(model, opts.batchSize);
  // Clones keep the values: a step reassigns the variables to new tensors.
  const weights = model.weights.map((w) => tf.clone(w.read()));
  const adam = await snapshotAdam(optimizer);
  try {
    await engine.trainStep(copyBatch(batch));
    const start = now();
    for (let i = 0; i < timedSteps; i++) await engine.trainStep(copyBatch(batch));
    return { stepSeconds: (now() - start) / 1000 / timedSteps, timedSteps };
  } finally {
    model.weights.forEach((w, i) => w.write(weights[i]));
    tf.dispose(weights);
    await restoreAdam(optimizer, adam);
  }
}

/** Engines may hand a batch's buffers to other threads: each step gets its own. */
function copyBatch(b: Batch): Batch {
  return { ...b, x: b.x.slice(), y: b.y.slice() };
}
