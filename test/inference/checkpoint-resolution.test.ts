import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TaskError } from '../../src/errors';
import { readInferenceCheckpoint } from '../../src/inference/checkpoint';
import { nativeWindow } from '../../src/inference/native-window';

let dir: string;
beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ckpt-resolution-'));
});
afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

async function withSettings(extra: Record<string, unknown>): Promise<void> {
  await fsp.writeFile(
    path.join(dir, 'config.json'),
    JSON.stringify({
      settings: { input_size: { width: 96, height: 64 }, ...extra },
      out_classes: [{ title: 'bg', shape: 'bitmap', color: '#000000' }],
      class_title_to_idx: { bg: 0 },
    }),
  );
}

describe("a checkpoint's training resolution (issue #17)", () => {
  it('is fit when the checkpoint records none (older checkpoints) or says fit', async () => {
    await withSettings({});
    expect((await readInferenceCheckpoint({ dir, displayName: 'model' })).resolution).toEqual({
      mode: 'fit',
    });
    await withSettings({ resolution: { mode: 'fit', scale: 1 } });
    expect((await readInferenceCheckpoint({ dir, displayName: 'model' })).resolution).toEqual({
      mode: 'fit',
    });
  });

  it('is native at its scale, and the window is the input over the scale', async () => {
    await withSettings({ resolution: { mode: 'native', scale: 0.5 } });
    const c = await readInferenceCheckpoint({ dir, displayName: 'model' });
    expect(c.resolution).toEqual({ mode: 'native', scale: 0.5 });
    expect(nativeWindow(c.inputSize, 0.5)).toEqual({ width: 192, height: 128 });
  });

  it.each([[{ mode: 'native' }], [{ mode: 'native', scale: 0 }], [{ mode: 'tiles', scale: 1 }], ['native']])(
    '%j is a model error naming settings.resolution',
    async (resolution) => {
      await withSettings({ resolution });
      const e = await readInferenceCheckpoint({ dir, displayName: 'model' }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(TaskError);
      expect((e as TaskError).kind).toBe('model');
      expect((e as TaskError).context).toMatchObject({
        file: 'model/config.json',
        field: 'settings.resolution',
      });
    },
  );
});
