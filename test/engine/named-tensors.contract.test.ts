/**
 * @jest-environment ./test/onnx/ort-environment.js
 */
/**
 * Named tensors (issue #13) on the engines that run elsewhere than in tfjs on this thread: a network of two
 * inputs trains on the onnxruntime engine (its training graph takes one graph input per model input) and on the
 * data-parallel engine (each input's shard crosses to the worker as a transferable), taking the tfjs in-process
 * engine's steps, and runs through the onnxruntime inference engine by name. Binding errors name the tensor.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/select';
import { chooseEngine } from '../../src/inference/engine/choose-engine';
import { TfjsEngine } from '../../src/inference/engine/tfjs-engine';
import { loadNetworkPlugin } from '../../src/network/load-plugin';
import { networkTensorNames } from '../../src/network/types';
import { readLayerGraph } from '../../src/onnx/layer-graph';
import { buildTrainingGraph } from '../../src/onnx/training-graph';
import type { Batch } from '../../src/training/engine/types';
import {
  agreesWithInProcess,
  dataParallelEngine,
  onnxruntimeEngine,
  type EngineSetup,
  type MakeEngine,
} from './agreement';
import { ensureBuilt } from './built';
import { maxRelativeDifference } from './tiny-model';
import { twoInputBatch, writeTwoInputPlugin } from './two-input-plugin';

const SIZE = 8;
const CLASSES = 3;
const IGNORE = 3;

let pluginModule: string;
beforeAll(async () => {
  ensureBuilt();
  pluginModule = writeTwoInputPlugin(mkdtempSync(path.join(tmpdir(), 'named-contract-')));
  setup.replica.pluginModule = pluginModule;
  await initBackend({ force: 'wasm', env: {} });
});

const buildOptions = { inputSize: { height: SIZE, width: SIZE }, numClasses: CLASSES, settings: {} };
const plugin = () => loadNetworkPlugin(pluginModule);
const build = (): tf.LayersModel => plugin().build(buildOptions);
const batch = (seed: number, n = 4): Batch => twoInputBatch({ n, size: SIZE, labelMax: IGNORE, seed });
const common = () => ({
  learningRate: 0.01,
  numClasses: CLASSES,
  ignoreIndex: IGNORE,
  tensorNames: networkTensorNames(plugin()),
});

const setup: EngineSetup = {
  options: common,
  replica: { pluginModule: '', buildOptions },
  build,
  batch: (seed) => batch(seed),
};

/** Three steps of `engine` and of the in-process engine from the same weights: the same losses and weights. */
function agrees(make: MakeEngine, tolerance: number) {
  return agreesWithInProcess(setup, make, tolerance, async (engine) => {
    // The wrong shape under a right name fails here too, naming it.
    const b1 = batch(5, 2);
    await expect(
      engine.trainStep({ ...b1, inputs: { image: b1.inputs.image, hint: b1.inputs.image } }),
    ).rejects.toThrow(`input "hint": expected shape [n, ${SIZE}, ${SIZE}, 1], got [2, ${SIZE}, ${SIZE}, 3]`);
  });
}

describe('a network of two named inputs', () => {
  it('the training graph takes one input per model input, named after its layer', () => {
    const model = build();
    const graph = buildTrainingGraph(readLayerGraph(model), 'train');
    expect(graph.inputs).toEqual([
      { input: 'x:rgb', layerName: 'rgb', shape: [SIZE, SIZE, 3] },
      { input: 'x:extra', layerName: 'extra', shape: [SIZE, SIZE, 1] },
    ]);
    model.dispose();
  });

  it.each([true, false])(
    'trains on the onnxruntime engine as on the tfjs one (session in its own thread: %s)',
    async (ownThread) => {
      await agrees(onnxruntimeEngine(setup, ownThread), 1e-3);
    },
  );

  it('trains on the data-parallel engine, the workers building it from the plugin, as in process', async () => {
    await agrees(dataParallelEngine(setup), 1e-5);
  });

  it('runs through the onnxruntime inference engine by name, as tfjs does', async () => {
    const model = build();
    const tensorNames = networkTensorNames(plugin());
    const choice = await chooseEngine({ model, force: 'onnxruntime', cuda: 'never', tensorNames });
    const tfjs = await TfjsEngine.create({ model, tensorNames });
    const b = batch(7, 3);
    const [o, t] = [await choice.engine.runNamed(b.inputs), await tfjs.runNamed(b.inputs)];
    expect(choice.engine.name).toBe('onnxruntime');
    expect(o.scores.shape).toEqual([3, SIZE, SIZE, CLASSES]);
    expect(maxRelativeDifference([o.scores.data], [t.scores.data])).toBeLessThan(1e-4);
    await expect(choice.engine.runNamed({ image: b.inputs.image })).rejects.toThrow(
      `the network's input "hint" [n, ${SIZE}, ${SIZE}, 1] is missing; given [image]`,
    );
    await choice.engine.dispose();
    await tfjs.dispose();
    model.dispose();
  });
});
