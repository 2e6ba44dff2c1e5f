/**
 * results/ (spec A.2, A.3) must be writable before a task spends its time: a read-only results/ used to be found
 * only at the first checkpoint, after the training time was spent. A probe file is written and removed.
 */

import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { dataError } from '../errors';
import { isTemporaryName, probeWritable, WriteFailure } from '../util/atomic';
import { displayPath, type TaskPaths } from './paths';

export async function checkResultsWritable(paths: TaskPaths): Promise<void> {
  try {
    await probeWritable(paths.results);
  } catch (e) {
    if (!(e instanceof WriteFailure)) throw e;
    throw dataError(
      `${e.reason}; the task writes its results here, so nothing was started`,
      {
        file: `${displayPath(paths, paths.results)}/`,
      },
      e,
    );
  }
}

/**
 * Removes what a killed run left in results/: our hidden temporary files and folders (a checkpoint, a tar or a
 * results project being written). Only for a task that owns results/ alone (the agent's): shards of one
 * inference share a results/ across machines, and another shard's temporary may be alive. Returns the names.
 */
export async function removeStaleTemporaries(paths: TaskPaths): Promise<string[]> {
  let names: string[];
  try {
    names = await fsp.readdir(paths.results);
  } catch {
    return [];
  }
  const stale = names.filter(isTemporaryName);
  await Promise.all(stale.map((n) => fsp.rm(path.join(paths.results, n), { recursive: true, force: true })));
  return stale;
}
