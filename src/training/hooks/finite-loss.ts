/**
 * A NaN or infinite loss stops the run (detectron2's "Loss became infinite or NaN at iteration=..."): the
 * weights have diverged and no later step brings them back. The run fails with a TaskError that names the epoch
 * and the step, which the entry point prints as the crash line before exiting non-zero (spec H.3).
 *
 * A model with a non-finite loss is never checkpointed: this hook fires right after the train metrics line (so
 * the failing step's loss still shows, as null), before validation and the checkpoint of that step; the
 * checkpoint hook refuses a non-finite val loss with the same error (the last update may have diverged).
 */

import { modelError, type TaskError } from '../../errors';
import type { RunState, TrainHook } from '../trainer';

/** The error that ends a run whose `what` ("Loss", "Validation loss") is `value`, not finite, at `state`'s step. */
export function nonFiniteLossError(what: string, value: number | null, state: RunState): TaskError {
  return modelError(
    `${what} became infinite or NaN (${String(value)}) at epoch ${state.epoch + 1} of ${state.epochs}, ` +
      `step ${state.iterInEpoch} of ${state.itersPerEpoch} (iteration ${state.globalStep} of ` +
      `${state.totalSteps}; epoch ${state.epochFloat} in the metrics lines). Training diverged and stops here; ` +
      'no checkpoint is written from this model. A lower lr usually helps.',
  );
}

/** Whether a loss is a number that is not finite (null means "nothing counted", not a divergence). */
export function isNonFiniteLoss(loss: number | null | undefined): loss is number {
  return typeof loss === 'number' && !Number.isFinite(loss);
}

export function finiteLossHook(): TrainHook {
  return {
    name: 'finite loss',
    afterStep: (state, result) => {
      if (!Number.isFinite(result.loss)) throw nonFiniteLossError('Loss', result.loss, state);
    },
  };
}
