/**
 * The tracker's training loop (notes §2.4): batches of three-frame clips, the encoder and decoder trained
 * together through the matching (one gradient, each model stepped by its own Adam, so each checkpoint folder
 * holds its model's moments), the learning rate cosine-decayed to a tenth, and a validation callback every
 * `validateEvery` steps. Tensors are freed each step (`tf.memory().numTensors` stays flat; tested).
 *
 * Resumable exactly: the clips and damage of step s are drawn from `clipRandom(seed, s, attempt)`, a function of
 * the step alone, and the rate from the step, so a run started at `startStep` with the optimizers restored goes
 * on as if it had never stopped.
 */
import * as tf from '@tensorflow/tfjs';
import { applyCpuKernelFixes } from '../../backend/cpu-kernels';
import type { Preprocessing } from '../../network/types';
import type { LrScheduleConfig } from '../../task/config-types';
import { scheduledLearningRate } from '../../training/lr-schedule';
import { preciseBatchNorm } from '../../training/precise-bn';
import { yieldToEventLoop } from '../../training/trainer';
import { mixSeed, mulberry32, type Random } from '../../util/random';
import { packClips, type ClipBatch, type TrainingClip } from './clip-batch';
import { MATCH_STRIDE, windowPenalty } from './matching';
import { clipLoss } from './tracker-loss';

export interface TrackerModels {
  encoder: tf.LayersModel;
  decoder: tf.LayersModel;
}

/** One Adam per model: the moments of each model's weights, saved beside them. */
export interface TrackerOptimizers {
  encoder: tf.AdamOptimizer;
  decoder: tf.AdamOptimizer;
}

export function trackerOptimizers(learningRate: number): TrackerOptimizers {
  return { encoder: tf.train.adam(learningRate), decoder: tf.train.adam(learningRate) };
}

/**
 * The random stream of step `step` (0-based: the step about to run): its clips and their damage. `attempt`
 * counts batches of that step dropped as unusable (no object in any clip).
 */
export function clipRandom(seed: number, step: number, attempt: number): Random {
  return mulberry32(mixSeed(seed, 0x636c6970, step, attempt));
}

/** How the clip stream is drawn, for training_state.json. */
export const TRACKER_RANDOM_STREAMS: Readonly<Record<string, string>> = {
  clips:
    'mulberry32(mixSeed(seed, 0x636c6970, step, attempt)): the clips of each step, their source and their ' +
    'damaged masks (video-tracking/train-tracker.ts)',
  precise_bn:
    'mulberry32(mixSeed(seed, 0x70626e, step, batch * 1000 + attempt)): the clips of precise BN before the ' +
    'validation at step (video-tracking/train-tracker.ts)',
};

/** Local matching's window penalty for clips of that size, as a tensor (the caller disposes it). */
function penaltyFor(clipSize: { width: number; height: number }, localRadius: number): tf.Tensor2D {
  const [w8, h8] = [clipSize.width / MATCH_STRIDE, clipSize.height / MATCH_STRIDE];
  return tf.tensor2d(windowPenalty(h8, w8, localRadius), [h8 * w8, h8 * w8]);
}

/** `batchSize` clips drawn with `rand`, packed; null when none has an object to track (draw again). */
async function drawBatch(
  rand: Random,
  opts: Pick<TrainTrackerOptions, 'batchSize' | 'clipSize' | 'preprocessing' | 'nextClip'>,
): Promise<ClipBatch | null> {
  const clips: TrainingClip[] = [];
  for (let i = 0; i < opts.batchSize; i++) clips.push(await opts.nextClip(rand, opts.clipSize));
  return packClips(clips, opts.preprocessing, rand);
}

/** The clips of precise BN's batches before the validation at `step` (apart from the training stream). */
export function preciseBnRandom(seed: number, step: number, batch: number): Random {
  return mulberry32(mixSeed(seed, 0x70626e, step, batch));
}

/**
 * Precise batch norm (training/precise-bn.ts) for the tracker before the validation at `step`: `batches` batches
 * of training clips, forward only. The clips come from their own random stream (preciseBnRandom), so the training
 * clips are the same with it or without, and a resumed run recomputes the same statistics. Returns the batch-norm
 * layers set and the batches run.
 */
