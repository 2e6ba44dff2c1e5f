/**
 * "Starting new epoch" before each epoch and "Epoch has finished" after it, as the SDK logs them (spec E.8).
 * The second also says how fast the epoch trained (step time only: loading that the steps waited for counts,
 * validation and checkpoints do not), so users see throughput without a profiler.
 */

import type { Logger } from '../../protocol/logger';
import type { TrainHook } from '../trainer';

export function epochLogHook(opts: {
  logger: Logger;
  /** Images per training step (the train batch size). */
  imagesPerStep: number;
  now?: () => number;
}): TrainHook {
  const now = opts.now ?? (() => performance.now());
  let stepStart = 0;
  let trainMs = 0;
  let steps = 0;
  return {
    name: 'epoch log',
    beforeEpoch: (state) => {
      trainMs = 0;
      steps = 0;
      opts.logger.info('Starting new epoch', { epoch: state.epochFloat });
    },
    beforeStep: () => {
      stepStart = now();
    },
    afterStep: () => {
      trainMs += now() - stepStart;
      steps += 1;
    },
    afterEpoch: (state) => {
      const seconds = trainMs / 1000;
      opts.logger.info('Epoch has finished', {
        epoch: state.epochFloat,
        train_seconds: Math.round(seconds * 100) / 100,
        train_images_per_sec:
          seconds > 0 ? Math.round(((steps * opts.imagesPerStep) / seconds) * 100) / 100 : null,
      });
    },
  };
}
