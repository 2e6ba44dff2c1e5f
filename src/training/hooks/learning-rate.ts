/**
 * The learning-rate schedule (training/lr-schedule.ts) as a hook: before each step, the rate of that step from
 * the run's global step, handed to the engine. The global step is the trainer's (`RunState.globalStep`), so a
 * run that starts past step 0 (resumed) continues the schedule where it was.
 */

import type { LrScheduleConfig } from '../../task/config-types';
import { scheduledLearningRate } from '../lr-schedule';
import type { TrainHook } from '../trainer';

export function learningRateHook(opts: {
  lr: number;
  schedule: LrScheduleConfig;
  setLearningRate: (lr: number) => void;
}): TrainHook {
  return {
    name: 'learning rate',
    beforeStep: (state) =>
      opts.setLearningRate(scheduledLearningRate(opts.lr, opts.schedule, state.globalStep, state.totalSteps)),
  };
}
