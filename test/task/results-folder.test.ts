/** What a killed run left in results/ is removed at the next start; nothing else is. */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { taskPathsAt } from '../../src/task/paths';
import { removeStaleTemporaries } from '../../src/task/results-folder';
import { temporarySibling } from '../../src/util/atomic';

it('removes our temporary tars, files and partial results projects, and keeps checkpoints and other files', async () => {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'stale-'));
  try {
    const paths = taskPathsAt(root);
    await fsp.mkdir(path.join(paths.results, '00000001'), { recursive: true });
    const tarTemp = temporarySibling(path.join(paths.results, '00000001.tar'));
    await fsp.writeFile(tarTemp, 'half a tar');
    await fsp.mkdir(path.join(paths.results, '.shapes.partial-4242', 'ds'), { recursive: true });
    await fsp.writeFile(path.join(paths.results, '.write-probe.12-abcdef.tmp'), '');
    await fsp.writeFile(path.join(paths.results, '.notes'), 'the user');
    await fsp.writeFile(path.join(paths.results, '00000001.tar'), 'a whole tar');
    const removed = await removeStaleTemporaries(paths);
    expect(removed.sort()).toEqual(
      [path.basename(tarTemp), '.shapes.partial-4242', '.write-probe.12-abcdef.tmp'].sort(),
    );
    expect((await fsp.readdir(paths.results)).sort()).toEqual(['.notes', '00000001', '00000001.tar']);
  } finally {
    await fsp.rm(root, { recursive: true, force: true });
  }
});
