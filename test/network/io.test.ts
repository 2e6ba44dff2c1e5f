import { promises as fsp } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { TaskError } from '../../src/errors';
import {
  hasOptimizerState,
  loadModelFromDir,
  loadOptimizerStateFromDir,
  MODEL_JSON_FILE,
  readModelArtifacts,
  saveModelToDir,
  WEIGHTS_FILE,
} from '../../src/network/io';
import { predictArray, tinyBatch, tinyUnet, trainStep, weightValues } from './tiny';

let tmp: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'io-test-'));
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

async function freshDir(name: string): Promise<string> {
  const dir = path.join(tmp, name);
  await fsp.rm(dir, { recursive: true, force: true });
  return dir;
}

async function readJson(file: string): Promise<Record<string, unknown>> {
  return JSON.parse(await fsp.readFile(file, 'utf8')) as Record<string, unknown>;
}

async function expectModelError(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TaskError);
  expect((err as TaskError).kind).toBe('model');
  expect((err as TaskError).message).toMatch(pattern);
}

describe('model folder in the TensorFlow.js layers format (spec C.1: the plugin chooses its weight files)', () => {
  test('writes exactly model.json + weights.bin as tfjs-node does, and reads them back', async () => {
    const dir = await freshDir('roundtrip');
    const before = tf.memory().numTensors;
    const model = tinyUnet(3);
    const saved = await saveModelToDir(model, dir);
    expect((await fsp.readdir(dir)).sort()).toEqual([MODEL_JSON_FILE, WEIGHTS_FILE]);
    expect(saved.optimizerWeightBytes).toBe(0);

    const json = await readJson(path.join(dir, MODEL_JSON_FILE));
    // tfjs-node's NodeFileSystem.save: these keys in this order (trainingConfig etc. only when present).
    expect(Object.keys(json)).toEqual([
      'modelTopology',
      'weightsManifest',
      'format',
      'generatedBy',
      'convertedBy',
    ]);
    expect(json.format).toBe('layers-model');
    expect(json.generatedBy).toMatch(/^TensorFlow\.js tfjs-layers v4\./);
    const manifest = json.weightsManifest as { paths: string[]; weights: { name: string }[] }[];
    expect(manifest).toHaveLength(1);
    expect(manifest[0].paths).toEqual([WEIGHTS_FILE]);
    expect(manifest[0].weights.map((w) => w.name)).toEqual(model.weights.map((w) => w.originalName));
    const bin = await fsp.stat(path.join(dir, WEIGHTS_FILE));
    expect(bin.size).toBe(model.countParams() * 4);
    expect(saved.modelWeightBytes).toBe(bin.size);

    const loaded = await loadModelFromDir(dir);
    const { x, y } = tinyBatch(2, 3, 7);
    expect(predictArray(loaded, x)).toEqual(predictArray(model, x));
    expect(loaded.layers.map((l) => l.name)).toEqual(model.layers.map((l) => l.name));
    tf.dispose([x, y]);
    model.dispose();
    loaded.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  test("tfjs's own HTTP loader (the standard model.json + weights reader) reads the folder", async () => {
    const dir = await freshDir('http');
    const model = tinyUnet(2);
    await saveModelToDir(model, dir);
    const server = http.createServer((req, res) => {
      const name = path.basename(req.url ?? '');
      fsp.readFile(path.join(dir, name)).then(
        (body) => res.end(body),
        () => {
          res.statusCode = 404;
          res.end();
        },
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      // Objects made by Node's fetch come from outside jest's sandbox, which tfjs's iteration helpers reject;
      // re-parse the JSON inside the sandbox. Everything else (URL resolution, shards, decoding) is tfjs's own.
      const fetchFunc = async (url: string, init?: RequestInit) => {
        const res = await fetch(url, init);
        const body = Buffer.from(await res.arrayBuffer());
        return {
          ok: res.ok,
          status: res.status,
          json: async () => JSON.parse(body.toString('utf8')) as unknown,
          arrayBuffer: async () => body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength),
        };
      };
      const url = `http://127.0.0.1:${port}/${MODEL_JSON_FILE}`;
      // tfjs only calls ok, status, json() and arrayBuffer() on what fetchFunc returns.
      const loaded = await tf.loadLayersModel(
        tf.io.http(url, { fetchFunc: fetchFunc as unknown as typeof fetch }),
      );
      const { x, y } = tinyBatch(1, 2, 3);
      expect(predictArray(loaded, x)).toEqual(predictArray(model, x));
      tf.dispose([x, y]);
      loaded.dispose();
    } finally {
      server.close();
      model.dispose();
    }
  });

  test('reads any shard list: weights split over several files and manifest groups', async () => {
    const dir = await freshDir('shards');
    const model = tinyUnet(2);
    await saveModelToDir(model, dir);
    const json = await readJson(path.join(dir, MODEL_JSON_FILE));
    const [group] = json.weightsManifest as { paths: string[]; weights: { shape: number[] }[] }[];
    const bin = await fsp.readFile(path.join(dir, WEIGHTS_FILE));
    // Group 1: the first three weights in two shards; group 2: the rest in one shard.
    const firstBytes = group.weights
      .slice(0, 3)
      .reduce((s, w) => s + 4 * w.shape.reduce((p, d) => p * d, 1), 0);
    const cut = Math.floor(firstBytes / 2);
    await fsp.writeFile(path.join(dir, 'group1-shard1of2.bin'), bin.subarray(0, cut));
    await fsp.writeFile(path.join(dir, 'group1-shard2of2.bin'), bin.subarray(cut, firstBytes));
    await fsp.writeFile(path.join(dir, 'group2-shard1of1.bin'), bin.subarray(firstBytes));
    await fsp.rm(path.join(dir, WEIGHTS_FILE));
    json.weightsManifest = [
      { paths: ['group1-shard1of2.bin', 'group1-shard2of2.bin'], weights: group.weights.slice(0, 3) },
      { paths: ['group2-shard1of1.bin'], weights: group.weights.slice(3) },
    ];
    await fsp.writeFile(path.join(dir, MODEL_JSON_FILE), JSON.stringify(json));

    const loaded = await loadModelFromDir(dir);
    const { x, y } = tinyBatch(1, 2, 5);
    expect(predictArray(loaded, x)).toEqual(predictArray(model, x));
    tf.dispose([x, y]);
    loaded.dispose();
    model.dispose();
  });

  describe('missing or corrupt files are model errors naming the file', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await freshDir('broken');
      const model = tinyUnet(2);
      await saveModelToDir(model, dir);
      model.dispose();
    });

    test('missing model.json', async () => {
      await fsp.rm(path.join(dir, MODEL_JSON_FILE));
      await expectModelError(loadModelFromDir(dir), new RegExp(`${dir}/model\\.json: file not found`));
    });

    test('missing weights.bin', async () => {
      await fsp.rm(path.join(dir, WEIGHTS_FILE));
      await expectModelError(loadModelFromDir(dir), new RegExp(`${dir}/weights\\.bin: file not found`));
    });

    test('truncated weights.bin', async () => {
      const bin = await fsp.readFile(path.join(dir, WEIGHTS_FILE));
      await fsp.writeFile(path.join(dir, WEIGHTS_FILE), bin.subarray(0, bin.length - 8));
      await expectModelError(
        loadModelFromDir(dir),
        new RegExp(`weights\\.bin: holds ${bin.length - 8} bytes but model\\.json describes ${bin.length}`),
      );
    });

    test('invalid JSON', async () => {
      await fsp.writeFile(path.join(dir, MODEL_JSON_FILE), '{"modelTopology": ');
      await expectModelError(readModelArtifacts(dir), /model\.json: invalid JSON/);
    });

    test('not a layers model', async () => {
      await fsp.writeFile(
        path.join(dir, MODEL_JSON_FILE),
        JSON.stringify({ format: 'graph-model', modelTopology: {} }),
      );
      await expectModelError(readModelArtifacts(dir), /model\.json: field "format": format is "graph-model"/);
    });

    test('a manifest path leaving the folder', async () => {
      const json = await readJson(path.join(dir, MODEL_JSON_FILE));
      (json.weightsManifest as { paths: string[] }[])[0].paths = ['../weights.bin'];
      await fsp.writeFile(path.join(dir, MODEL_JSON_FILE), JSON.stringify(json));
      await expectModelError(
        readModelArtifacts(dir),
        /field "weightsManifest\[0\]\.paths": "\.\.\/weights\.bin" points outside/,
      );
    });

    test('a topology tfjs cannot build', async () => {
      const json = await readJson(path.join(dir, MODEL_JSON_FILE));
      const topology = json.modelTopology as { config: { layers: { class_name: string }[] } };
      topology.config.layers[1].class_name = 'NoSuchLayer';
      await fsp.writeFile(path.join(dir, MODEL_JSON_FILE), JSON.stringify(json));
      await expectModelError(loadModelFromDir(dir), /model\.json: cannot build the model: .*NoSuchLayer/);
    });
  });

  test('with the optimizer state, training resumes exactly (Adam moments and iteration count)', async () => {
    const dir = await freshDir('resume');
    const before = tf.memory().numTensors;
    const batches = [1, 2, 3].map((seed) => tinyBatch(2, 3, seed * 10));
    const original = tinyUnet(3);
    const adam = tf.train.adam(0.01);
    trainStep(original, adam, batches[0]);
    trainStep(original, adam, batches[1]);
    const saved = await saveModelToDir(original, dir, { optimizer: adam });
    expect(saved.optimizerWeightBytes).toBeGreaterThan(0);
    expect(await hasOptimizerState(dir)).toBe(true);

    // Names in the file are the stable weight names, even though this process has uniquified variable names.
    const json = await readJson(path.join(dir, MODEL_JSON_FILE));
    const specs = (json.weightsManifest as { weights: { name: string; group?: string }[] }[])[0].weights;
    const optimizerNames = specs.filter((s) => s.group === 'optimizer').map((s) => s.name);
    expect(optimizerNames[0]).toBe('iter');
    expect(optimizerNames).toContain('enc0_conv1/kernel/m');
    expect(optimizerNames).toContain('head_conv/bias/v');
    expect(optimizerNames).toHaveLength(1 + 2 * original.trainableWeights.length);

    const resumedAdam = tf.train.adam(0.01);
    const resumed = await loadModelFromDir(dir, { optimizer: resumedAdam });
    // A control: the same weights with a fresh optimizer do not follow the same path.
    const control = await loadModelFromDir(dir);
    const controlAdam = tf.train.adam(0.01);

    trainStep(original, adam, batches[2]);
    trainStep(resumed, resumedAdam, batches[2]);
    trainStep(control, controlAdam, batches[2]);
    const a = weightValues(original);
    const b = weightValues(resumed);
    const c = weightValues(control);
    // Not bit-identical: the resumed Adam recomputes beta^t with pow() where the original multiplied t times,
    // which moves the last float bit. A fresh optimizer is off by orders of magnitude more.
    const resumedDiff = maxAbsDiff(a, b);
    const controlDiff = maxAbsDiff(a, c);
    expect(resumedDiff).toBeLessThan(1e-6);
    expect(controlDiff).toBeGreaterThan(1e-3);
    expect(controlDiff / Math.max(resumedDiff, 1e-12)).toBeGreaterThan(1000);

    for (const m of [original, resumed, control]) m.dispose();
    for (const o of [adam, resumedAdam, controlAdam]) o.dispose();
    tf.dispose(batches.flatMap((bt) => [bt.x, bt.y]));
    expect(tf.memory().numTensors).toBe(before);
  });

  test('restoring optimizer state that is absent or belongs to another network is an error', async () => {
    const plain = await freshDir('no-optimizer');
    const model = tinyUnet(2);
    await saveModelToDir(model, plain);
    expect(await hasOptimizerState(plain)).toBe(false);
    await expectModelError(
      loadModelFromDir(plain, { optimizer: tf.train.adam(0.01) }),
      /no optimizer state is stored/,
    );

    const withState = await freshDir('other-optimizer');
    const adam = tf.train.adam(0.01);
    const batch = tinyBatch(1, 2, 1);
    trainStep(model, adam, batch);
    await saveModelToDir(model, withState, { optimizer: adam });
    const other = tf.sequential({ layers: [tf.layers.dense({ name: 'other', units: 1, inputShape: [1] })] });
    await expectModelError(
      loadOptimizerStateFromDir({ dir: withState, optimizer: tf.train.adam(0.01), model: other }),
      /optimizer state "enc0_conv1\/kernel\/m" refers to a weight this model does not train/,
    );
    tf.dispose([batch.x, batch.y]);
    model.dispose();
    other.dispose();
    adam.dispose();
  });
});

function maxAbsDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  let max = 0;
  for (const [name, values] of a) {
    const other = b.get(name);
    if (other === undefined || other.length !== values.length) return Infinity;
    values.forEach((v, i) => (max = Math.max(max, Math.abs(v - other[i]))));
  }
  return max;
}

describe('non-finite weights (a diverged network) are refused, naming the weight', () => {
  it('when saving: nothing is written', async () => {
    const model = tinyUnet(2);
    const w = model.getWeights();
    const bad = w.map((t, i) => (i === 1 ? tf.fill(t.shape, Number.NaN) : t));
    model.setWeights(bad);
    const dir = await freshDir('nan-save');
    await expectModelError(saveModelToDir(model, dir), /weight .* has a non-finite value \(NaN\).*diverged/);
    await expect(fsp.stat(path.join(dir, WEIGHTS_FILE))).rejects.toThrow();
    model.dispose();
  });

  it('when loading a checkpoint whose weights.bin holds Infinity', async () => {
    const model = tinyUnet(2);
    const dir = await freshDir('inf-load');
    await saveModelToDir(model, dir);
    model.dispose();
    const bytes = await fsp.readFile(path.join(dir, WEIGHTS_FILE));
    new DataView(bytes.buffer, bytes.byteOffset).setFloat32(8, Number.POSITIVE_INFINITY, true);
    await fsp.writeFile(path.join(dir, WEIGHTS_FILE), bytes);
    await expectModelError(
      loadModelFromDir(dir),
      /non-finite value \(Infinity\) at index 2: the checkpoint holds a diverged/,
    );
  });
});
