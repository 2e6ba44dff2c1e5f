/** @jest-environment ./test/onnx/ort-environment.js */
/**
 * A checkpoint's network is checked against its plugin's declaration (src/inference/model-shapes.ts): every
 * declared input at config.json's input size with its channels, every declared output with the channels its task
 * expects, in model.json (checkpoint.ts) as in model.onnx (onnx-reuse.ts). A network of two inputs passes; a
 * wrong channel count on its second input fails, naming that input by its declared name.
 */
import { mkdtempSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { onnx } from 'onnx-proto';
import { loadCheckpointModel, readInferenceCheckpoint } from '../../src/inference/checkpoint';
import { initTfjsBackend, loadEngine } from '../../src/inference/engine-loader';
import { classScoresExpected, shapeMismatch, type ExpectedNetwork } from '../../src/inference/model-shapes';
import { reusableOnnx } from '../../src/inference/onnx-reuse';
import { loadNetworkPlugin } from '../../src/network/load-plugin';
import { exportCheckpointToOnnx } from '../../src/onnx';
import { twoInputBatch, writeTwoInputPlugin } from '../engine/two-input-plugin';
import { writeModelCheckpoint } from '../helpers/model-checkpoint';

const SIZE = 8;
const CLASSES = 3;
let root: string;
let dir: string;

const plugin = loadNetworkPlugin(writeTwoInputPlugin(mkdtempSync(path.join(os.tmpdir(), 'declared-'))));
/** The plugin's declaration: image (3 channels) and hint (1), scores of the class map's channels. */
const declared = (): ExpectedNetwork => classScoresExpected(CLASSES, plugin);
/** The same with a second input of two channels, which the network does not take. */
const wrongHint = (): ExpectedNetwork => ({
  ...declared(),
  inputs: [plugin.inputs[0], { name: 'hint', channels: 2 }],
});

beforeAll(async () => {
  await tf.setBackend('cpu');
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'declared-shapes-'));
  dir = path.join(root, 'model');
  const model = plugin.build({ inputSize: { height: SIZE, width: SIZE }, numClasses: CLASSES, settings: {} });
  await writeModelCheckpoint(dir, model, {
    size: SIZE,
    classes: ['bg', 'a', 'b'],
    extra: { network: 'two-input', preprocessing: plugin.preprocessing },
  });
  model.dispose();
  await exportCheckpointToOnnx({ checkpointDir: dir, outFile: path.join(dir, 'model.onnx') });
});

afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

const checkpoint = () => readInferenceCheckpoint({ dir, displayName: 'model' });

/** The checkpoint's engine from `modelDir` (onnxruntime when it loads), for the plugin's declaration. */
const load = async (modelDir: string) =>
  loadEngine({
    checkpoint: await checkpoint(),
    modelDir,
    intraOpNumThreads: 1,
    initTfjs: () => initTfjsBackend('cpu'),
    network: declared(),
  });

describe("model.json against the network's declaration", () => {
  it('a checkpoint of a network of two inputs passes', async () => {
    const model = await loadCheckpointModel(await checkpoint(), {
      dir,
      displayName: 'model',
      expected: declared(),
    });
    expect(model.inputs.map((t) => t.shape)).toEqual([
      [null, SIZE, SIZE, 3],
      [null, SIZE, SIZE, 1],
    ]);
    model.dispose();
  });

  it('a wrong channel count on the second input fails, naming the file and that input', async () => {
    const e = await loadCheckpointModel(await checkpoint(), {
      dir,
      displayName: 'model',
      expected: wrongHint(),
    }).catch((x: unknown) => x);
    expect(e).toMatchObject({ kind: 'model', context: { file: 'model/model.json' } });
    expect((e as Error).message).toContain(
      `the network takes [?, ${SIZE}, ${SIZE}, 1] as its input "hint", but config.json says input_size ` +
        `${SIZE}x${SIZE} and "hint" has 2 channel(s): [n, ${SIZE}, ${SIZE}, 2]: ` +
        'the weights and the config do not belong together',
    );
  });

  it('another count of inputs is a checkpoint of another plugin (the default: one RGB input)', async () => {
    const e = await loadCheckpointModel(await checkpoint(), { dir, displayName: 'model' }).catch(
      (x: unknown) => x,
    );
    expect((e as Error).message).toContain(
      'expected a network with 1 input(s) [image] and 1 output(s) [scores], found 2 and 1: ' +
        'this checkpoint was not made by this plugin',
    );
  });
});

describe("model.onnx against the network's declaration", () => {
  it('the model.onnx of a network of two inputs is reused, and runs by the declared names', async () => {
    expect(await reusableOnnx(dir, await checkpoint(), declared())).toHaveProperty('bytes');
    const loaded = await load(dir);
    try {
      expect(loaded.report.onnxSource).toMatch(/^model.onnx from the checkpoint/);
      const b = twoInputBatch({ n: 2, size: SIZE, labelMax: 2, seed: 3 });
      const out = await loaded.engine.runNamed(b.inputs);
      expect(out.scores.shape).toEqual([2, SIZE, SIZE, CLASSES]);
    } finally {
      await loaded.close();
    }
  });

  it('a model.onnx whose second input has other channels is refused, the reason naming that input', async () => {
    // Its weights hash still matches: only the declared shape tells it apart.
    const bad = path.join(root, 'bad-hint');
    await fs.cp(dir, bad, { recursive: true });
    const file = path.join(bad, 'model.onnx');
    const proto = onnx.ModelProto.decode(await fs.readFile(file));
    const hint = proto.graph!.input![1];
    hint.type!.tensorType!.shape!.dim![3].dimValue = 2;
    await fs.writeFile(file, onnx.ModelProto.encode(proto).finish());
    const verdict = await reusableOnnx(bad, await checkpoint(), declared());
    expect(verdict).toEqual({
      reason:
        `model.onnx does not fit config.json: the network takes [N, ${SIZE}, ${SIZE}, 2] as its input "hint", ` +
        `but config.json says input_size ${SIZE}x${SIZE} and "hint" has 1 channel(s): [n, ${SIZE}, ${SIZE}, 1]`,
    });
    // The engine then exports the network from its layers, saying why.
    const loaded = await load(bad);
    expect(loaded.report.onnxSource).toMatch(/^exported in memory: model.onnx does not fit.*input "hint"/);
    await loaded.close();
  });
});

describe('shapeMismatch', () => {
  it('names inputs recorded under the declared names in another order', () => {
    const t = (name: string, c: number) => ({ name, shape: [null, SIZE, SIZE, c] });
    const size = { height: SIZE, width: SIZE };
    expect(
      shapeMismatch({ inputs: [t('image', 3), t('hint', 1)], outputs: [t('x', 3)] }, declared(), size),
    ).toBe(null);
    expect(
      shapeMismatch({ inputs: [t('hint', 1), t('image', 3)], outputs: [t('x', 3)] }, declared(), size),
    ).toEqual({
      kind: 'tensor',
      message: 'the network has its inputs in the order [hint, image], its plugin declares [image, hint]',
    });
  });
});
