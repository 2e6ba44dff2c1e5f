/**
 * results/ (spec A.2, A.3) must be writable before a task spends its time: a read-only results/ used to be found
 * only at the first checkpoint, after the training time was spent. A probe file is written and removed.
 */

import { dataError } from '../errors';
import { probeWritable, WriteFailure } from '../util/atomic';
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
