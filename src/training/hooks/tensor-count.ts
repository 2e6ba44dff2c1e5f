/**
 * A debug line with the number of live tensors after every epoch: a leak shows as a count that grows from
 * epoch to epoch (tfjs issues 8570, 8326). The counter is passed in, so this hook needs no tfjs.
 */

import type { Logger } from '../../protocol/logger';
import type { TrainHook } from '../trainer';

export const TENSOR_COUNT_MESSAGE = 'Tensors in memory';

export function tensorCountHook(opts: { logger: Logger; countTensors: () => number }): TrainHook {
  return {
    name: 'tensor count',
    afterEpoch: (state) =>
      opts.logger.debug(TENSOR_COUNT_MESSAGE, { epoch: state.epoch + 1, num_tensors: opts.countTensors() }),
  };
}
