/**
 * The training config (spec E.2): the schema defaults, updated recursively by the task config, validated, and
 * checked across fields. Logs "Input config" and "Full config" as the SDK does.
 */

import { configError } from '../errors';
import type { Logger } from '../protocol/logger';
import type { TrainConfig } from './config-types';
import type { TaskPaths } from './paths';
import trainingSchemaJson from './schemas/training_config.json';
import type { JsonSchema } from './schema-defaults';
import { defaultsFromSchema } from './schema-defaults';
import { readTaskConfig } from './task-config';
import type { JsonObject } from './update-recursively';
import { isJsonObject, updateRecursively } from './update-recursively';
import { assertValid } from './validate';

export const TRAINING_SCHEMA: JsonSchema = trainingSchemaJson;

export interface TrainConfigOptions {
  /** The file named in errors; default "task_config.json". */
  file?: string;
  /**
   * The network plugin's JSON schema for `custom_model_config` (an object schema; its `default` values become
   * the defaults), or a function that picks it from the task config as given (its `network`). Without it any
   * object is accepted there.
   */
  customModelSchema?: JsonSchema | ((taskConfig: JsonObject) => JsonSchema | undefined);
}

const withCustomCache = new WeakMap<JsonSchema, JsonSchema>();

/** The training schema, with the plugin's schema in place of `custom_model_config` when one is given. */
export function trainingSchema(customModelSchema?: JsonSchema): JsonSchema {
  if (customModelSchema === undefined) return TRAINING_SCHEMA;
  let schema = withCustomCache.get(customModelSchema);
  if (schema === undefined) {
    const properties = { ...(TRAINING_SCHEMA.properties as Record<string, unknown>) };
    properties.custom_model_config = customModelSchema;
    schema = { ...TRAINING_SCHEMA, properties };
    withCustomCache.set(customModelSchema, schema);
  }
  return schema;
}

/** The defaults: every `default` in the training schema (and the plugin's, if given). */
export function defaultTrainConfig(options: { customModelSchema?: JsonSchema } = {}): JsonObject {
  const schema = trainingSchema(options.customModelSchema);
  return defaultsFromSchema(schema, schema) as JsonObject;
}

/** Merge, validate and check a task config (pure). Throws a config error naming the file and field. */
export function resolveTrainConfig(taskConfig: unknown, options: TrainConfigOptions = {}): TrainConfig {
  const file = options.file ?? 'task_config.json';
  if (!isJsonObject(taskConfig)) throw configError('expected a JSON object at the top level', { file });
  const chosen = options.customModelSchema;
  const customModelSchema = typeof chosen === 'function' ? chosen(taskConfig) : chosen;
  const merged = updateRecursively(defaultTrainConfig({ customModelSchema }), taskConfig, { file });
  assertValid(merged, trainingSchema(customModelSchema), { file });
  const config = normalise(merged as unknown as TrainConfig);
  checkAcrossFields(config, file);
  return config;
}

/**
 * Read task_config.json, resolve it, and log it as the SDK does. `given` is the file as written.
 */
export async function loadTrainConfig(options: {
  paths: TaskPaths;
  logger: Logger;
  customModelSchema?: TrainConfigOptions['customModelSchema'];
}): Promise<{ config: TrainConfig; given: JsonObject }> {
  const { raw, file } = await readTaskConfig(options.paths);
  options.logger.info('Input config', { config: raw });
  const config = resolveTrainConfig(raw, { file, customModelSchema: options.customModelSchema });
  options.logger.info('Full config', { config });
  return { config, given: raw };
}

/** null switches a special class off; the typed config simply leaves it out. */
function normalise(config: TrainConfig): TrainConfig {
  const special: Record<string, unknown> = { ...config.special_classes };
  for (const key of Object.keys(special)) if (special[key] === null) delete special[key];
  return { ...config, special_classes: special as TrainConfig['special_classes'] };
}

function checkAcrossFields(config: TrainConfig, file: string): void {
  if (config.val_every > config.epochs) {
    // The SDK validates only when floor(epoch / val_every) grows, and never at the end (spec E.7): this run
    // would save no checkpoint, and the agent would fail it after all the training.
    throw configError(
      `${config.val_every} is more than epochs (${config.epochs}): training would end without any validation or ` +
        'checkpoint; use a value no larger than epochs',
      { file, field: 'val_every' },
    );
  }
  const [scaleMin, scaleMax] = config.augment.random_scale;
  if (scaleMin > scaleMax) {
    throw configError(`[${scaleMin}, ${scaleMax}]: the smallest scale comes first`, {
      file,
      field: 'augment.random_scale',
    });
  }
  const { background, neutral } = config.special_classes;
  if (background !== undefined && background === neutral) {
    throw configError(`background and neutral must be different classes, both are "${background}"`, {
      file,
      field: 'special_classes.neutral',
    });
  }
}
