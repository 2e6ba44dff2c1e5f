/**
 * @jest-environment ./test/onnx/ort-environment.js
 */
/**
 * Starting from a model (spec E.4, G.2): transfer learning onto a project with another class set keeps every
 * non-head weight bit for bit and gives a fresh head for the new classes; continue training reuses the
 * model's class map and every weight (and the Adam state); a class-set mismatch in continue training fails
 * the task with the difference named. The model is captured when the engine is made, before the first step.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { TaskError } from '../../src/errors';
import { defaultEngineFactory, type EngineFactory } from '../../src/training/engine-factory';
import { events, runLauncher } from '../helpers/launcher';
import {
  isHeadWeight,
  makeTask,
  readCheckpointWeights,
  removeTask,
  runInProcess,
  TINY_TRAIN_CONFIG,
  type InProcessRun,
} from './e2e-helpers';

const TINY = TINY_TRAIN_CONFIG;
const project = (classes: string[], seed: number) => ({
  projectName: 'shapes',
  datasets: [{ name: 'ds', count: 10 }],
  width: 32,
  height: 32,
  classes,
  neutral: true,
  folds: { val: 0.3 },
  seed,
});

/** Wraps the engine factory to copy the model's weights (by stable name) before any step. */
function capturingFactory(into: Map<string, { shape: number[]; values: Float32Array }>): EngineFactory {
  return async (request) => {
    for (const w of request.model.weights as tf.LayerVariable[]) {
      into.set(w.originalName, {
        shape: [...(w.shape as number[])],
        values: w.read().dataSync() as Float32Array,
      });
    }
    return defaultEngineFactory(request);
  };
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return (
    Buffer.compare(
      Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    ) === 0
  );
}

const roots: string[] = [];
let sourceCheckpoint: string;
let sourceMap: Record<string, number>;

beforeAll(async () => {
  const root = await makeTask({ project: project(['circle', 'square', 'triangle'], 3), config: TINY });
  roots.push(root);
  const run = await runInProcess(root);
  if (run.error !== undefined) throw run.error;
  sourceCheckpoint = path.join(root, 'results', '00000000');
  sourceMap = JSON.parse(
    await fsp.readFile(path.join(sourceCheckpoint, 'config.json'), 'utf8'),
  ).class_title_to_idx;
}, 120_000);

afterAll(async () => {
  for (const r of roots) await removeTask(r);
});

describe('training from a model (spec E.4)', () => {
  it('transfer_learning onto other classes: non-head weights bit-identical, a fresh head for the new classes', async () => {
    const root = await makeTask({
      project: project(['circle', 'square'], 4),
      config: { ...TINY, weights_init_type: 'transfer_learning' },
      modelFrom: sourceCheckpoint,
    });
    roots.push(root);
    const initial = new Map<string, { shape: number[]; values: Float32Array }>();
    const run: InProcessRun = await runInProcess(root, { createEngine: capturingFactory(initial) });
    if (run.error !== undefined) throw run.error;
    expect(run.lines.some((l) => l.message === 'Skip weight init for output layers.')).toBe(true);
    const source = await readCheckpointWeights(sourceCheckpoint);
    expect([...initial.keys()].sort()).toEqual([...source.keys()].sort());
    let compared = 0;
    for (const [name, w] of source) {
      const got = initial.get(name)!;
      if (isHeadWeight(name)) {
        // The source head has 4 output channels (bg + 3 shapes); the new one 3 (bg + 2 shapes).
        expect(w.shape[w.shape.length - 1]).toBe(4);
        expect(got.shape[got.shape.length - 1]).toBe(3);
      } else {
        expect(got.shape).toEqual(w.shape);
        expect(sameBits(got.values, w.values)).toBe(true);
        compared += 1;
      }
    }
    expect(compared).toBeGreaterThan(20);
    const config = JSON.parse(
      await fsp.readFile(path.join(root, 'results', '00000000', 'config.json'), 'utf8'),
    );
    expect(config.class_title_to_idx).toEqual({ bg: 0, circle: 1, square: 2 });
    const trained = await readCheckpointWeights(path.join(root, 'results', '00000000'));
    expect(trained.get('head_conv/kernel')?.shape).toEqual([1, 1, 4, 3]);
  });

  it('continue_training: the model class map (even with other indices) and every weight are reused', async () => {
    const root = await makeTask({
      project: project(['circle', 'square', 'triangle'], 5),
      config: { ...TINY, weights_init_type: 'continue_training' },
      modelFrom: sourceCheckpoint,
    });
    roots.push(root);
    // Same classes, other indices: continue_training must keep the model's, not make a fresh map.
    const modelConfigFile = path.join(root, 'model', 'config.json');
    const modelConfig = JSON.parse(await fsp.readFile(modelConfigFile, 'utf8'));
    const permuted = { bg: 0, circle: 3, square: 1, triangle: 2 };
    expect(modelConfig.class_title_to_idx).toEqual(sourceMap);
    expect(sourceMap).not.toEqual(permuted);
    modelConfig.class_title_to_idx = permuted;
    await fsp.writeFile(modelConfigFile, JSON.stringify(modelConfig));
    const initial = new Map<string, { shape: number[]; values: Float32Array }>();
    const run = await runInProcess(root, { createEngine: capturingFactory(initial) });
    if (run.error !== undefined) throw run.error;
    expect(run.lines.some((l) => l.message.startsWith('Continued training mode'))).toBe(true);
    expect(run.lines.find((l) => l.message === 'Determined class mapping.')?.class_mapping).toEqual(permuted);
    const loaded = run.lines.find((l) => l.message === 'Weights loaded for continued training.');
    expect(loaded?.optimizer_state_restored).toBe(true);
    const source = await readCheckpointWeights(sourceCheckpoint);
    for (const [name, w] of source) expect(sameBits(initial.get(name)!.values, w.values)).toBe(true);
    const config = JSON.parse(
      await fsp.readFile(path.join(root, 'results', '00000000', 'config.json'), 'utf8'),
    );
    expect(config.class_title_to_idx).toEqual(permuted);
  });

  it('continue_training with another class set fails with the difference (launcher: exit 4, model; crash line last)', async () => {
    const root = await makeTask({
      project: project(['circle', 'square', 'hexagon'], 6),
      config: { ...TINY, weights_init_type: 'continue_training' },
      modelFrom: sourceCheckpoint,
    });
    roots.push(root);
    const run = runLauncher(root);
    expect(run.status).toBe(4);
    const last = run.lines[run.lines.length - 1];
    expect(last.eventType).toBe('EventType.TASK_CRASHED');
    expect(events(run.lines, 'TASK_CRASHED')).toHaveLength(1);
    const message = String(last.fields.exc_str);
    expect(message).toContain('sets of classes for model and dataset do not match');
    expect(message).toContain('Only in the model: "triangle"');
    expect(message).toContain('Only in the project (with the special classes): "hexagon"');
    expect(message).toContain('model/config.json');
    expect(events(run.lines, 'CHECKPOINT')).toEqual([]);
    expect(await fsp.readdir(path.join(root, 'results'))).toEqual([]);
  });

  it('continue_training without a model config is a model error naming model/config.json', async () => {
    const root = await makeTask({
      project: project(['circle'], 7),
      config: { ...TINY, weights_init_type: 'continue_training' },
    });
    roots.push(root);
    const run = await runInProcess(root);
    expect(run.error).toBeInstanceOf(TaskError);
    expect((run.error as TaskError).kind).toBe('model');
    expect((run.error as TaskError).context.file).toBe(path.join('model', 'config.json'));
  });
});
