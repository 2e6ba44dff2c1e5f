/** @jest-environment ./test/onnx/ort-environment.js */
/**
 * The inference network in a worker thread (src/inference/network-thread.ts), spec F.2: the results project
 * must be the same whether the network runs on the main thread or in its own thread. The worker script exists
 * only compiled, so this runs the built code: `npx tsc -p tsconfig.build.json` first.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateSyntheticProject } from '../../src/example/synthetic-project';
import { exportCheckpointToOnnx } from '../../src/onnx';
import { createLogger, memorySink } from '../../src/protocol';
import { resolveInferenceConfig } from '../../src/task/inference-config';
import { taskPathsAt } from '../../src/task/paths';
import { UNET_DEFAULT_MODE } from '../../plugin/unet/mode';
import type * as RunModule from '../../src/inference/run';
import type * as ErrorsModule from '../../src/errors';
import type * as ThreadModule from '../../src/inference/network-thread';
import type * as RunnerModule from '../../src/inference/network-runner';
import type * as CheckpointModule from '../../src/inference/checkpoint';
import { builtFile } from '../contract/built';
import { tinyUnetCheckpoint } from './helpers/tiny-checkpoint';

// The compiled modules, loaded at run time once builtFile has checked they are fresh: their __dirname is in
// dist/, where the worker script is.
/* eslint-disable @typescript-eslint/no-require-imports */
const built = {
  run: (): typeof RunModule => require(builtFile('src/inference/run.ts')) as typeof RunModule,
  thread: (): typeof ThreadModule => {
    builtFile('src/inference/network-thread-worker.ts');
    return require(builtFile('src/inference/network-thread.ts')) as typeof ThreadModule;
  },
  errors: (): typeof ErrorsModule => require(builtFile('src/errors.ts')) as typeof ErrorsModule,
  runner: (): typeof RunnerModule =>
    require(builtFile('src/inference/network-runner.ts')) as typeof RunnerModule,
  checkpoint: (): typeof CheckpointModule =>
    require(builtFile('src/inference/checkpoint.ts')) as typeof CheckpointModule,
};
/* eslint-enable @typescript-eslint/no-require-imports */

let root: string;
let modelDir: string;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'infer-thread-'));
  modelDir = path.join(root, 'model');
  await tinyUnetCheckpoint({ outDir: modelDir, size: 32 });
});

afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

async function makeTask(name: string): Promise<string> {
  const dir = path.join(root, name);
  await generateSyntheticProject({
    dir: path.join(dir, 'data'),
    projectName: 'p',
    datasets: [{ name: 'ds', count: 5 }],
    width: 80,
    height: 48,
    imageFormat: 'jpeg',
    seed: 3,
  });
  await fs.cp(modelDir, path.join(dir, 'model'), { recursive: true });
  await fs.mkdir(path.join(dir, 'results'));
  return dir;
}

