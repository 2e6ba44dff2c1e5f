/**
 * Reading the task's config file (spec A.2, A.3): task_config.json, or the deprecated task_settings.json copy
 * when only that exists (spec H.5.7).
 */

import { configError } from '../errors';
import { readRegularFile } from '../util/regular-file';
import { parseJsonText } from './json-file';
import type { TaskPaths } from './paths';
import type { JsonObject } from './update-recursively';
import { isJsonObject } from './update-recursively';

export interface TaskConfigFile {
  /** The parsed top-level object. */
  raw: JsonObject;
  /** The file's name as used in messages: "task_config.json" or "task_settings.json". */
  file: string;
}

export async function readTaskConfig(paths: TaskPaths): Promise<TaskConfigFile> {
  const found = await readTaskConfigIfPresent(paths);
  if (found !== undefined) return found;
  throw configError(
    `neither task_config.json nor task_settings.json exists in the task folder ${paths.root}`,
    {
      file: 'task_config.json',
    },
  );
}

/** task_config.json, else task_settings.json, or undefined when the task folder has neither. */
export async function readTaskConfigIfPresent(paths: TaskPaths): Promise<TaskConfigFile | undefined> {
  for (const [file, displayName] of [
    [paths.taskConfig, 'task_config.json'],
    [paths.legacyTaskSettings, 'task_settings.json'],
  ] as const) {
    const text = await readIfExists(file);
    if (text !== undefined) return { raw: parseConfigObject(text, displayName), file: displayName };
  }
  return undefined;
}

/** Parse a config file's text; the top level must be an object. */
export function parseConfigObject(text: string, displayName: string): JsonObject {
  const value = parseJsonText({ text, displayName });
  if (!isJsonObject(value)) {
    throw configError(
      `expected a JSON object at the top level, found ${Array.isArray(value) ? 'a list' : JSON.stringify(value)}`,
      {
        file: displayName,
      },
    );
  }
  return value;
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readRegularFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw configError(`cannot read the file: ${(e as Error).message}`, { file });
  }
}
