/**
 * A FIFO where the task expects a file (model/weights.bin, model/config.json, an image, an annotation,
 * meta.json): opening it for reading would block until a writer comes, so the task used to hang with no crash
 * line. Each is refused before it is read, through the launchers as the agent runs them: exit 1, the crash line
 * naming the file and saying what it is.
 */
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { runLauncher } from '../helpers/launcher';
import { launcherTasks, type Entry } from '../helpers/launcher-tasks';

const { task } = launcherTasks();

/** Replaces the file at `rel` (inside the task folder) with a FIFO that nobody writes to. */
async function fifoAt(root: string, rel: string): Promise<void> {
  const file = path.join(root, rel);
  await fsp.rm(file, { force: true });
  execFileSync('mkfifo', [file]);
}

/** The first item's image and annotation, relative to the task folder. */
async function firstItem(root: string): Promise<{ image: string; annotation: string }> {
  const [image] = (await fsp.readdir(path.join(root, 'data', 'shapes', 'ds', 'img'))).sort();
  return {
    image: path.join('data', 'shapes', 'ds', 'img', image),
    annotation: path.join('data', 'shapes', 'ds', 'ann', `${image}.json`),
  };
}

describe('a FIFO in the model folder or the project is refused, naming it (no hang)', () => {
  // Exit 4 for the model folder's files (a model error), 3 for the project's (data).
  it.each<[Entry, (root: string) => Promise<string>, RegExp, number]>([
    [
      'train',
      async () => 'model/weights.bin',
      /model\/weights\.bin.*is a FIFO \(named pipe\), not a regular file/,
      4,
    ],
    ['inference', async () => 'model/config.json', /model\/config\.json.*is a FIFO \(named pipe\)/, 4],
    ['inference', async () => 'model/weights.bin', /weights\.bin.*is a FIFO \(named pipe\)/, 4],
    ['train', async () => 'data/shapes/meta.json', /shapes\/meta\.json.*is a FIFO \(named pipe\)/, 3],
    ['inference', async (root) => (await firstItem(root)).image, /shapes\/ds\/img\/.*: this is a FIFO/, 3],
    ['train', async (root) => (await firstItem(root)).annotation, /shapes\/ds\/ann\/.*: this is a FIFO/, 3],
  ])('%s with a FIFO (%#): exit 3 or 4, the crash line names it', async (entry, which, message, code) => {
    const root = await task(entry);
    await fifoAt(root, await which(root));
    const run = runLauncher(root, {}, 30_000, entry);
    expect(run.status).toBe(code);
    const last = run.lines[run.lines.length - 1];
    expect(last.fields.event_type).toBe('EventType.TASK_CRASHED');
    expect(String(last.fields.exc_str)).toMatch(message);
  });
});
