/**
 * The training run (owned by the lead): builds the plan, the loader and the loop from a resolved context.
 * Placeholder until the real body lands: it fails with a clear message instead of doing nothing.
 */

import { TaskError } from '../errors';
import type { TrainTaskContext } from '../task/context';

export async function runTraining(ctx: TrainTaskContext): Promise<void> {
  ctx.logger.debug('runTraining called', { task_dir: ctx.paths.root });
  throw new TaskError('config', 'training is not available yet in this build of the plugin');
}
