/** The task folder and its config: paths, reading, merging, validation, and the contexts handed to the runs. */

export * from './paths';
export * from './config-types';
export * from './context';
export * from './gpu';
export { readTaskConfig, parseConfigObject } from './task-config';
export type { TaskConfigFile } from './task-config';
export { updateRecursively, deepCopy, isJsonObject, joinPath } from './update-recursively';
export type { JsonObject, UpdateOptions } from './update-recursively';
export { convertFromV1InferenceConfig, isV1InferenceConfig } from './v1-config';
export { defaultsFromSchema } from './schema-defaults';
export type { JsonSchema } from './schema-defaults';
export { assertValid, schemaProblems, nearest, editDistance, describeValue, pointerToPath } from './validate';
export type { Problem, ValidateOptions } from './validate';
export {
  TRAINING_SCHEMA,
  defaultTrainConfig,
  loadTrainConfig,
  resolveTrainConfig,
  trainingSchema,
} from './train-config';
export type { TrainConfigOptions } from './train-config';
export {
  INFERENCE_MODEL_SCHEMA,
  MODE_SCHEMAS,
  builtInModeDefaults,
  effectiveModeConfig,
  isModeName,
  loadInferenceConfig,
  normaliseRenamer,
  resolveInferenceConfig,
  resolveInferenceModelConfig,
  validateModeConfig,
} from './inference-config';
export type { InferenceConfigOptions, InferenceConfigs, ModeConfigInput } from './inference-config';
export { parseJsonText, readJsonFile, lineColumn } from './json-file';
