/**
 * Exact resume (continue_training from a checkpoint that has training_state.json): what a checkpoint records of
 * the run (`captureTrainingState`), and whether and where a new run goes on from it (`planResume`).
 *
 * Every engine (tfjs in-process, tfjs data-parallel, onnxruntime) steps one tfjs Adam on the main thread (the
 * workers and the ONNX graph only compute gradients), so the optimizer state is that Adam's: its moments in
 * weights.bin, its counters here. The random streams (shuffle, flips, the click task's simulated clicks) are
 * functions of (seed, epoch, sample index), so the data position restores them too.
 *
 * What does not fit:
 * - optimizer state that does not belong to the weights (another iteration count, moments of other shapes,
 *   moments missing) fails the task (a model error naming the file and the field): the network is the same (its
 *   weights loaded), so such a checkpoint is damaged or mixed up, and going on with fresh moments would quietly
 *   not be the resume that was asked for;
 * - another seed, other data, another train batch size: the data position means nothing any more. The weights
 *   and Adam's moments are still good, so the run goes on as continue_training always did (epochs from 0), with a
 *   warning naming the field. Those are changes a user makes on purpose.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { configError, modelError } from '../errors';
import { OPTIMIZER_GROUP, WEIGHTS_FILE } from '../network/model-files';
import {
  parseTrainingState,
  TRAINING_STATE_FILE,
  TRAINING_STATE_FORMAT,
  TRAINING_STATE_VERSION,
  type TrainingStateJson,
} from '../model-state/training-state';
import type { Logger } from '../protocol/logger';
import { displayPath, type TaskPaths } from '../task/paths';
import { readRegularFile } from '../util/regular-file';
import type { EpochPosition } from './data/fold-batches';
import { adamCounters, adamMomentShapes, restoreAdamAccumulators } from './engine/step';
import type { EvalPlannerState } from './planner';
import type { RunState } from './trainer';

/** How each random stream of a run is drawn (recorded for people; the code is the authority). */
export const RANDOM_STREAMS: Readonly<Record<string, string>> = {
  shuffle: 'mulberry32(mixSeed(seed, epoch)): the order of each epoch (training/shuffle.ts)',
  augmentation:
    'mulberry32(mixSeed(seed, epoch, sample index[, stream])): the flips, and the scale, crop and colour ' +
    'jitter of native resolution, of each sample (data/sample.ts)',
  task: "the task's own per-sample streams, from (seed, epoch, sample index) (e.g. the click task's clicks)",
};

