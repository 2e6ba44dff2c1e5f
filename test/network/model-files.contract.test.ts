/**
 * The one tfjs-free reader of a checkpoint's network files (src/network/model-files.ts), used to load the
 * network (network/io.ts) and to hash its weights (onnx/weights-hash.ts).
 */
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { TaskError } from '../../src/errors';
import { loadModelFromDir, saveModelToDir } from '../../src/network/io';
import {
  MODEL_JSON_FILE,
  OPTIMIZER_GROUP,
  readModelFiles,
  WEIGHTS_FILE,
  weightBytes,
} from '../../src/network/model-files';
import { checkpointWeightsHash, modelWeightsHash } from '../../src/onnx/weights-hash';
import { builtFile } from '../contract/built';
import { tinyBatch, tinyUnet, trainStep, weightValues } from './tiny';

let tmp: string;
let plain: string;
let withOptimizer: string;
let model: tf.LayersModel;

beforeAll(async () => {
  await tf.setBackend('cpu');
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'model-files-'));
  model = tinyUnet(3);
  plain = path.join(tmp, 'plain');
  await saveModelToDir(model, plain);
  const adam = tf.train.adam(0.01);
  const batch = tinyBatch(2, 3, 5);
  trainStep(model, adam, batch);
  tf.dispose([batch.x, batch.y]);
  withOptimizer = path.join(tmp, 'with-optimizer');
  await saveModelToDir(model, withOptimizer, { optimizer: adam });
  adam.dispose();
});

afterAll(async () => {
  model.dispose();
  await fsp.rm(tmp, { recursive: true, force: true });
});

async function copyOf(dir: string, name: string): Promise<string> {
  const to = path.join(tmp, name);
  await fsp.cp(dir, to, { recursive: true });
  return to;
}

describe('reading a model folder without tfjs', () => {
  it("gives each weight's bytes, the model's and the optimizer's, in manifest order", async () => {
    const files = await readModelFiles(withOptimizer);
    expect(files.jsonPath).toBe(path.join(withOptimizer, MODEL_JSON_FILE));
    expect(files.groups).toHaveLength(1);
    const [group] = files.groups;
    expect(group.data).toEqual(await fsp.readFile(path.join(withOptimizer, WEIGHTS_FILE)));
    const all = [...weightBytes(group.specs, group.data, files.jsonPath)];
    const modelPart = all.filter((w) => w.spec.group !== OPTIMIZER_GROUP);
    expect(all.length).toBeGreaterThan(modelPart.length); // Adam's moments and iteration count
    const expected = weightValues(model);
    expect(modelPart.map((w) => w.spec.name)).toEqual(model.weights.map((w) => w.originalName));
    for (const w of modelPart) {
      expect(new Float32Array(w.bytes.slice().buffer)).toEqual(expected.get(w.spec.name));
    }
  });

  it('reads a group split over several shards as the one file it was', async () => {
    const dir = await copyOf(withOptimizer, 'sharded');
    const bin = await fsp.readFile(path.join(dir, WEIGHTS_FILE));
    const cut = Math.floor(bin.length / 3);
    await fsp.mkdir(path.join(dir, 'shards'));
    await fsp.writeFile(path.join(dir, 'shards', 'a.bin'), bin.subarray(0, cut));
    await fsp.writeFile(path.join(dir, 'b.bin'), bin.subarray(cut));
    await fsp.rm(path.join(dir, WEIGHTS_FILE));
    const json = JSON.parse(await fsp.readFile(path.join(dir, MODEL_JSON_FILE), 'utf8')) as {
      weightsManifest: { paths: string[] }[];
    };
    json.weightsManifest[0].paths = ['shards/a.bin', 'b.bin'];
    await fsp.writeFile(path.join(dir, MODEL_JSON_FILE), JSON.stringify(json));
    const files = await readModelFiles(dir);
    expect(files.groups[0].data).toEqual(bin);
    // Both users read it the same way: the hash, and the network loaded in tfjs.
    expect(await checkpointWeightsHash(dir)).toBe(modelWeightsHash(model));
    const loaded = await loadModelFromDir(dir);
    expect(weightValues(loaded)).toEqual(weightValues(model));
    loaded.dispose();
  });

  it('a truncated weights file is a model error naming it; the hash is then null', async () => {
    const dir = await copyOf(plain, 'truncated');
    const bin = await fsp.readFile(path.join(dir, WEIGHTS_FILE));
    await fsp.writeFile(path.join(dir, WEIGHTS_FILE), bin.subarray(0, bin.length - 4));
    const err = await readModelFiles(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskError);
    expect(err).toMatchObject({ kind: 'model', context: { file: path.join(dir, WEIGHTS_FILE) } });
    expect((err as Error).message).toMatch(/holds \d+ bytes but model\.json describes/);
    expect(await checkpointWeightsHash(dir)).toBeNull();
  });

  it('weights that run past the data, or of a dtype without a size, are model errors', () => {
    const spec = { name: 'w', dtype: 'float32' as const, shape: [2, 2] };
    expect(() => [...weightBytes([spec], new Uint8Array(12), 'm.json')]).toThrow(/"w" runs past the end/);
    const text = { name: 's', dtype: 'string' as const, shape: [1] };
    expect(() => [...weightBytes([text], new Uint8Array(4), 'm.json')]).toThrow(/dtype string/);
    const ok = [...weightBytes([spec, { ...spec, name: 'v', shape: [1] }], new Uint8Array(20), 'm.json')];
    expect(ok.map((w) => [w.spec.name, w.bytes.byteOffset, w.bytes.byteLength])).toEqual([
      ['w', 0, 16],
      ['v', 16, 4],
    ]);
  });

  it('loads no tfjs (the built module, in a fresh process)', () => {
    const probe = [
      `const files = require(${JSON.stringify(builtFile('src/network/model-files.ts'))});`,
      `const hash = require(${JSON.stringify(builtFile('src/onnx/weights-hash.ts'))});`,
      `hash.checkpointWeightsHash(${JSON.stringify(plain)}).then((h) => {`,
      `  const tfjs = Object.keys(require.cache).some((k) => k.includes('@tensorflow'));`,
      `  console.log(JSON.stringify({ h, tfjs, reader: typeof files.readModelFiles }));`,
      `});`,
    ].join('\n');
    const r = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { h: string; tfjs: boolean; reader: string };
    expect(out).toEqual({ h: expect.stringMatching(/^[0-9a-f]{64}$/), tfjs: false, reader: 'function' });
  });
});