export async function trackerPreciseBn(opts: {
  models: TrackerModels;
  preprocessing: Preprocessing;
  batches: number;
  batchSize: number;
  clipSize: { width: number; height: number };
  localRadius: number;
  seed: number;
  step: number;
  nextClip: TrainTrackerOptions['nextClip'];
  shouldStop?: () => boolean;
}): Promise<{ layers: number; batches: number }> {
  const penalty = penaltyFor(opts.clipSize, opts.localRadius);
  const parts = { ...opts.models, localRadius: opts.localRadius };
  try {
    return await preciseBatchNorm(
      [opts.models.encoder, opts.models.decoder],
      opts.batches,
      async (i) => {
        // Drawn until a batch has an object to track, as a training step does (a few tries at most in practice).
        for (let attempt = 0; ; attempt++) {
          const batch = await drawBatch(preciseBnRandom(opts.seed, opts.step, i * 1000 + attempt), opts);
          if (batch === null && attempt < 999) continue;
          if (batch !== null) {
            tf.tidy(() => {
              clipLoss(parts, batch, penalty, true);
            });
          }
          return;
        }
      },
      opts.shouldStop,
    );
  } finally {
    penalty.dispose();
  }
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
  /** How the learning rate moves over the run (default TRACKER_SCHEDULE). */
  schedule?: LrScheduleConfig;
  localRadius: number;
  seed: number;
  /** A training clip of that size, drawn with the given generator. */
  nextClip: (rand: Random, size: { width: number; height: number }) => TrainingClip | Promise<TrainingClip>;
  /** Steps already done (a resumed run starts there). */
  startStep?: number;
  /** The models' Adams (restored for a resumed run); fresh ones at `learningRate` if not given. */
  optimizers?: TrackerOptimizers;
  onStep?: (s: TrackerStep) => void | Promise<void>;
  /** Called every `validateEvery` steps and after the last. */
  validateEvery?: number;
  onValidate?: (step: number) => Promise<void>;
  shouldStop?: () => boolean;
}

/** The tracker's default: cosine decay from lr to lr/10 over the run, no warmup (the bundled tracker's stages). */
export const TRACKER_SCHEDULE: LrScheduleConfig = {
  name: 'cosine',
  warmup_steps: 0,
  min_lr_ratio: 0.1,
  power: 0.9,
};

export function learningRateAt(
  lr: number,
  step: number,
  steps: number,
  schedule: LrScheduleConfig = TRACKER_SCHEDULE,
): number {
  return scheduledLearningRate(lr, schedule, step, steps);
}

export async function trainTracker(
  opts: TrainTrackerOptions,
): Promise<{ steps: number; optimizers: TrackerOptimizers }> {
  const { width, height } = opts.clipSize;
  if (width % MATCH_STRIDE !== 0 || height % MATCH_STRIDE !== 0) {
    throw new Error(`clip size ${width}x${height} is not a multiple of ${MATCH_STRIDE}`);
  }
  applyCpuKernelFixes(); // non-square clips on the cpu backend (cpu-kernels.ts)
  const penalty = penaltyFor(opts.clipSize, opts.localRadius);
  const optimizers = opts.optimizers ?? trackerOptimizers(opts.learningRate);
  const parts = { ...opts.models, localRadius: opts.localRadius };
  // Each model's trainable variables, in its weights' order (the order its Adam's moments are kept in).
  const variables = (m: tf.LayersModel): tf.Variable[] =>
    m.trainableWeights.map((w) => w.read() as tf.Variable);
  const owned = { encoder: variables(opts.models.encoder), decoder: variables(opts.models.decoder) };
  let step = opts.startStep ?? 0;
  let attempt = 0;
  try {
    while (step < opts.steps) {
      // Generated clips come without I/O, so without this turn a SIGTERM's handler would wait for the next
      // validation (minutes) and the agent's stop would not be heard.
      await yieldToEventLoop();
      if (opts.shouldStop?.() === true) break;
      const started = Date.now();
      const batch = await drawBatch(clipRandom(opts.seed, step, attempt), opts);
      if (batch === null) {
        attempt += 1;
        continue;
      }
      attempt = 0;
      const lr = learningRateAt(opts.learningRate, step, opts.steps, opts.schedule);
      let iou = 0;
      const { value, grads } = tf.variableGrads(() => {
        const r = clipLoss(parts, batch, penalty, true);
        iou = r.iou.dataSync()[0];
        return r.loss as tf.Scalar;
      }, [...owned.encoder, ...owned.decoder]);
      for (const name of ['encoder', 'decoder'] as const) {
        const optimizer = optimizers[name];
        // tfjs's Adam reads its learning rate on each step.
        (optimizer as unknown as { learningRate: number }).learningRate = lr;
        optimizer.applyGradients(owned[name].map((v) => ({ name: v.name, tensor: grads[v.name] })));
      }
      tf.dispose(grads);
      const loss = (await value.data())[0];
      value.dispose();
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
  return { steps: step, optimizers };
}