/** Reads model/training_state.json; undefined when the checkpoint has none (older ones). */
export async function readTrainingState(
  modelDir: string,
  displayName: string,
): Promise<TrainingStateJson | undefined> {
  let text: string;
  try {
    // A user's file: a FIFO or device in its place must not hang the task (readRegularFile refuses them).
    text = await readRegularFile(path.join(modelDir, TRAINING_STATE_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw modelError(`cannot be read: ${(e as Error).message}`, { file: displayName }, e);
  }
  return parseTrainingState(text, displayName);
}

export interface CaptureOptions {
  run: Pick<RunState, 'globalStep' | 'totalSteps' | 'epochs' | 'itersPerEpoch' | 'epochFloat'>;
  train: EpochPosition;
  valCorrupted: readonly number[];
  batchSize: number;
  trainItems: number;
  planner: EvalPlannerState;
  bestLoss: number | null;
  /** For a run whose best is the highest score (the tracker's J&F), not the lowest loss. */
  bestScore?: { metric: string; value: number };
  /**
   * The Adam that steps the network, or one per sub-folder of the checkpoint (the tracker's encoder and decoder,
   * stepped together: their counters are the same).
   */
  optimizer: tf.AdamOptimizer | Readonly<Record<string, tf.AdamOptimizer>>;
  seed: number;
  dataSha256: string;
  engine: string;
  /** How the run's random streams are drawn, when not the semantic path's (RANDOM_STREAMS). */
  randomStreams?: Readonly<Record<string, string>>;
}

/** Adam's tensors in weights.bin: the iteration count, then m and v per trainable weight once it has stepped. */
function adamTensors(optimizer: tf.AdamOptimizer): number {
  return 1 + adamMomentShapes(optimizer).length * 2;
}

/** The run's state after its last step, as training_state.json records it. */
export function captureTrainingState(opts: CaptureOptions): TrainingStateJson {
  const { run, train } = opts;
  const single = opts.optimizer instanceof tf.AdamOptimizer;
  const optimizers: [string, tf.AdamOptimizer][] = single
    ? [['', opts.optimizer as tf.AdamOptimizer]]
    : Object.entries(opts.optimizer as Readonly<Record<string, tf.AdamOptimizer>>);
  const adam = adamCounters(optimizers[0][1]);
  for (const [folder, o] of optimizers) {
    const c = adamCounters(o);
    if (c.iterations !== adam.iterations || c.accBeta1 !== adam.accBeta1 || c.accBeta2 !== adam.accBeta2) {
      throw new Error(`the Adam of ${folder} has not stepped with the others (${c.iterations} iterations)`);
    }
  }
  return {
    format: TRAINING_STATE_FORMAT,
    version: TRAINING_STATE_VERSION,
    global_step: run.globalStep,
    total_steps: run.totalSteps,
    epochs: run.epochs,
    iters_per_epoch: run.itersPerEpoch,
    epoch_float: run.epochFloat,
    seed: opts.seed,
    data_sha256: opts.dataSha256,
    optimizer: {
      kind: 'adam',
      learning_rate: adam.learningRate,
      beta1: adam.beta1,
      beta2: adam.beta2,
      epsilon: adam.epsilon,
      iterations: adam.iterations,
      acc_beta1: adam.accBeta1,
      acc_beta2: adam.accBeta2,
      // The iteration count, then m and v per trainable weight once the first step has made them.
      moments: {
        file: WEIGHTS_FILE,
        group: OPTIMIZER_GROUP,
        tensors: optimizers.reduce((n, [, o]) => n + adamTensors(o), 0),
        ...(single ? {} : { folders: optimizers.map(([folder]) => folder) }),
      },
    },
    data: {
      shuffle_seed: opts.seed,
      epoch: train.epoch,
      batches_done: train.batchesDone,
      batch_size: opts.batchSize,
      train_items: opts.trainItems,
      corrupted_before_epoch: [...train.corruptedBefore],
      skipped_in_epoch: [...train.skippedInEpoch],
      val_corrupted: [...opts.valCorrupted],
    },
    random_streams: { ...(opts.randomStreams ?? RANDOM_STREAMS) },
    validation: {
      performed: opts.planner.performed,
      best_loss: opts.bestLoss,
      ...(opts.bestScore === undefined ? {} : { best_score: { ...opts.bestScore } }),
    },
    engine: opts.engine,
  };
}

/** Where a resumed run starts: what the trainer, the data reader, the planner and the checkpoints take. */
export interface ResumePoint {
  startStep: number;
  train: EpochPosition;
  valCorrupted: readonly number[];
  planner: EvalPlannerState;
  bestLoss: number | null;
  /** Checkpoints the best-so-far record has seen (best_now goes on from them). */
  seenCheckpoints: number;
}

export type ResumePlan =
  | { kind: 'exact'; point: ResumePoint; state: TrainingStateJson }
  /** Weights (and Adam's moments) only, as before this file existed; `warn` when the state was refused. */
  | { kind: 'from-start'; reason: string; warn: boolean };

/** What of the new run decides whether a checkpoint's run can go on in it. */
export interface ResumeRun {
  seed: number;
  dataSha256: string;
  trainItems: number;
  batchSize: number;
  itersPerEpoch: number;
  epochs: number;
}

/**
 * Whether a run of this plan can go on exactly from `state`, and from where. `file` names training_state.json
 * in messages; the config is task_config.json.
 */
export function planResume(opts: ResumeRun & { state: TrainingStateJson; file: string }): ResumePlan {
  const { state, file } = opts;
  if (state.global_step >= state.total_steps) {
    return {
      kind: 'from-start',
      warn: false,
      reason: `the checkpoint's run had finished (${file}: step ${state.global_step} of ${state.total_steps}): a new run starts at epoch 0 from its weights and optimizer state`,
    };
  }
  const differs: [field: string, was: unknown, now: unknown][] = [
    ['seed', state.seed, opts.seed],
    ['data_sha256', state.data_sha256, opts.dataSha256],
    ['data.train_items', state.data.train_items, opts.trainItems],
    ['data.batch_size', state.data.batch_size, opts.batchSize],
    ['iters_per_epoch', state.iters_per_epoch, opts.itersPerEpoch],
  ];
  const changed = differs.find(([, was, now]) => was !== now);
  if (changed !== undefined) {
    const [field, was, now] = changed;
    return {
      kind: 'from-start',
      warn: true,
      reason:
        `${file}: field "${field}" is ${JSON.stringify(was)} in the checkpoint and ${JSON.stringify(now)} ` +
        'in this run, so its data order cannot go on: training starts at epoch 0 from the weights and the ' +
        'optimizer state (not an exact resume)',
    };
  }
  const total = opts.epochs * opts.itersPerEpoch;
  if (state.global_step >= total) {
    throw configError(
      `the checkpoint stopped at epoch ${state.epoch_float} (step ${state.global_step}), and epochs = ` +
        `${opts.epochs} (${total} steps) leaves nothing to train: raise epochs to continue it`,
      { file: 'task_config.json', field: 'epochs' },
    );
  }
  return {
    kind: 'exact',
    state,
    point: {
      startStep: state.global_step,
      train: {
        epoch: state.data.epoch,
        batchesDone: state.data.batches_done,
        corruptedBefore: state.data.corrupted_before_epoch,
        skippedInEpoch: state.data.skipped_in_epoch,
      },
      valCorrupted: state.data.val_corrupted,
      planner: { performed: state.validation.performed },
      bestLoss: state.validation.best_loss,
      seenCheckpoints: state.validation.performed,
    },
  };
}

/**
 * The optimizer as restored from weights.bin must be the one training_state.json describes: the same iteration
 * count, one m and v per trainable weight of its shape. Then beta^t is set to the recorded values.
 */
export function restoreOptimizerForResume(opts: {
  state: TrainingStateJson;
  optimizer: tf.AdamOptimizer;
  trainable: readonly { name: string; shape: readonly (number | null)[] }[];
  restored: boolean;
  file: string;
  weightsFile: string;
}): void {
  const { state, optimizer, file } = opts;
  const recorded = state.optimizer;
  if (recorded.iterations > 0 && !opts.restored) {
    throw modelError(
      `records ${recorded.iterations} optimizer steps, but ${opts.weightsFile} holds no optimizer state ` +
        '(its "optimizer" group): the checkpoint is incomplete. Start with transfer_learning, or remove ' +
        `${TRAINING_STATE_FILE} to continue with a fresh optimizer`,
      { file, field: 'optimizer.moments' },
    );
  }
  const iterations = adamCounters(optimizer).iterations;
  if (iterations !== recorded.iterations) {
    throw modelError(
      `records ${recorded.iterations} optimizer steps, but the optimizer state in ${opts.weightsFile} has ` +
        `${iterations}: the two files are not of the same checkpoint`,
      { file, field: 'optimizer.iterations' },
    );
  }
  const shapes = adamMomentShapes(optimizer);
  if (recorded.iterations > 0) {
    const bad =
      shapes.length !== opts.trainable.length
        ? `${shapes.length} moments for ${opts.trainable.length} trainable weights`
        : opts.trainable
            .map((w, i) => ({ w, s: shapes[i] }))
            .filter(({ w, s }) => s.join('x') !== w.shape.join('x'))
            .map(({ w, s }) => `${w.name}: moment [${s.join(', ')}], weight [${w.shape.join(', ')}]`)[0];
    if (bad !== undefined) {
      throw modelError(
        `the optimizer moments in ${opts.weightsFile} do not fit the network (${bad}): continue_training ` +
          'needs the network the checkpoint was trained as',
        { file, field: 'optimizer.moments' },
      );
    }
  }
  restoreAdamAccumulators(optimizer, { accBeta1: recorded.acc_beta1, accBeta2: recorded.acc_beta2 });
}

/**
 * continue_training from a checkpoint with training_state.json in model/: whether the run goes on exactly where
 * it stopped, and from where (planResume). Undefined for the other starts and for checkpoints without the file.
 */
export async function readResumePlan(
  opts: ResumeRun & { paths: TaskPaths; weightsInitType: string },
): Promise<ResumePlan | undefined> {
  const { paths, weightsInitType, ...plan } = opts;
  if (weightsInitType !== 'continue_training') return undefined;
  const file = displayPath(paths, path.join(paths.model, TRAINING_STATE_FILE));
  const state = await readTrainingState(paths.model, file);
  if (state === undefined) return undefined;
  return planResume({ state, file, ...plan });
}

/**
 * Says how the run starts (one line: resuming exactly, or the optimizer state restored or fresh and why), and
 * for an exact resume first has `checkOptimizer` check the restored optimizer(s) against training_state.json
 * (restoreOptimizerForResume). Returns where a resumed run goes on.
 */
export function startOfRun(opts: {
  resume: ResumePlan | undefined;
  /** Whether the checkpoint's optimizer state was loaded. */
  restoredOptimizer: boolean;
  continueTraining: boolean;
  logger: Logger;
  /** Checks the restored optimizer state against the exact resume's training_state.json (throws if it is not). */
  checkOptimizer: (state: TrainingStateJson, file: string) => void;
  paths: TaskPaths;
}): ResumePoint | undefined {
  const { resume, logger } = opts;
  const optimizerState = opts.restoredOptimizer ? 'restored from the checkpoint' : 'fresh';
  if (resume?.kind === 'exact') {
    const { state, point } = resume;
    opts.checkOptimizer(state, displayPath(opts.paths, path.join(opts.paths.model, TRAINING_STATE_FILE)));
    logger.info('Resuming training exactly where the checkpoint stopped.', {
      global_step: point.startStep,
      epoch: state.epoch_float,
      optimizer_iterations: state.optimizer.iterations,
      validations_done: point.planner.performed,
      trained_by: state.engine,
    });
    return point;
  }
  const reason =
    resume?.reason ??
    (opts.continueTraining
      ? `the model has no ${TRAINING_STATE_FILE} (an older checkpoint): training starts at epoch 0`
      : 'training starts at epoch 0');
  if (resume?.warn === true)
    logger.warn('Not resuming exactly.', { reason, optimizer_state: optimizerState });
  else logger.info(`The optimizer state is ${optimizerState}.`, { reason, optimizer_state: optimizerState });
  return undefined;
}
