/**
 * @jest-environment ./test/onnx/ort-environment.js
 */
/**
 * The onnxruntime training engine against the tfjs one: the same loss, accuracy and gradients for every weight
 * of a U-Net (all its layer kinds: conv, BatchNorm in training mode, ReLU, max-pool, transposed conv, skip
 * concatenation, softmax head, the neutral class ignored), the same weights after whole steps (Adam and the
 * BatchNorm moving statistics included), no tensor leaks, and the engine choice with its fallbacks.
 */
import * as tf from '@tensorflow/tfjs';
import { onnx } from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { initBackend } from '../../src/backend/select';
import { TaskError } from '../../src/errors';
import { loadNetworkPlugin } from '../../src/network/load-plugin';
import { readLayerGraph } from '../../src/onnx/layer-graph';
import { buildTrainingGraph } from '../../src/onnx/training-graph';
import { makeEngineFactory, parseTrainEngine, type EngineRequest } from '../../src/training/engine-factory';
import { InProcessEngine } from '../../src/training/engine/in-process';
import { OnnxTrainEngine, oneHotNCHW } from '../../src/training/engine/onnx-engine';
import { Replica } from '../../src/training/engine/replica';
import { maxRelativeDifference, randomBatch, seedWeights, tinySegmenter, weightsOf } from './tiny-model';

const SIZE = 16;
const CLASSES = 3;
const IGNORE = 3; // labels drawn in [0, 3]: about a quarter of the pixels are neutral

beforeAll(async () => {
  await initBackend({ force: 'wasm', env: {} });
});

const unetPlugin = loadNetworkPlugin(require.resolve('../../plugin/unet'));

function unet(): tf.LayersModel {
  const settings = unetPlugin.parseSettings({ depth: 2, base_filters: 4, max_filters: 8 });
  const model = unetPlugin.build({ inputSize: { height: SIZE, width: SIZE }, numClasses: CLASSES, settings });
  seedWeights(model, 11); // the same float32 comparisons on every run
  return model;
}

/** A second model with exactly the first one's weights (the U-Net initialisers are random). */
function twin(model: tf.LayersModel): tf.LayersModel {
  const copy = unet();
  copy.setWeights(model.getWeights());
  return copy;
}

/** The engine on one onnxruntime thread, neutral pixels ignored. */
function onnxEngine(model: tf.LayersModel): Promise<OnnxTrainEngine> {
  return OnnxTrainEngine.create({
    model,
    learningRate: 0.001,
    ort,
    threads: 1,
    numClasses: CLASSES,
    ignoreIndex: IGNORE,
  });
}

function batch(seed: number) {
  return randomBatch({ n: 3, size: SIZE, labelMax: IGNORE, seed });
}

