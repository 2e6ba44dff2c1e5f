import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { ModelConfigJson } from '../../src/format/types';
import { CheckpointWriter, checkpointSubdir, TEMP_PREFIX } from '../../src/model-state/checkpoint-writer';
import { saveModelToDir } from '../../src/network/io';
import { tinyUnet } from '../network/tiny';

let tmp: string;
let n = 0;
beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'ckpt-test-'));
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});
async function freshResults(): Promise<string> {
  const dir = path.join(tmp, `results-${n++}`);
  await fsp.mkdir(dir);
  return dir;
}

const CONFIG: ModelConfigJson = {
  settings: { input_size: { width: 64, height: 64 }, lr: 0.001 },
  out_classes: [
    { title: 'bg', shape: 'bitmap', color: '#222222', geometry_config: {}, hotkey: '' },
    { title: 'kiwi', shape: 'bitmap', color: '#FF0000', geometry_config: {}, hotkey: '' },
  ],
  class_title_to_idx: { bg: 0, kiwi: 1 },
};

async function fileSize(dir: string, name: string): Promise<number> {
  return (await fsp.stat(path.join(dir, name))).size;
}

const writeBytes = (bytes: number) => async (dir: string) => {
  await fsp.writeFile(path.join(dir, 'weights.bin'), Buffer.alloc(bytes, 7));
};

