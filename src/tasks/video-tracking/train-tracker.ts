/**
 * The tracker's training loop (notes §2.4): batches of three-frame clips, Adam on the encoder and decoder
 * together through the matching, the learning rate cosine-decayed to a tenth, and a validation callback every
 * `validateEvery` steps. Tensors are freed each step (`tf.memory().numTensors` stays flat; tested).
 */
import * as tf from '@tensorflow/tfjs';
import type { Preprocessing } from '../../network/types';
import type { LrScheduleConfig } from '../../task/config-types';
import { scheduledLearningRate } from '../../training/lr-schedule';
import { mulberry32, type Random } from '../../util/random';
import { packClips, type TrainingClip } from './clip-batch';
import { MATCH_STRIDE, windowPenalty } from './matching';
import { clipLoss } from './tracker-loss';

export interface TrackerModels {
  encoder: tf.LayersModel;
  decoder: tf.LayersModel;
}

export interface TrackerStep {
  step: number;
  steps: number;
  loss: number;
  /** Mean IoU of the thresholded predictions of the batch's frames 1 and 2. */
  iou: number;
  learningRate: number;
  clipsPerSecond: number;
}

export interface TrainTrackerOptions {
  models: TrackerModels;
  preprocessing: Preprocessing;
  steps: number;
  batchSize: number;
  /** Training clips' size (multiples of 8). */
  clipSize: { width: number; height: number };
  learningRate: number;
  localRadius: number;
  seed: number;
  /** A training clip of that size, drawn with the given generator. */
  nextClip: (rand: Random, size: { width: number; height: number }) => TrainingClip | Promise<TrainingClip>;
  /** Steps already done (a resumed run starts there). */
  startStep?: number;
  optimizer?: tf.AdamOptimizer;
  onStep?: (s: TrackerStep) => void | Promise<void>;
  /** Called every `validateEvery` steps and after the last. */
  validateEvery?: number;
  onValidate?: (step: number) => Promise<void>;
  shouldStop?: () => boolean;
}

/** Cosine decay from lr to lr/10 over the run, no warmup. */
export const TRACKER_SCHEDULE: LrScheduleConfig = {
  name: 'cosine',
  warmup_steps: 0,
  min_lr_ratio: 0.1,
  power: 0.9,
};

export function learningRateAt(lr: number, step: number, steps: number): number {
  return scheduledLearningRate(lr, TRACKER_SCHEDULE, step, steps);
}

export async function trainTracker(
  opts: TrainTrackerOptions,
): Promise<{ steps: number; optimizer: tf.AdamOptimizer }> {
  const { width, height } = opts.clipSize;
  if (width % MATCH_STRIDE !== 0 || height % MATCH_STRIDE !== 0) {
    throw new Error(`clip size ${width}x${height} is not a multiple of ${MATCH_STRIDE}`);
  }
  const [w8, h8] = [width / MATCH_STRIDE, height / MATCH_STRIDE];
  const penalty = tf.tensor2d(windowPenalty(h8, w8, opts.localRadius), [h8 * w8, h8 * w8]);
  const optimizer = opts.optimizer ?? tf.train.adam(opts.learningRate);
  const rand = mulberry32(opts.seed);
  const parts = { ...opts.models, localRadius: opts.localRadius };
  let step = opts.startStep ?? 0;
  try {
    while (step < opts.steps) {
      if (opts.shouldStop?.() === true) break;
      const started = Date.now();
      const clips: TrainingClip[] = [];
      for (let i = 0; i < opts.batchSize; i++) clips.push(await opts.nextClip(rand, opts.clipSize));
      const batch = packClips(clips, opts.preprocessing, rand);
      if (batch === null) continue;
      const lr = learningRateAt(opts.learningRate, step, opts.steps);
      // tfjs's Adam reads its learning rate on each step.
      (optimizer as unknown as { learningRate: number }).learningRate = lr;
      let iou = 0;
      const cost = optimizer.minimize(() => {
        const r = clipLoss(parts, batch, penalty, true);
        iou = r.iou.dataSync()[0];
        return r.loss;
      }, true) as tf.Scalar;
      const loss = (await cost.data())[0];
      cost.dispose();
      step += 1;
      await opts.onStep?.({
        step,
        steps: opts.steps,
        loss,
        iou,
        learningRate: lr,
        clipsPerSecond: (batch.n * 1000) / Math.max(1, Date.now() - started),
      });
      if (opts.validateEvery !== undefined && step % opts.validateEvery === 0 && step < opts.steps) {
        await opts.onValidate?.(step);
      }
    }
    if (step >= opts.steps) await opts.onValidate?.(step);
  } finally {
    penalty.dispose();
  }
  return { steps: step, optimizer };
}
