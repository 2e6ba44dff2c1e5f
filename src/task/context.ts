/** What the entry points hand to the training and inference runs: everything resolved, nothing global. */

import type { Logger } from '../protocol/logger';
import type { InferenceModelConfig, ModeConfig, TrainConfig } from './config-types';
import type { TaskPaths } from './paths';

export interface TrainTaskContext {
  paths: TaskPaths;
  config: TrainConfig;
  logger: Logger;
}

export interface InferenceTaskContext {
  paths: TaskPaths;
  modelConfig: InferenceModelConfig;
  modeConfig: ModeConfig;
  logger: Logger;
}
