/**
 * Task folders for tests that run the launchers on a task that fails early: a tiny generated project in data/
 * and a tiny U-Net checkpoint (32x32 input) in model/, with a training or an inference task_config.json. Call
 * at the top of a test file: it registers the hooks that make the checkpoint once and remove every folder.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tinyUnetCheckpoint } from '../inference/helpers/tiny-checkpoint';
import { makeTask, removeTask, TINY_TRAIN_CONFIG } from '../training/e2e-helpers';

export type Entry = 'train' | 'inference';

export const TINY_INFER_CONFIG = { model: {}, mode: { name: 'full_image' } };

export function launcherTasks(): { task: (entry: Entry) => Promise<string> } {
  let work: string;
  const roots: string[] = [];
  beforeAll(async () => {
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'sly-launcher-tasks-'));
    await tinyUnetCheckpoint({ outDir: path.join(work, 'model'), size: 32 });
  }, 60_000);
  afterAll(async () => {
    for (const root of roots) await removeTask(root);
    await fsp.rm(work, { recursive: true, force: true });
  });
  return {
    task: async (entry) => {
      const root = await makeTask({
        project: {
          projectName: 'shapes',
          datasets: [{ name: 'ds', count: 4 }],
          width: 32,
          height: 32,
          folds: { val: 0.5 },
          seed: 3,
        },
        config: entry === 'train' ? TINY_TRAIN_CONFIG : TINY_INFER_CONFIG,
        modelFrom: path.join(work, 'model'),
      });
      roots.push(root);
      return root;
    },
  };
}
