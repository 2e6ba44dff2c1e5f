/** What the entry points hand to the training and inference runs: everything resolved, nothing global. */

import type { Logger } from '../protocol/logger';
import type { InferenceModelConfig, ModeConfig, TrainConfig } from './config-types';
import type { TaskPaths } from './paths';
import type { JsonObject } from './update-recursively';

export interface TrainTaskContext {
  paths: TaskPaths;
  config: TrainConfig;
  /**
   * task_config.json as written, before the schema's defaults: a task whose own default differs from the
   * schema's (the tracker's learning-rate schedule) tells "left out" from "set to the schema's value" by it.
   */
  given: JsonObject;
  logger: Logger;
}

export interface InferenceTaskContext {
  paths: TaskPaths;
  modelConfig: InferenceModelConfig;
  modeConfig: ModeConfig;
  logger: Logger;
}
