/**
 * The data-parallel engine (worker threads, one wasm backend each) against the in-process engine: same
 * steps, identical replicas, errors from workers surfacing as errors, and clean shutdown. Runs the compiled
 * worker and plugin (ensureBuilt fails, asking for `npm run build`, when they are missing or stale).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/select';
import { TaskError } from '../../src/errors';
import { loadNetworkPlugin } from '../../src/network/load-plugin';
import { DataParallelEngine } from '../../src/training/engine/data-parallel';
import { InProcessEngine } from '../../src/training/engine/in-process';
import type { ReplicaSpec } from '../../src/training/engine/messages';
import { DIST, ROOT, ensureBuilt } from './built';
import { maxRelativeDifference, randomBatch, weightsOf } from './tiny-model';

const SIZE = 16;
const CLASSES = 3;
const IGNORE = 3;
const UNET = path.join(DIST, 'plugin/unet/index.js');
const UNET_SPEC: ReplicaSpec = {
  pluginModule: UNET,
  buildOptions: {
    inputSize: { height: SIZE, width: SIZE },
    numClasses: CLASSES,
    settings: { depth: 2, base_filters: 4, max_filters: 8 },
  },
};

/** A BatchNorm-free network as a plain JS plugin module, so workers can load it like any plugin. */
function writeTinyPlugin(dir: string, opts: { throwInWorkers?: boolean } = {}): string {
  const file = path.join(dir, opts.throwInWorkers ? 'boom-plugin.js' : 'tiny-plugin.js');
  const tfPath = require.resolve('@tensorflow/tfjs');
  writeFileSync(
    file,
    `const tf = require(${JSON.stringify(tfPath)});
const { isMainThread } = require('node:worker_threads');
class Boom extends tf.layers.Layer {
  computeOutputShape(s) { return s; }
  call(inputs) {
    if (!isMainThread) throw new Error('boom in a worker thread');
    return Array.isArray(inputs) ? inputs[0] : inputs;
  }
  static get className() { return 'Boom'; }
}
const THROW_IN_WORKERS = ${opts.throwInWorkers === true};
// Seeded weights: the comparison's float32 rounding then does not depend on the draw.
const seeded = (seed) => tf.initializers.glorotUniform({ seed });
function buildHead(features, o) {
  const logits = tf.layers.conv2d({ name: 'head_conv', filters: o.numClasses, kernelSize: 1, kernelInitializer: seeded(4) }).apply(features);
  return tf.layers.activation({ name: 'head_softmax', activation: 'softmax' }).apply(logits);
}
exports.network = {
  name: 'tiny', task: 'semantic_segmentation', inputs: [{ name: 'image', channels: 3 }], outputs: ['scores'], defaults: {}, settingsSchema: { type: 'object' }, headLayerNames: ['head_conv', 'head_softmax'],
  preprocessing: { mean: [0, 0, 0], std: [1, 1, 1] },
  parseSettings: (s) => s || {},
  buildHead,
  build(o) {
    const input = tf.input({ name: 'image', shape: [o.inputSize.height, o.inputSize.width, 3] });
    let x = tf.layers.conv2d({ name: 'c1', filters: 5, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: seeded(1) }).apply(input);
    x = tf.layers.conv2d({ name: 'c2', filters: 5, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: seeded(2) }).apply(x);
    x = tf.layers.conv2dTranspose({ name: 'up', filters: 4, kernelSize: 2, strides: 2, kernelInitializer: seeded(3) }).apply(x);
    if (THROW_IN_WORKERS) x = new Boom({ name: 'boom' }).apply(x);
    return tf.model({ name: 'tiny', inputs: input, outputs: buildHead(x, o) });
  },
};
`,
  );
  return file;
}

let tmp: string;
beforeAll(async () => {
  ensureBuilt();
  tmp = mkdtempSync(path.join(tmpdir(), 'engine-dp-'));
  await initBackend({ force: 'wasm', env: {} });
});

