/**
 * A results/ folder the task cannot write: found before any work (training used to find it at the first
 * checkpoint, after the training time was spent, and say only what the failing call said), with a crash line
 * naming results/. Root writes anywhere, so as root the launcher runs as the unprivileged user "nobody".
 */
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT, builtFile } from './built';
import { readStrictOutput } from '../helpers/agent';
import { launcherTasks, type Entry } from '../helpers/launcher-tasks';

const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;

const { task } = launcherTasks();

/** Everything readable and writable by anyone, but results/ read-only. */
async function openUpExceptResults(dir: string): Promise<void> {
  await fsp.chmod(dir, 0o777);
  for (const entry of await fsp.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) await openUpExceptResults(p);
    else await fsp.chmod(p, 0o666);
  }
}

function launch(entry: Entry, root: string) {
  builtFile(`src/${entry}.ts`);
  const result = spawnSync('python3', ['-u', path.join(REPO_ROOT, 'src', `${entry}.py`)], {
    env: {
      PATH: process.env.PATH,
      SLY_TASK_DATA: root,
      TFJS_BACKEND: 'wasm',
      PYTHONDONTWRITEBYTECODE: '1',
      SLY_NODE: process.execPath,
    },
    encoding: 'utf8',
    timeout: 60_000,
    ...(asRoot ? { uid: NOBODY, gid: NOBODY } : {}),
  });
  return { status: result.status, lines: readStrictOutput(result.stdout) };
}

describe('a results/ folder that cannot be written is refused before any work, naming it', () => {
  it.each(['train', 'inference'] as const)('%s: exit 3, the crash line names results/', async (entry) => {
    const root = await task(entry);
    await openUpExceptResults(root);
    await fsp.chmod(path.join(root, 'results'), 0o555);
    const run = launch(entry, root);
    expect(run.status).toBe(3); // a data error: the task folder's results/
    const last = run.lines[run.lines.length - 1];
    expect(last.fields.event_type).toBe('EventType.TASK_CRASHED');
    expect(String(last.fields.exc_str)).toMatch(
      /^results\/: the folder is not writable \(EACCES\); the task writes its results here, so nothing was started$/,
    );
    expect(last.fields.error_context).toEqual({ file: 'results/' });
    // Found before the work: no project read, no epoch, no image applied.
    const messages = run.lines.map((l) => l.message);
    expect(messages.some((m) => /Project structure has been read|progress/.test(m))).toBe(false);
    expect(await fsp.readdir(path.join(root, 'results'))).toEqual([]);
  });
});