describe('the training graph (one step of the network as ONNX)', () => {
  it('computes the loss, the correct pixels and every gradient as tfjs does', async () => {
    const model = unet();
    const b = batch(1);
    const labels = Int32Array.from(b.y, (v) => (v === IGNORE ? -1 : v));
    const count = labels.filter((v) => v >= 0).length;
    const statsBefore = model.nonTrainableWeights.map((w) => w.read().clone());
    const tfjs = new Replica(model, { numClasses: CLASSES, ignoreIndex: IGNORE }).trainShard(b);
    model.nonTrainableWeights.forEach((w, i) => w.write(statsBefore[i]));

    const graph = buildTrainingGraph(readLayerGraph(model));
    const session = await ort.InferenceSession.create(graph.model, { intraOpNumThreads: 1 });
    const byName = new Map(model.weights.map((w) => [w.originalName.replace(/_\d+$/, ''), w]));
    const feeds: Record<string, ort.Tensor> = {
      x: new ort.Tensor('float32', b.x, [b.n, SIZE, SIZE, 3]),
      target: new ort.Tensor('float32', oneHotNCHW(labels, b.n, CLASSES, SIZE * SIZE), [
        b.n,
        CLASSES,
        SIZE,
        SIZE,
      ]),
      scale: new ort.Tensor('float32', Float32Array.of(1 / count), []),
    };
    for (const w of graph.weights) {
      const v = byName.get(`${w.layerName}/${w.weight}`);
      if (v === undefined) throw new Error(`no weight ${w.input}`);
      feeds[w.input] = new ort.Tensor('float32', v.read().dataSync() as Float32Array, w.shape);
    }
    const out = await session.run(feeds);
    expect(out.loss.data[0]).toBeCloseTo(tfjs.loss, 5);
    expect(out.correct.data[0]).toBe(tfjs.correct);

    // Every trainable weight gets a gradient, in the tfjs layout, equal to tfjs's own.
    expect(graph.weights).toHaveLength(model.trainableWeights.length);
    const ours = model.trainableWeights.map((v) => {
      const w = graph.weights.find(
        (g) => `${g.layerName}/${g.weight}` === v.originalName.replace(/_\d+$/, ''),
      );
      if (w === undefined) throw new Error(`no gradient for ${v.name}`);
      expect(w.shape).toEqual(v.shape);
      return out[w.grad].data as Float32Array;
    });
    const theirs = (tfjs.grads ?? []).map((g) => g.dataSync() as Float32Array);
    expect(maxRelativeDifference(ours, theirs)).toBeLessThan(1e-4);
    // The batch statistics are the ones tfjs folds into its moving averages: check one layer by hand.
    const bn = graph.batchNorms[0];
    const mean = out[bn.mean].data as Float32Array;
    expect(mean).toHaveLength(4);
    expect(Number.isFinite(mean[0])).toBe(true);

    await session.release();
    tfjs.grads?.forEach((g) => g.dispose());
    statsBefore.forEach((t) => t.dispose());
    model.dispose();
  });

  it.each(['train', 'eval'] as const)(
    'leaves no unused initializer or input in the %s graph (onnxruntime would warn about each on stderr)',
    (mode) => {
      const model = unet();
      const proto = onnx.ModelProto.decode(buildTrainingGraph(readLayerGraph(model), mode).model);
      const read = new Set((proto.graph?.node ?? []).flatMap((n) => n.input ?? []));
      const unused = [
        ...(proto.graph?.initializer ?? []).map((t) => t.name ?? ''),
        ...(proto.graph?.input ?? []).map((i) => i.name ?? ''),
      ].filter((name) => !read.has(name));
      expect(unused).toEqual([]);
      model.dispose();
    },
  );

  it('names the layer it cannot train (a strided conv) instead of building a wrong graph', () => {
    const model = tinySegmenter({ classes: CLASSES, size: 8, batchNorm: true });
    let error: unknown;
    try {
      buildTrainingGraph(readLayerGraph(model));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TaskError);
    expect(String((error as Error).message)).toMatch(/c2.*Conv2D|Conv2D.*c2/);
    expect(String((error as Error).message)).toMatch(/strided/);
    model.dispose();
  });
});

describe('the onnxruntime training engine', () => {
  it.each([true, false])(
    'takes the same steps and validates as the tfjs engine does (session in its own thread: %s)',
    async (ownThread) => {
      const a = unet();
      const b = twin(a);
      const loss = { numClasses: CLASSES, ignoreIndex: IGNORE };
      const onnxEngine = await OnnxTrainEngine.create({
        model: a,
        learningRate: 0.01,
        ort,
        threads: 1,
        ownThread,
        ...loss,
      });
      expect(onnxEngine.description).toBe(
        `onnxruntime (1 thread, ${ownThread ? 'own thread' : 'main thread'})`,
      );
      const tfjsEngine = new InProcessEngine({ model: b, learningRate: 0.01, ...loss });
      for (let step = 0; step < 3; step++) {
        const x = batch(10 + step);
        const r1 = await onnxEngine.trainStep(x);
        const r2 = await tfjsEngine.trainStep(x);
        expect(r1.applied).toBe(true);
        expect(r1.loss).toBeCloseTo(r2.loss, 4);
        expect(r1.accuracy).toBeCloseTo(r2.accuracy, 6);
        expect(r1.pixels).toBe(r2.pixels);
      }
      // Three Adam steps at a high rate amplify any gradient difference; they still agree closely. The
      // weights include the BatchNorm moving statistics.
      expect(maxRelativeDifference(weightsOf(a), weightsOf(b))).toBeLessThan(1e-3);
      const moments = async (e: { getOptimizer(): tf.Optimizer }) =>
        (await e.getOptimizer().getWeights()).slice(1).map((w) => w.tensor.dataSync() as Float32Array);
      expect(maxRelativeDifference(await moments(onnxEngine), await moments(tfjsEngine))).toBeLessThan(1e-3);
      // Validation: BatchNorm on the moving statistics the steps left, in both engines.
      const e1 = await onnxEngine.evalStep(batch(99));
      const e2 = await tfjsEngine.evalStep(batch(99));
      expect(Math.abs(e1.loss - e2.loss) / e2.loss).toBeLessThan(1e-3);
      expect(e1.pixels).toBe(e2.pixels);
      // A pixel whose two best classes are within rounding may flip; with these weights, few or none do.
      const moved = e1.confusion.reduce((acc, v, i) => acc + Math.abs(v - e2.confusion[i]), 0);
      expect(moved).toBeLessThanOrEqual(4);
      expect(e1.confusion.reduce((acc, v) => acc + v, 0)).toBe(e2.pixels);
      await onnxEngine.dispose();
      await tfjsEngine.dispose();
      a.dispose();
      b.dispose();
    },
  );

  it('keeps the tensor count flat from step to step', async () => {
    const model = unet();
    const engine = await onnxEngine(model);
    await engine.trainStep(batch(1)); // Adam creates its moments on the first step
    const counts: number[] = [];
    for (let i = 0; i < 3; i++) {
      await engine.trainStep(batch(2 + i));
      counts.push(tf.memory().numTensors);
    }
    expect(new Set(counts).size).toBe(1);
    await engine.dispose();
    model.dispose();
  });

  it('skips the step, without touching the weights, when every pixel is neutral', async () => {
    const model = unet();
    const engine = await onnxEngine(model);
    const before = weightsOf(model);
    const b = batch(5);
    b.y.fill(IGNORE);
    const r = await engine.trainStep(b);
    expect(r).toMatchObject({ applied: false, pixels: 0 });
    expect(maxRelativeDifference(weightsOf(model), before)).toBe(0);
    await engine.dispose();
    model.dispose();
  });
});