function build(spec: ReplicaSpec): tf.LayersModel {
  return loadNetworkPlugin(spec.pluginModule).build(spec.buildOptions);
}

/** Two engines from one initial model: runs `steps` steps of each on the same batches. */
async function compare(spec: ReplicaSpec, microBatches: number, batches: ReturnType<typeof randomBatch>[]) {
  const a = build(spec);
  const b = build(spec);
  b.setWeights(a.getWeights());
  const common = { learningRate: 0.01, numClasses: CLASSES, ignoreIndex: IGNORE };
  const inProcess = new InProcessEngine({ ...common, model: a, microBatches });
  const parallel = await DataParallelEngine.create({ ...common, model: b, replica: spec, workers: 1 });
  const results = [];
  for (const batch of batches)
    results.push([await inProcess.trainStep(batch), await parallel.trainStep(batch)]);
  const out = {
    results,
    inProcess: weightsOf(a),
    parallel: weightsOf(b),
    workers: await parallel.workerWeights(),
  };
  await inProcess.dispose();
  await parallel.dispose();
  expect(parallel.workerExitCodes()).toEqual([0]);
  a.dispose();
  b.dispose();
  return out;
}

describe('data-parallel training engine (worker threads)', () => {
  it('matches the in-process engine with as many micro-batches, BatchNorm statistics included (U-Net plugin)', async () => {
    const batches = [1, 2, 3].map((seed) => randomBatch({ n: 4, size: SIZE, labelMax: IGNORE, seed }));
    const r = await compare(UNET_SPEC, 2, batches);
    for (const [ip, dp] of r.results) {
      expect(dp.pixels).toBe(ip.pixels);
      expect(Math.abs(dp.loss - ip.loss)).toBeLessThan(1e-6 * ip.loss);
      expect(dp.accuracy).toBeCloseTo(ip.accuracy, 12);
    }
    // Same kernels on the same backend in the same order: equal up to float rounding in the combination.
    expect(maxRelativeDifference(r.parallel, r.inProcess)).toBeLessThan(1e-5);
    // Every replica holds exactly the main thread's weights (moving statistics included).
    expect(r.workers).toHaveLength(1);
    expect(maxRelativeDifference(r.workers[0], r.parallel)).toBe(0);
  });

  it('matches the plain in-process step when the network has no BatchNorm', async () => {
    const spec: ReplicaSpec = {
      pluginModule: writeTinyPlugin(tmp),
      buildOptions: { ...UNET_SPEC.buildOptions, settings: {} },
    };
    const batches = [4, 5].map((seed) => randomBatch({ n: 5, size: SIZE, labelMax: IGNORE, seed }));
    const r = await compare(spec, 1, batches);
    for (const [ip, dp] of r.results) expect(Math.abs(dp.loss - ip.loss)).toBeLessThan(1e-5 * ip.loss);
    // Shard means re-weighted by pixel counts vs one mean: float32 rounding only (see in-process.test.ts).
    expect(maxRelativeDifference(r.parallel, r.inProcess)).toBeLessThan(1e-4);
    expect(maxRelativeDifference(r.workers[0], r.parallel)).toBe(0);
  });

  it('evaluates in parallel with the same result as in-process', async () => {
    const model = build(UNET_SPEC);
    const common = { learningRate: 0.01, numClasses: CLASSES, ignoreIndex: IGNORE, model };
    const batch = randomBatch({ n: 3, size: SIZE, labelMax: IGNORE, seed: 9 });
    const inProcess = new InProcessEngine(common);
    const expected = await inProcess.evalStep(batch);
    const parallel = await DataParallelEngine.create({ ...common, replica: UNET_SPEC, workers: 1 });
    const got = await parallel.evalStep(batch);
    expect(got.pixels).toBe(expected.pixels);
    expect(Array.from(got.confusion)).toEqual(Array.from(expected.confusion));
    expect(Math.abs(got.loss - expected.loss)).toBeLessThan(1e-6 * expected.loss);
    await parallel.dispose();
    await inProcess.dispose();
    model.dispose();
  });

  it('surfaces a worker failure during a step as an error, and refuses further steps', async () => {
    // A plugin whose network throws inside worker threads only: the main thread's shard succeeds.
    const spec: ReplicaSpec = {
      pluginModule: writeTinyPlugin(tmp, { throwInWorkers: true }),
      buildOptions: { ...UNET_SPEC.buildOptions, settings: {} },
    };
    const model = build(spec);
    const engine = await DataParallelEngine.create({
      model,
      replica: spec,
      workers: 1,
      learningRate: 0.01,
      numClasses: CLASSES,
      ignoreIndex: IGNORE,
    });
    try {
      const tensors = tf.memory().numTensors;
      const batch = randomBatch({ n: 2, size: SIZE, labelMax: IGNORE, seed: 1 });
      await expect(engine.trainStep(batch)).rejects.toThrow(/^worker 1: boom in a worker thread/);
      expect(tf.memory().numTensors).toBe(tensors); // the main thread's shard gradients were freed
      await expect(engine.trainStep(batch)).rejects.toThrow(
        /stopped after an earlier failure: worker 1: boom/,
      );
    } finally {
      await engine.dispose();
      model.dispose();
    }
    expect(engine.workerExitCodes()).toEqual([0]);
  });

  it('fails to start with the plugin error (a config TaskError naming the module) and leaves no worker', async () => {
    const bad = path.join(tmp, 'not-a-plugin.js');
    writeFileSync(bad, 'exports.something = 1;\n');
    const model = build(UNET_SPEC);
    const err = await DataParallelEngine.create({
      model,
      replica: { ...UNET_SPEC, pluginModule: bad },
      workers: 2,
      learningRate: 0.01,
      numClasses: CLASSES,
      ignoreIndex: IGNORE,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskError);
    expect((err as TaskError).kind).toBe('config');
    expect((err as TaskError).message).toContain('not-a-plugin.js');
    expect((err as TaskError).message).toContain('no "network" export');
    model.dispose();
  });

  it('lets the process exit on its own after dispose (no hanging thread)', () => {
    const script = path.join(tmp, 'exit-check.js');
    writeFileSync(
      script,
      `const { initBackend } = require(${JSON.stringify(path.join(DIST, 'src/backend/select.js'))});
const { loadNetworkPlugin } = require(${JSON.stringify(path.join(DIST, 'src/network/load-plugin.js'))});
const { createTrainEngine } = require(${JSON.stringify(path.join(DIST, 'src/training/engine/index.js'))});
(async () => {
  await initBackend({ force: 'wasm', env: {} });
  const spec = ${JSON.stringify(UNET_SPEC)};
  const model = loadNetworkPlugin(spec.pluginModule).build(spec.buildOptions);
  const engine = await createTrainEngine({ model, replica: spec, workers: 2, learningRate: 0.01, numClasses: 3, ignoreIndex: null });
  const n = 3, px = n * 16 * 16;
  const r = await engine.trainStep({
    inputs: { image: { data: new Float32Array(px * 3).fill(0.1), shape: [n, 16, 16, 3] } },
    labels: { data: new Int32Array(px).fill(1), shape: [n, 16, 16] },
  });
  await engine.dispose();
  console.log(JSON.stringify({ description: engine.description, pixels: r.pixels, codes: engine.workerExitCodes() }));
})();
`,
    );
    const child = spawnSync(process.execPath, [script], { cwd: ROOT, timeout: 90_000, encoding: 'utf8' });
    expect(child.signal).toBeNull(); // not killed by the timeout
    expect(child.status).toBe(0);
    const last = JSON.parse(child.stdout.trim().split('\n').pop() as string);
    expect(last).toEqual({
      description: 'data-parallel (main thread + 2 workers)',
      pixels: 3 * 256,
      codes: [0, 0],
    });
  });
});