describe('checkpoint writer (spec E.6, H.5.3)', () => {
  test('numbers checkpoints 00000000, 00000001, ... with config.json and the weights, sizeb = all bytes', async () => {
    const results = await freshResults();
    const writer = await CheckpointWriter.create(results);
    const first = await writer.write({ config: CONFIG, saveWeights: writeBytes(1000) });
    const second = await writer.write({ config: CONFIG, saveWeights: writeBytes(10) });
    expect([first.id, first.subdir, second.id, second.subdir]).toEqual([0, '00000000', 1, '00000001']);
    expect(first.dir).toBe(path.join(results, '00000000'));
    // No temporary folder, and no pre-created empty next folder.
    expect((await fsp.readdir(results)).sort()).toEqual(['00000000', '00000001']);
    expect((await fsp.readdir(first.dir)).sort()).toEqual(['config.json', 'weights.bin']);
    const configText = await fsp.readFile(path.join(first.dir, 'config.json'), 'utf8');
    expect(JSON.parse(configText)).toEqual(CONFIG);
    expect(first.sizeb).toBe(Buffer.byteLength(configText) + 1000);
    expect(second.sizeb).toBe(Buffer.byteLength(configText) + 10);
  });

  test('a failing saveWeights leaves no checkpoint and no temporary folder; the id is not used up', async () => {
    const results = await freshResults();
    const writer = await CheckpointWriter.create(results);
    const failing = async (dir: string) => {
      await fsp.writeFile(path.join(dir, 'weights.bin'), 'half');
      throw new Error('disk full');
    };
    await expect(writer.write({ config: CONFIG, saveWeights: failing })).rejects.toThrow('disk full');
    expect(await fsp.readdir(results)).toEqual([]);
    const ok = await writer.write({ config: CONFIG, saveWeights: writeBytes(4) });
    expect(ok.subdir).toBe('00000000');
    expect(await fsp.readdir(results)).toEqual(['00000000']);
  });

  test('a written checkpoint is never touched again', async () => {
    const results = await freshResults();
    const writer = await CheckpointWriter.create(results);
    const first = await writer.write({ config: CONFIG, saveWeights: writeBytes(100) });
    const statsBefore = await Promise.all(
      ['.', 'config.json', 'weights.bin'].map((f) => fsp.stat(path.join(first.dir, f))),
    );
    await new Promise((r) => setTimeout(r, 20));
    await writer.write({
      config: { ...CONFIG, class_title_to_idx: { bg: 0 } },
      saveWeights: writeBytes(200),
    });
    const statsAfter = await Promise.all(
      ['.', 'config.json', 'weights.bin'].map((f) => fsp.stat(path.join(first.dir, f))),
    );
    expect(statsAfter.map((s) => [s.mtimeMs, s.size, s.ino])).toEqual(
      statsBefore.map((s) => [s.mtimeMs, s.size, s.ino]),
    );
    expect(JSON.parse(await fsp.readFile(path.join(first.dir, 'config.json'), 'utf8'))).toEqual(CONFIG);
  });

  test('continues after existing checkpoints and removes temporary folders of a crashed run', async () => {
    const results = await freshResults();
    for (const name of ['00000000', '00000002', `${TEMP_PREFIX}123-0`, 'notes']) {
      await fsp.mkdir(path.join(results, name));
    }
    const writer = await CheckpointWriter.create(results);
    expect(writer.pendingId).toBe(3);
    const written = await writer.write({ config: CONFIG, saveWeights: writeBytes(1) });
    expect(written.subdir).toBe('00000003');
    expect((await fsp.readdir(results)).sort()).toEqual(['00000000', '00000002', '00000003', 'notes']);
  });

  test('concurrent writes get distinct ids in call order', async () => {
    const results = await freshResults();
    const writer = await CheckpointWriter.create(results);
    const slow = async (dir: string) => {
      await new Promise((r) => setTimeout(r, 30));
      await writeBytes(3)(dir);
    };
    const written = await Promise.all([
      writer.write({ config: CONFIG, saveWeights: slow }),
      writer.write({ config: CONFIG, saveWeights: writeBytes(5) }),
      writer.write({ config: CONFIG, saveWeights: writeBytes(7) }),
    ]);
    expect(written.map((w) => w.subdir)).toEqual(['00000000', '00000001', '00000002']);
    // Each folder holds the weights of its own call.
    const configSizes = await Promise.all(written.map((w) => fileSize(w.dir, 'config.json')));
    expect(written.map((w, i) => w.sizeb - configSizes[i])).toEqual([3, 5, 7]);
    const binSizes = await Promise.all(written.map((w) => fsp.stat(path.join(w.dir, 'weights.bin'))));
    expect(binSizes.map((st) => st.size)).toEqual([3, 5, 7]);
  });

  test('extra files (also in sub-folders) are included and counted; a name leaving the folder is refused', async () => {
    const results = await freshResults();
    const writer = await CheckpointWriter.create(results);
    const written = await writer.write({
      config: CONFIG,
      saveWeights: writeBytes(8),
      extraFiles: { 'model.onnx': new Uint8Array(16), 'sub/notes.txt': 'abc' },
    });
    expect(written.sizeb).toBe((await fileSize(written.dir, 'config.json')) + 8 + 16 + 3);
    expect(await fsp.readFile(path.join(written.dir, 'sub/notes.txt'), 'utf8')).toBe('abc');
    await expect(
      writer.write({ config: CONFIG, saveWeights: writeBytes(1), extraFiles: { '../escape.txt': 'x' } }),
    ).rejects.toThrow(/"\.\.\/escape\.txt" must be a relative path inside the checkpoint/);
    expect((await fsp.readdir(results)).sort()).toEqual(['00000000']);
  });

  test('with a real model: config.json + model.json + weights.bin', async () => {
    await tf.setBackend('cpu');
    const results = await freshResults();
    const writer = await CheckpointWriter.create(results);
    const model = tinyUnet(2);
    const written = await writer.write({
      config: CONFIG,
      saveWeights: (dir) => saveModelToDir(model, dir).then(() => undefined),
    });
    expect((await fsp.readdir(written.dir)).sort()).toEqual(['config.json', 'model.json', 'weights.bin']);
    const sizes = await Promise.all(
      ['config.json', 'model.json', 'weights.bin'].map((f) => fsp.stat(path.join(written.dir, f))),
    );
    expect(written.sizeb).toBe(sizes.reduce((s, st) => s + st.size, 0));
    model.dispose();
  });

  test('config.json is checked before writing (spec C.2); `classes` is written as `out_classes`', async () => {
    const results = await freshResults();
    const writer = await CheckpointWriter.create(results);
    const bad = { ...CONFIG, class_title_to_idx: { bg: -1 } };
    await expect(writer.write({ config: bad, saveWeights: writeBytes(1) })).rejects.toThrow(
      /config\.json: field "class_title_to_idx\.bg": expected a non-negative integer index/,
    );
    expect(await fsp.readdir(results)).toEqual([]);
    const { out_classes: outClasses, ...rest } = CONFIG;
    const written = await writer.write({
      config: { ...rest, classes: outClasses },
      saveWeights: writeBytes(1),
    });
    const stored = JSON.parse(
      await fsp.readFile(path.join(written.dir, 'config.json'), 'utf8'),
    ) as ModelConfigJson;
    expect(stored.out_classes).toEqual(outClasses);
    expect(stored.classes).toBeUndefined();
  });

  test('subdir names are 8-digit zero-padded', () => {
    expect(checkpointSubdir(0)).toBe('00000000');
    expect(checkpointSubdir(42)).toBe('00000042');
    expect(checkpointSubdir(12345678)).toBe('12345678');
  });
});
