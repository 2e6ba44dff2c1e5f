/** @jest-environment ./test/onnx/ort-environment.js */
/**
 * Reusing a checkpoint's model.onnx (src/inference/onnx-reuse.ts, engine-loader.ts): only when the weights hash
 * recorded at export matches model.json + weights.bin; otherwise the network is exported in memory, and the
 * engine report says which and why.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { onnx } from 'onnx-proto';
import { readInferenceCheckpoint, loadCheckpointModel } from '../../src/inference/checkpoint';
import { initTfjsBackend, loadEngine } from '../../src/inference/engine-loader';
import { saveModelToDir } from '../../src/network/io';
import {
  checkpointWeightsHash,
  exportCheckpointToOnnx,
  EXPORTER_VERSION_KEY,
  modelWeightsHash,
  WEIGHTS_HASH_KEY,
} from '../../src/onnx';
import { tinyUnetCheckpoint } from '../inference/helpers/tiny-checkpoint';

let root: string;
let source: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'onnx-reuse-'));
  source = path.join(root, 'source');
  await tinyUnetCheckpoint({ outDir: source, size: 16 });
});

afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

/** A copy of the checkpoint with a freshly exported model.onnx. */
async function checkpointWithOnnx(name: string): Promise<string> {
  const dir = path.join(root, name);
  await fs.cp(source, dir, { recursive: true });
  await fs.rm(path.join(dir, 'model.onnx'), { force: true });
  await exportCheckpointToOnnx({ checkpointDir: dir, outFile: path.join(dir, 'model.onnx') });
  return dir;
}

async function load(dir: string) {
  const checkpoint = await readInferenceCheckpoint({ dir, displayName: 'model' });
  return loadEngine({
    checkpoint,
    modelDir: dir,
    intraOpNumThreads: 1,
    initTfjs: () => initTfjsBackend('cpu'),
  });
}

async function scores(dir: string): Promise<Float32Array> {
  const loaded = await load(dir);
  try {
    const x = new Float32Array(2 * 16 * 16 * 3).map((_, i) => Math.sin(i));
    return (await loaded.engine.run(x, 2)).slice();
  } finally {
    await loaded.close();
  }
}

describe('weights hash', () => {
  it('is the same from the model in memory and from its saved files, with or without optimizer state', async () => {
    const checkpoint = await readInferenceCheckpoint({ dir: source, displayName: 'model' });
    const model = await loadCheckpointModel(checkpoint, { dir: source, displayName: 'model' });
    try {
      const inMemory = modelWeightsHash(model);
      expect(inMemory).toMatch(/^[0-9a-f]{64}$/);
      expect(await checkpointWeightsHash(source)).toBe(inMemory);
      const withOptimizer = path.join(root, 'with-optimizer');
      const optimizer = tf.train.adam(0.01);
      // One step on the first class's mean score (the mean over all classes is constant), so the optimizer
      // has state to save and the weights change.
      optimizer.minimize(() => {
        const y = model.predict(tf.ones([1, 16, 16, 3])) as tf.Tensor;
        return tf.mean(y.slice([0, 0, 0, 0], [1, 16, 16, 1])) as tf.Scalar;
      });
      await saveModelToDir(model, withOptimizer, { optimizer });
      const manifest = JSON.parse(await fs.readFile(path.join(withOptimizer, 'model.json'), 'utf8')) as {
        weightsManifest: { weights: { group?: string }[] }[];
      };
      expect(manifest.weightsManifest[0].weights.some((w) => w.group === 'optimizer')).toBe(true);
      const after = modelWeightsHash(model);
      expect(after).not.toBe(inMemory); // the step changed the weights
      expect(await checkpointWeightsHash(withOptimizer)).toBe(after);
    } finally {
      model.dispose();
    }
  });

  it('is null for files it cannot read', async () => {
    expect(await checkpointWeightsHash(path.join(root, 'missing'))).toBeNull();
  });
});

describe("a checkpoint's model.onnx", () => {
  it('runs when its weights hash matches, with the scores of the exported network', async () => {
    const dir = await checkpointWithOnnx('fresh');
    const loaded = await load(dir);
    expect(loaded.report).toMatchObject({
      name: 'onnxruntime',
      onnxSource: expect.stringMatching(/^model.onnx from/),
    });
    expect(loaded.report.tfjsBackend).toBeUndefined(); // tfjs was not needed
    await loaded.close();
    const exported = path.join(root, 'exported');
    await fs.cp(source, exported, { recursive: true });
    await fs.rm(path.join(exported, 'model.onnx'), { force: true });
    expect(await scores(dir)).toEqual(await scores(exported));
  });

  it.each([
    ['absent', /exported in memory: the checkpoint has no model.onnx/],
    ['stale', /exported in memory: model.onnx is stale/],
    ['without a hash', /exported in memory: model.onnx records no weights hash/],
    ['from an older exporter', /exported in memory: model.onnx was written by an older exporter/],
    [
      'from another exporter version',
      /exported in memory: model.onnx was written by version 1 of the exporter/,
    ],
  ])('%s: the network is exported in memory instead, and the report says why', async (kind, why) => {
    const dir = await checkpointWithOnnx(`case-${kind}`);
    const onnxFile = path.join(dir, 'model.onnx');
    if (kind === 'absent') await fs.rm(onnxFile);
    if (kind === 'stale') {
      const weights = await fs.readFile(path.join(dir, 'weights.bin'));
      weights.writeFloatLE(weights.readFloatLE(0) + 0.5, 0); // the first model weight changes
      await fs.writeFile(path.join(dir, 'weights.bin'), weights);
    }
    if (kind === 'from an older exporter' || kind === 'from another exporter version') {
      const proto = onnx.ModelProto.decode(await fs.readFile(onnxFile));
      proto.metadataProps = proto.metadataProps.filter((p) => p.key !== EXPORTER_VERSION_KEY);
      if (kind === 'from another exporter version') {
        proto.metadataProps.push(
          onnx.StringStringEntryProto.create({ key: EXPORTER_VERSION_KEY, value: '1' }),
        );
      }
      await fs.writeFile(onnxFile, onnx.ModelProto.encode(proto).finish());
    }
    if (kind === 'without a hash') {
      const proto = onnx.ModelProto.decode(await fs.readFile(onnxFile));
      proto.metadataProps = proto.metadataProps.filter((p) => p.key !== WEIGHTS_HASH_KEY);
      await fs.writeFile(onnxFile, onnx.ModelProto.encode(proto).finish());
    }
    const loaded = await load(dir);
    expect(loaded.report).toMatchObject({
      name: 'onnxruntime',
      onnxSource: expect.stringMatching(why),
      tfjsBackend: { name: 'cpu' }, // loaded to export the network
    });
    await loaded.close();
  });
});
