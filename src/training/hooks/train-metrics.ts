/** The train metrics line after every step (spec D.5): type train, fractional epoch, {loss, accuracy}. */

import { reportMetrics } from '../../protocol/events';
import type { Logger } from '../../protocol/logger';
import { finiteOrNull } from '../metrics';
import type { TrainHook } from '../trainer';

export function trainMetricsHook(opts: { logger: Logger }): TrainHook {
  return {
    name: 'train metrics',
    afterStep: (state, result) => {
      const metrics: Record<string, number | null> = { loss: finiteOrNull(result.loss) };
      for (const [name, value] of Object.entries(result.metrics ?? {})) metrics[name] = finiteOrNull(value);
      reportMetrics(opts.logger, { type: 'train', epoch: state.epochFloat, metrics });
    },
  };
}
