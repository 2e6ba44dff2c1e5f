/** "Starting new epoch" before each epoch and "Epoch has finished" after it, as the SDK logs them (spec E.8). */

import type { Logger } from '../../protocol/logger';
import type { TrainHook } from '../trainer';

export function epochLogHook(opts: { logger: Logger }): TrainHook {
  return {
    name: 'epoch log',
    beforeEpoch: (state) => opts.logger.info('Starting new epoch', { epoch: state.epochFloat }),
    afterEpoch: (state) => opts.logger.info('Epoch has finished', { epoch: state.epochFloat }),
  };
}
