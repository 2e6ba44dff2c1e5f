/**
 * The training run's hooks, in their fixed order (house plan habit 2): the learning rate (when scheduled), the
 * epoch log, progress, the train
 * metrics line, the finite-loss check (a NaN or infinite train loss fails the run before validation and the
 * checkpoint of that step), validation, the checkpoint (which reads what validation wrote at the same step, and
 * fails the run on a non-finite val loss rather than write it), then the tensor count. Each is a small factory,
 * testable alone.
 */

import type { Logger } from '../../protocol/logger';
import type { LrScheduleConfig } from '../../task/config-types';
import type { EvalPlanner } from '../planner';
import type { MetricValues } from '../metrics';
import type { RunState, TrainHook } from '../trainer';
import type { BestTracker, CheckpointRequest, SavedCheckpoint } from './checkpoint';
import { checkpointHook } from './checkpoint';
import { epochLogHook } from './epoch-log';
import { finiteLossHook } from './finite-loss';
import { learningRateHook } from './learning-rate';
import { progressHook } from './progress';
import { tensorCountHook } from './tensor-count';
import { trainMetricsHook } from './train-metrics';
import { validationHook } from './validation';

export { BestTracker, checkpointHook } from './checkpoint';
export type { CheckpointHookOptions, CheckpointRequest, SavedCheckpoint } from './checkpoint';
export { epochLogHook } from './epoch-log';
export { finiteLossHook, isNonFiniteLoss, nonFiniteLossError } from './finite-loss';
export { learningRateHook } from './learning-rate';
export { progressHook, TRAINING_SUBTASK } from './progress';
export { tensorCountHook, TENSOR_COUNT_MESSAGE } from './tensor-count';
export { trainMetricsHook } from './train-metrics';
export {
  ACCURACY_PREFIX,
  IOU_PREFIX,
  VAL_METRIC_PREFIX,
  accuracyPerClass,
  iouPerClass,
  valMetricsAtStep,
  validationHook,
  validationMetricValues,
} from './validation';
export type { ValidationHookOptions, ValidationTally } from './validation';

export interface StandardHooksOptions {
  logger: Logger;
  planner: EvalPlanner;
  evaluate: (state: RunState) => Promise<MetricValues>;
  saveCheckpoint: (request: CheckpointRequest) => Promise<SavedCheckpoint>;
  countTensors: () => number;
  /** The train batch size, for the epoch's throughput. */
  imagesPerStep: number;
  /** The checkpoints' best-so-far record (resuming: restored from the checkpoint). */
  best?: BestTracker;
  /** The learning-rate schedule and the engine's setter; without it the rate is never changed. */
  learningRate?: { lr: number; schedule: LrScheduleConfig; setLearningRate: (lr: number) => void };
}

/** The built-in hooks in their fixed order. */
export function standardHooks(opts: StandardHooksOptions): TrainHook[] {
  const { logger } = opts;
  return [
    ...(opts.learningRate === undefined ? [] : [learningRateHook(opts.learningRate)]),
    epochLogHook({ logger, imagesPerStep: opts.imagesPerStep }),
    progressHook({ logger }),
    trainMetricsHook({ logger }),
    finiteLossHook(),
    validationHook({ logger, planner: opts.planner, evaluate: opts.evaluate }),
    checkpointHook({ logger, save: opts.saveCheckpoint, ...(opts.best ? { best: opts.best } : {}) }),
    tensorCountHook({ logger, countTensors: opts.countTensors }),
  ];
}
