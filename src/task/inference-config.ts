/**
 * The inference task config (spec A.3, F.1-F.3): v1 configs converted, the `model` section merged over its
 * defaults, and the effective mode config: task > the plugin's default for the same mode > the mode's built-in
 * defaults. Every part validated with unknown keys refused.
 */

import { configError } from '../errors';
import type { Logger } from '../protocol/logger';
import type { InferenceModelConfig, ModeConfig, ModeName, RenamerConfig } from './config-types';
import { MODE_NAMES } from './config-types';
import type { TaskPaths } from './paths';
import modelSchemaJson from './schemas/inference_model_config.json';
import bboxesSchema from './schemas/mode_bboxes.json';
import fullImageSchema from './schemas/mode_full_image.json';
import roiSchema from './schemas/mode_roi.json';
import slidingWindowSchema from './schemas/mode_sliding_window.json';
import type { JsonSchema } from './schema-defaults';
import { defaultsFromSchema } from './schema-defaults';
import { readTaskConfig } from './task-config';
import type { JsonObject } from './update-recursively';
import { isJsonObject, updateRecursively } from './update-recursively';
import { convertFromV1InferenceConfig } from './v1-config';
import { assertValid, describeValue, nearest, withSharedDefinitions } from './validate';

export const INFERENCE_MODEL_SCHEMA: JsonSchema = modelSchemaJson;

export const MODE_SCHEMAS: Readonly<Record<ModeName, JsonSchema>> = {
  full_image: fullImageSchema,
  roi: roiSchema,
  bboxes: bboxesSchema,
  sliding_window: slidingWindowSchema,
};

/** A mode config as written in a task or as a plugin default: any subset of a mode's fields. */
export type ModeConfigInput = Readonly<Record<string, unknown>>;

export interface InferenceConfigs {
  modelConfig: InferenceModelConfig;
  modeConfig: ModeConfig;
}

export interface InferenceConfigOptions {
  /** The file named in errors; default "task_config.json". */
  file?: string;
  /** The plugin's default mode config (e.g. full_image with suffix "_unet"); used when the task names no mode. */
  defaultModeConfig?: ModeConfigInput;
}

export function isModeName(value: unknown): value is ModeName {
  return typeof value === 'string' && (MODE_NAMES as readonly string[]).includes(value);
}

/** A mode's built-in defaults (the SDK's make_default_config(model_result_suffix="")). */
export function builtInModeDefaults(name: ModeName): JsonObject {
  const schema = withSharedDefinitions(MODE_SCHEMAS[name]);
  return defaultsFromSchema(schema, schema) as JsonObject;
}

/**
 * get_effective_inference_mode_config (spec F.3), not yet validated. The plugin default counts only when it
 * is for the same mode, so its suffix is not inherited by another mode.
 */
export function effectiveModeConfig(
  taskMode: ModeConfigInput,
  defaultMode: ModeConfigInput = {},
  options: { file?: string; path?: string } = {},
): JsonObject {
  const path = options.path ?? 'mode';
  const taskName = taskMode.name;
  const defaultName = defaultMode.name;
  // Python's `task or default`: an empty or missing name falls back to the default's.
  const name = taskName !== undefined && taskName !== null && taskName !== '' ? taskName : defaultName;
  if (name === undefined || name === null || name === '') {
    throw configError(`no inference mode given: set "${path}.name" to one of ${MODE_NAMES.join(', ')}`, {
      file: options.file,
      field: `${path}.name`,
    });
  }
  if (!isModeName(name)) {
    const guess = typeof name === 'string' ? nearest(name, MODE_NAMES) : undefined;
    const hint = guess !== undefined ? ` (did you mean "${guess}"?)` : '';
    throw configError(
      `unknown inference mode ${JSON.stringify(name)}${hint}; valid modes: ${MODE_NAMES.join(', ')}`,
      {
        file: options.file,
        field: `${path}.name`,
      },
    );
  }
  let result = builtInModeDefaults(name);
  if (defaultName === name)
    result = updateRecursively(result, { ...defaultMode }, { file: options.file, path });
  result = updateRecursively(result, { ...taskMode }, { file: options.file, path });
  // The task may have named no mode and relied on the default's name.
  result.name = name;
  return result;
}

