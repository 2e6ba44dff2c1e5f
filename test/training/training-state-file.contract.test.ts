/**
 * model/training_state.json is a user's file like config.json and weights.bin: a FIFO in its place is refused,
 * naming it, instead of hanging the task (readRegularFile).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TaskError } from '../../src/errors';
import { TRAINING_STATE_FILE } from '../../src/model-state/training-state';
import { readTrainingState } from '../../src/training/resume';

let dir: string;
beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'training-state-'));
});
afterEach(async () => {
  // Should a read be blocked on the FIFO (the bug this guards against), a writer that opens and closes it ends
  // that read, so the test fails on its timeout instead of keeping jest from exiting.
  try {
    fs.closeSync(
      fs.openSync(path.join(dir, TRAINING_STATE_FILE), fs.constants.O_WRONLY | fs.constants.O_NONBLOCK),
    );
  } catch {
    // No reader (ENXIO) or no FIFO: nothing is blocked.
  }
  await fsp.rm(dir, { recursive: true, force: true });
});

it('a FIFO as training_state.json is a model error naming the file, not a hang', async () => {
  execFileSync('mkfifo', [path.join(dir, TRAINING_STATE_FILE)]);
  const e = await readTrainingState(dir, 'model/training_state.json').catch((x: unknown) => x);
  expect(e).toBeInstanceOf(TaskError);
  expect((e as TaskError).kind).toBe('model');
  expect((e as TaskError).context.file).toBe('model/training_state.json');
  expect((e as TaskError).message).toMatch(/FIFO \(named pipe\), not a regular file/);
}, 10_000);

it('no training_state.json is no state (an older checkpoint)', async () => {
  await expect(readTrainingState(dir, 'model/training_state.json')).resolves.toBeUndefined();
});