/** Runs the built inference task; returns every result annotation's text by item, and the log lines. */
async function runBuilt(
  dir: string,
  mode: Record<string, unknown>,
  options: Parameters<typeof RunModule.runInference>[1],
): Promise<{ anns: Map<string, string>; lines: Record<string, unknown>[] }> {
  const sink = memorySink();
  const logger = createLogger({ sink: sink.sink, level: 'debug' });
  const { modelConfig, modeConfig } = resolveInferenceConfig(
    { model: { batch_size: 2 }, mode },
    { defaultModeConfig: UNET_DEFAULT_MODE },
  );
  const summary = await built
    .run()
    .runInference({ paths: taskPathsAt(dir), modelConfig, modeConfig, logger }, options);
  const annDir = path.join(summary.resultsDir, 'ds', 'ann');
  const anns = new Map<string, string>();
  for (const f of (await fs.readdir(annDir)).sort())
    anns.set(f, await fs.readFile(path.join(annDir, f), 'utf8'));
  return { anns, lines: sink.lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('network in a worker thread (spec F.2)', () => {
  it.each([
    ['onnxruntime', { name: 'full_image' }],
    ['tfjs', { name: 'full_image' }],
    [
      'onnxruntime',
      {
        name: 'sliding_window',
        window: { width: 32, height: 32 },
        min_overlap: { x: 8, y: 8 },
        model_classes: { add_suffix: '_m' },
      },
    ],
  ] as const)('%s, %j: the same results as on the main thread', async (engine, mode) => {
    const threaded = await runBuilt(await makeTask(`t-${engine}-${mode.name}`), mode, {
      engine,
      networkThreads: 2,
    });
    const inline = await runBuilt(await makeTask(`m-${engine}-${mode.name}`), mode, {
      engine,
      networkThreads: 0,
    });
    const engineLine = (lines: Record<string, unknown>[]) =>
      lines.find((l) => l.message === 'Inference engine');
    expect(engineLine(threaded.lines)).toMatchObject({ engine, network_threads: 2 });
    expect(engineLine(inline.lines)).toMatchObject({ engine, network_threads: 0 });
    expect(threaded.anns.size).toBe(5);
    expect([...threaded.anns.keys()]).toEqual([...inline.anns.keys()]);
    for (const [name, text] of threaded.anns) expect(text).toBe(inline.anns.get(name));
  });

  it("runs the checkpoint's model.onnx in the threads without loading tfjs, with the same results", async () => {
    const withFile = await makeTask('t-onnx-file');
    const model = path.join(withFile, 'model');
    await exportCheckpointToOnnx({ checkpointDir: model, outFile: path.join(model, 'model.onnx') });
    const fromFile = await runBuilt(
      withFile,
      { name: 'full_image' },
      { engine: 'onnxruntime', networkThreads: 2 },
    );
    const exported = await runBuilt(
      await makeTask('t-onnx-export'),
      { name: 'full_image' },
      { engine: 'onnxruntime', networkThreads: 2 },
    );
    const line = (lines: Record<string, unknown>[], message: string) =>
      lines.find((l) => l.message === message);
    expect(line(fromFile.lines, 'Inference engine')).toMatchObject({
      onnx_model: expect.stringMatching(/^model.onnx from the checkpoint/),
    });
    expect(line(fromFile.lines, 'TensorFlow.js backend')).toBeUndefined();
    expect(line(exported.lines, 'Inference engine')).toMatchObject({
      onnx_model: expect.stringMatching(/^exported in memory: the checkpoint has no model.onnx/),
    });
    expect(line(exported.lines, 'TensorFlow.js backend')).toBeDefined();
    expect(fromFile.anns.size).toBe(5);
    for (const [name, text] of fromFile.anns) expect(text).toBe(exported.anns.get(name));
  });

  /** A network thread on the tfjs cpu backend (quick to start, and the same scores every time). */
  const tfjsThread = () =>
    built.thread().NetworkThread.create({ modelDir, backend: 'cpu', engine: 'tfjs', intraOpNumThreads: 1 });

  it('a closed thread refuses batches instead of hanging', async () => {
    const thread = await tfjsThread();
    const y = await thread.run({ image: new Float32Array(32 * 32 * 3) }, 1);
    expect(y.scores).toHaveLength(32 * 32 * 4); // bg + 3 classes
    await thread.close();
    await expect(thread.run({ image: new Float32Array(32 * 32 * 3) }, 1)).rejects.toThrow(/exited/);
  });

  it('writes the scores into the buffer it is given and hands the input back, both intact', async () => {
    const thread = await tfjsThread();
    try {
      const input = new Float32Array(2 * 32 * 32 * 3).map((_, i) => Math.sin(i));
      const expected = await thread.run({ image: input.slice() }, 2);
      const back: [string, Float32Array][] = [];
      const out = new Float32Array(2 * 32 * 32 * 4).fill(-1);
      const y = await thread.run({ image: input.slice() }, 2, {
        out: { scores: out },
        giveBack: (name, x) => back.push([name, x]),
      });
      expect(out.length).toBe(0); // transferred to the thread, and back as `y.scores`
      expect(y).toEqual(expected);
      expect(back).toEqual([['image', input]]);
    } finally {
      await thread.close();
    }
  });

  it.each(['tfjs', 'onnxruntime'] as const)(
    'named tensors (%s): the image under its name gives the scores `run` gives, in a thread and on the main thread; a wrong shape fails naming it',
    async (engine) => {
      const runner = built.runner();
      const checkpoint = await built
        .checkpoint()
        .readInferenceCheckpoint({ dir: modelDir, displayName: 'model' });
      const input = new Float32Array(2 * 32 * 32 * 3).map((_, i) => Math.cos(i));
      for (const threads of [1, 0]) {
        const network = await runner.startNetwork({ checkpoint, modelDir, engine, threads, backend: 'cpu' });
        try {
          expect(network.engine.name).toBe(engine);
          const expected = (await network.run({ image: input.slice() }, 2)).scores;
          const out = await network.runNamed({ image: { data: input.slice(), shape: [2, 32, 32, 3] } });
          expect(Object.keys(out)).toEqual(['scores']);
          expect(out.scores.shape).toEqual([2, 32, 32, 4]);
          expect(Array.from(out.scores.data)).toEqual(Array.from(expected));
          await expect(
            network.runNamed({ image: { data: new Float32Array(32 * 32), shape: [1, 32, 32, 1] } }),
          ).rejects.toThrow('input "image": expected shape [n, 32, 32, 3], got [1, 32, 32, 1]');
        } finally {
          await network.close();
        }
      }
    },
  );

  it('a batch of the wrong size fails that batch only', async () => {
    const thread = await tfjsThread();
    try {
      await expect(thread.run({ image: new Float32Array(10) }, 1)).rejects.toThrow(
        /needs 3072 values, got 10/,
      );
      const y = await thread.run({ image: new Float32Array(32 * 32 * 3 * 2) }, 2);
      expect(y.scores).toHaveLength(2 * 32 * 32 * 4);
    } finally {
      await thread.close();
    }
  });
});

describe('errors crossing the thread boundary', () => {
  it('a TaskError in the thread arrives as a TaskError, with its kind and context (the crash line)', async () => {
    const missing = path.join(root, 'no-checkpoint');
    const e: unknown = await built
      .thread()
      .NetworkThread.create({ modelDir: missing, backend: 'cpu', engine: 'tfjs', intraOpNumThreads: 1 })
      .then(
        () => new Error('expected a rejection'),
        (err: unknown) => err,
      );
    // The built modules' TaskError class: the thread's answer is rebuilt by dist/src/errors.js.
    expect(e).toBeInstanceOf(built.errors().TaskError);
    expect(e).toMatchObject({ kind: 'model', context: { file: 'model/config.json' } });
    expect((e as Error).stack).toContain('--- in the network thread ---');
  });

  it('any other error names the thread', async () => {
    const thread = await built
      .thread()
      .NetworkThread.create({ modelDir, backend: 'cpu', engine: 'tfjs', intraOpNumThreads: 1 });
    try {
      const e = await thread.run({ image: new Float32Array(10) }, 1).catch((err: unknown) => err);
      expect(e).not.toBeInstanceOf(built.errors().TaskError);
      expect((e as Error).message).toMatch(/^the network thread: .*needs 3072 values, got 10/);
    } finally {
      await thread.close();
    }
  });
});