/** Validate an effective mode config and normalise its renamers. */
export function validateModeConfig(
  config: JsonObject,
  options: { file?: string; path?: string } = {},
): ModeConfig {
  const path = options.path ?? 'mode';
  const name = config.name;
  if (!isModeName(name)) {
    throw configError(
      `unknown inference mode ${JSON.stringify(name)}; valid modes: ${MODE_NAMES.join(', ')}`,
      {
        file: options.file,
        field: `${path}.name`,
      },
    );
  }
  assertValid(config, MODE_SCHEMAS[name], { file: options.file, pathPrefix: path });
  const modeConfig = config as unknown as ModeConfig;
  return {
    ...modeConfig,
    model_classes: normaliseRenamer(config.model_classes as JsonObject),
    model_tags: normaliseRenamer(config.model_tags as JsonObject),
  };
}

/** `save_names` wins over `save_classes` on read; only `save_classes` is kept (spec F.3). */
export function normaliseRenamer(json: JsonObject): RenamerConfig {
  const selection = json.save_names ?? json.save_classes ?? '__all__';
  return {
    add_suffix: typeof json.add_suffix === 'string' ? json.add_suffix : '',
    save_classes: selection as RenamerConfig['save_classes'],
  };
}

/** The model section merged over its defaults and validated. */
export function resolveInferenceModelConfig(
  model: unknown,
  options: { file?: string } = {},
): InferenceModelConfig {
  if (!isJsonObject(model)) {
    throw configError(`expected an object, found ${describeValue(model)}`, {
      file: options.file,
      field: 'model',
    });
  }
  const schema = withSharedDefinitions(INFERENCE_MODEL_SCHEMA);
  const merged = updateRecursively(defaultsFromSchema(schema, schema) as JsonObject, model, {
    file: options.file,
    path: 'model',
  });
  assertValid(merged, INFERENCE_MODEL_SCHEMA, { file: options.file, pathPrefix: 'model' });
  return merged as unknown as InferenceModelConfig;
}

const TOP_LEVEL_KEYS = ['model', 'mode'];

/** Convert (v1), merge and validate a whole inference task config (pure). */
export function resolveInferenceConfig(raw: unknown, options: InferenceConfigOptions = {}): InferenceConfigs {
  const file = options.file ?? 'task_config.json';
  if (!isJsonObject(raw)) throw configError('expected a JSON object at the top level', { file });
  const v2 = convertFromV1InferenceConfig(raw);
  for (const key of Object.keys(v2)) {
    if (!TOP_LEVEL_KEYS.includes(key)) {
      const guess = nearest(key, TOP_LEVEL_KEYS);
      throw configError(
        `unknown key${guess !== undefined ? `; did you mean "${guess}"?` : ''} (expected model, mode)`,
        {
          file,
          field: key,
        },
      );
    }
  }
  // Present but null is an error (as in the SDK), not an empty section.
  const modelConfig = resolveInferenceModelConfig('model' in v2 ? v2.model : {}, { file });
  const taskMode = 'mode' in v2 ? v2.mode : {};
  if (!isJsonObject(taskMode)) {
    throw configError(`expected an object, found ${describeValue(taskMode)}`, { file, field: 'mode' });
  }
  const modeConfig = validateModeConfig(effectiveModeConfig(taskMode, options.defaultModeConfig, { file }), {
    file,
  });
  return { modelConfig, modeConfig };
}

/** Read task_config.json, resolve it, and log it. */
export async function loadInferenceConfig(options: {
  paths: TaskPaths;
  logger: Logger;
  defaultModeConfig?: ModeConfigInput;
}): Promise<InferenceConfigs> {
  const { raw, file } = await readTaskConfig(options.paths);
  options.logger.info('Input config', { config: raw });
  const configs = resolveInferenceConfig(raw, { file, defaultModeConfig: options.defaultModeConfig });
  options.logger.info('Full config', { config: { model: configs.modelConfig, mode: configs.modeConfig } });
  return configs;
}