describe('engine choice (train_engine, TRAIN_ENGINE)', () => {
  function request(model: tf.LayersModel, engine: EngineRequest['engine']): EngineRequest {
    return {
      model,
      optimizer: tf.train.adam(0.001),
      learningRate: 0.001,
      numClasses: CLASSES,
      ignoreIndex: IGNORE,
      engine,
      computeWorkers: 1,
      backend: 'wasm',
      batchSize: 2,
      replica: {
        pluginModule: '',
        buildOptions: { inputSize: { height: 8, width: 8 }, numClasses: 3, settings: {} },
      },
    };
  }

  it('auto picks onnxruntime on wasm when every layer trains on it', async () => {
    const model = unet();
    const choice = await makeEngineFactory({ onnxThreads: 1 })(request(model, 'auto'));
    expect(choice.engine).toBeInstanceOf(OnnxTrainEngine);
    expect(choice.reason).toMatch(/every layer trains on it/);
    await choice.engine.dispose();
    model.dispose();
  });

  it('auto falls back to tfjs naming the layer onnxruntime cannot train, or why it did not load', async () => {
    const tiny = tinySegmenter({ classes: CLASSES, size: 8, batchNorm: true });
    const byLayer = await makeEngineFactory()(request(tiny, 'auto'));
    expect(byLayer.engine).toBeInstanceOf(InProcessEngine);
    expect(byLayer.reason).toMatch(/^onnxruntime not used: .*c2/);
    await byLayer.engine.dispose();

    const model = unet();
    const noOrt = await makeEngineFactory({ loadOrt: () => Promise.reject(new Error('no binding')) })(
      request(model, 'auto'),
    );
    expect(noOrt.engine).toBeInstanceOf(InProcessEngine);
    expect(noOrt.reason).toBe('onnxruntime not used: onnxruntime-node did not load: no binding');
    await noOrt.engine.dispose();
    tiny.dispose();
    model.dispose();
  });

  it('"onnxruntime" is a requirement: an error naming the field and the layer; "tfjs" never tries it', async () => {
    const tiny = tinySegmenter({ classes: CLASSES, size: 8, batchNorm: true });
    await expect(makeEngineFactory()(request(tiny, 'onnxruntime'))).rejects.toMatchObject({
      kind: 'config',
      context: { field: 'train_engine' },
      message: expect.stringMatching(/c2/),
    });
    const loadOrt = jest.fn(() => Promise.reject(new Error('must not be called')));
    const tfjsChoice = await makeEngineFactory({ loadOrt })(request(tiny, 'tfjs'));
    expect(tfjsChoice.engine).toBeInstanceOf(InProcessEngine);
    expect(tfjsChoice.reason).toBe('train_engine: tfjs');
    expect(loadOrt).not.toHaveBeenCalled();
    await tfjsChoice.engine.dispose();
    tiny.dispose();
  });

  it('a native tfjs backend keeps the steps under auto', async () => {
    const model = unet();
    const loadOrt = jest.fn(() => Promise.reject(new Error('must not be called')));
    const choice = await makeEngineFactory({ loadOrt })({ ...request(model, 'auto'), backend: 'node' });
    expect(choice.engine).toBeInstanceOf(InProcessEngine);
    expect(choice.reason).toMatch(/node is native/);
    expect(loadOrt).not.toHaveBeenCalled();
    await choice.engine.dispose();
    model.dispose();
  });

  it('TRAIN_ENGINE accepts the three settings and names itself when wrong', () => {
    expect(parseTrainEngine(undefined)).toBeUndefined();
    expect(parseTrainEngine(' ')).toBeUndefined();
    expect(parseTrainEngine('ONNXRuntime')).toBe('onnxruntime');
    expect(parseTrainEngine('tfjs')).toBe('tfjs');
    expect(() => parseTrainEngine('torch')).toThrow(/TRAIN_ENGINE|unknown training engine "torch"/);
  });
});
