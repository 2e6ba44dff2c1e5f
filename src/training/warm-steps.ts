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
import type { Signature, Tensor } from '../network/tensors';
import { sliceBatch } from './engine/batch';
import type { Batch, TrainEngine } from './engine/types';

export interface StepTimeEstimate {
  /** Mean seconds per timed step. */
  stepSeconds: number;
  timedSteps: number;
}

/** A batch of `n` seeded samples of each of the network's inputs, every output pixel labelled class 0. */
export function syntheticBatch(signature: Signature, n: number): Batch {
  const random = mulberry32(0x5eed);
  const inputs: Record<string, Tensor> = {};
  for (const spec of signature.inputs) {
    const shape = [n, ...(spec.shape as number[])];
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = random() * 4 - 2;
    inputs[spec.name] = { data, shape };
  }
  const [height, width] = signature.outputs[0].shape as number[];
  return { inputs, labels: { data: new Int32Array(n * height * width), shape: [n, height, width] } };
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
  const batch = syntheticBatch(engine.signature, opts.batchSize);
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
  return sliceBatch(b, 0, b.labels.shape[0]);
}
