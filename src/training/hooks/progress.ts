/** The "Model training: " progress bar (spec D.5): total = epochs x steps per epoch, one tick per train batch. */

import { Progress } from '../../protocol/progress';
import type { Logger } from '../../protocol/logger';
import type { TrainHook } from '../trainer';

export const TRAINING_SUBTASK = 'Model training: ';

export function progressHook(opts: { logger: Logger }): TrainHook {
  let progress: Progress | undefined;
  return {
    name: 'progress',
    beforeTrain: (state) => {
      progress = Progress.start({ logger: opts.logger, subtask: TRAINING_SUBTASK, total: state.totalSteps });
      // Resuming at a later epoch: the bar starts where the run is.
      if (state.globalStep > 0) progress.setCurrent(state.globalStep);
    },
    afterStep: () => progress?.iterDone(),
  };
}
