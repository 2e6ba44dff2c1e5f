/**
 * A task folder laid out as the agent lays it out (spec A.2): data/ (a generated project), model/, results/,
 * tmp/, logs/, the agent's marker and task_config.json. No jest globals and no process started here, so the
 * unit and e2e tests and the image test (scripts/image-test.ts, compiled) all make their folders this way.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateSyntheticProject, type SyntheticProjectOptions } from '../../src/example/synthetic-project';

export interface TaskSetup {
  /** Project options without `dir` (the project goes to data/). */
  project: Omit<SyntheticProjectOptions, 'dir'>;
  /** task_config.json as written. */
  config: Record<string, unknown>;
  /** Files to put in model/ (copied from this folder). */
  modelFrom?: string;
}

/** A new task folder under `parent` (the system's temporary folder by default). */
export async function makeTask(setup: TaskSetup, parent: string = os.tmpdir()): Promise<string> {
  const root = await fsp.mkdtemp(path.join(parent, 'sly-train-'));
  for (const sub of ['data', 'model', 'results', 'tmp', 'logs']) await fsp.mkdir(path.join(root, sub));
  await fsp.writeFile(path.join(root, '__do_not_clean.marker'), ''); // the agent's own entry (spec A.1)
  await generateSyntheticProject({ ...setup.project, dir: path.join(root, 'data') });
  await fsp.writeFile(path.join(root, 'task_config.json'), JSON.stringify(setup.config));
  if (setup.modelFrom !== undefined)
    await fsp.cp(setup.modelFrom, path.join(root, 'model'), { recursive: true });
  return root;
}

export async function removeTask(root: string | undefined): Promise<void> {
  if (root !== undefined) await fsp.rm(root, { recursive: true, force: true });
}
