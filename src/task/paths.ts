/**
 * The task folder (spec A.1-A.3). One value, resolved once by the entry point and passed down: nothing below the
 * entry points reads SLY_TASK_DATA or assumes /sly_task_data (architecture: no fixed global paths).
 *
 * The agent also leaves its own entries there (logs/, __do_not_clean.marker); nothing here lists the folder, so
 * they are never mistaken for task data.
 */

import path from 'path';

export const DEFAULT_TASK_DIR = '/sly_task_data';
export const TASK_DIR_ENV = 'SLY_TASK_DATA';
export const MODEL_CONFIG_NAME = 'config.json';

export interface TaskPaths {
  /** The task folder itself. */
  readonly root: string;
  /** task_config.json: the task's config as the user submitted it. */
  readonly taskConfig: string;
  /** task_settings.json: the deprecated copy, read only when task_config.json is missing. */
  readonly legacyTaskSettings: string;
  /** data/: exactly one input project, data/<project title>/. */
  readonly data: string;
  /** model/: the model tar's contents (config.json + weights at the top level). */
  readonly model: string;
  /** model/config.json. */
  readonly modelConfig: string;
  /** results/: checkpoints (train) or the output project (inference). */
  readonly results: string;
  /** tmp/: scratch space (train only; the agent does not create it for inference). */
  readonly tmp: string;
}

/** The paths inside a given task folder. */
export function taskPathsAt(root: string): TaskPaths {
  const abs = path.resolve(root);
  return {
    root: abs,
    taskConfig: path.join(abs, 'task_config.json'),
    legacyTaskSettings: path.join(abs, 'task_settings.json'),
    data: path.join(abs, 'data'),
    model: path.join(abs, 'model'),
    modelConfig: path.join(abs, 'model', MODEL_CONFIG_NAME),
    results: path.join(abs, 'results'),
    tmp: path.join(abs, 'tmp'),
  };
}

/** SLY_TASK_DATA if set (tests, local runs), else /sly_task_data. For entry points only. */
export function resolveTaskPaths(env: NodeJS.ProcessEnv): TaskPaths {
  const override = env[TASK_DIR_ENV];
  return taskPathsAt(override !== undefined && override.trim() !== '' ? override : DEFAULT_TASK_DIR);
}

/** A path as the user knows it: relative to the task folder when inside it. */
export function displayPath(paths: TaskPaths, file: string): string {
  const rel = path.relative(paths.root, file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}
