/**
 * The inference run (owned by the lead): loads the model, applies the mode to every image, writes the results
 * project, then reports MODEL_APPLIED. Placeholder until the real body lands.
 */

import { TaskError } from '../errors';
import type { InferenceTaskContext } from '../task/context';

export async function runInference(ctx: InferenceTaskContext): Promise<void> {
  ctx.logger.debug('runInference called', { task_dir: ctx.paths.root, mode: ctx.modeConfig.name });
  throw new TaskError('config', 'inference is not available yet in this build of the plugin');
}
