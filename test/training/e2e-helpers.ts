/**
 * Shared by the training end-to-end tests: a task folder laid out as the agent lays it out (spec A.2, from
 * test/helpers/task-folder.ts), an in-process run through `runTraining`, and readers for checkpoint folders that do not go through the code
 * under test (the weights are read straight from model.json's manifest and weights.bin). No child process
 * here, so unit tests may use it too; the launcher run is in test/helpers/launcher.ts.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { createLogger, type Logger } from '../../src/protocol/logger';
import { memorySink } from '../../src/protocol/sink';
import { customModelSchemaOf, findPlugin, type PluginEntry } from '../../src/plugins';
import { trainingTaskNamed } from '../../src/tasks';
import type { TrainConfig } from '../../src/task/config-types';
import { taskPathsAt, type TaskPaths } from '../../src/task/paths';
import { resolveTrainConfig } from '../../src/task/train-config';
import type { JsonObject } from '../../src/task/update-recursively';
import { runTraining, type RunTrainingOptions, type TrainingSummary } from '../../src/training/run';

// The task folder itself is made by test/helpers/task-folder.ts (the image test makes its folders there too).
import { makeTask, removeTask, type TaskSetup } from '../helpers/task-folder';

export { makeTask, removeTask, type TaskSetup };

/** A tracker training config small enough for tests: 32x32 clips of 3 frames, 2 a step, 6 steps. */
export const TINY_TRACKER_CONFIG = {
  network: 'tracker',
  input_size: { width: 32, height: 32 },
  batch_size: { train: 2, val: 2 },
  epochs: 2,
  val_every: 1,
  lr: 0.002,
  custom_model_config: { encoder_filters: [8, 8, 16], key_channels: 8, decoder_filters: 16 },
  tracking: { steps_per_epoch: 3, val_clips: 1, val_frames: 4, precise_bn_batches: 2 },
};

/** The tracker tests' project: 8 small images of 1 or 2 objects (pseudo-clips), 6 of them train. */
export const TRACKER_PROJECT = {
  projectName: 'shapes',
  datasets: [{ name: 'ds', count: 8 }],
  width: 48,
  height: 40,
  folds: { val: 0.25 },
  objectsPerImage: { min: 1, max: 2 },
  seed: 5,
};

/** A training config small enough for tests: a 2-level U-Net on 32x32 inputs, one epoch, no ONNX export. */
export const TINY_TRAIN_CONFIG = {
  input_size: { width: 32, height: 32 },
  batch_size: { train: 4, val: 8 },
  epochs: 1,
  val_every: 1,
  lr: 0.01,
  custom_model_config: { depth: 2, base_filters: 4, max_filters: 8 },
  compute_workers: 1,
  export_onnx: false,
};

/**
 * Task folders on one project, removed after the test file (registers the afterAll): `task(config)`, or with
 * `model/` filled from a checkpoint folder.
 */
export function tasksOn(
  project: TaskSetup['project'],
): (config: Record<string, unknown>, modelFrom?: string) => Promise<string> {
  const roots: string[] = [];
  afterAll(async () => {
    for (const r of roots) await removeTask(r);
  });
  return async (config, modelFrom) => {
    const root = await makeTask({ project, config, ...(modelFrom === undefined ? {} : { modelFrom }) });
    roots.push(root);
    return root;
  };
}

/** The resume tests' project: 20 images, 16 of them train (4 steps an epoch in batches of 4). */
export const RESUME_PROJECT = {
  projectName: 'shapes',
  datasets: [{ name: 'a', count: 20 }],
  width: 32,
  height: 32,
  folds: { val: 0.2 },
  seed: 5,
};

export type Line = Record<string, unknown> & { message: string; level: string };

export interface InProcessRun {
  summary?: TrainingSummary;
  error?: unknown;
  lines: Line[];
}

/** runTraining in this process on the wasm backend, logging at debug into memory. */
/**
 * A task folder as train.ts reads it, for a run in this process: its paths, its resolved config, its network's
 * plugin, and a debug logger into memory (`lines` parses what it wrote).
 */
export async function inProcessTask(root: string): Promise<{
  paths: TaskPaths;
  config: TrainConfig;
  given: JsonObject;
  logger: Logger;
  plugin: PluginEntry;
  lines: () => Line[];
}> {
  const mem = memorySink();
  const logger = createLogger({ sink: mem.sink, level: 'debug' });
  const paths = taskPathsAt(root);
  const given = JSON.parse(await fsp.readFile(paths.taskConfig, 'utf8')) as JsonObject;
  const config = resolveTrainConfig(given, { customModelSchema: customModelSchemaOf });
  const plugin = findPlugin(config.network, { field: 'network' });
  return { paths, config, given, logger, plugin, lines: () => mem.lines.map((l) => JSON.parse(l) as Line) };
}

export async function runInProcess(
  root: string,
  options: Partial<RunTrainingOptions> = {},
): Promise<InProcessRun> {
  const { paths, config, given, logger, plugin, lines } = await inProcessTask(root);
  try {
    const summary = await runTraining(
      { paths, config, given, logger },
      {
        backend: { force: 'wasm' },
        networkModule: plugin.module,
        task: trainingTaskNamed(plugin.task),
        ...options,
      },
    );
    return { summary, lines: lines() };
  } catch (error) {
    return { error, lines: lines() };
  }
}

/** The model weights of a checkpoint folder by name, read from model.json's manifest and the weight files. */
export async function readCheckpointWeights(
  dir: string,
): Promise<Map<string, { shape: number[]; values: Float32Array }>> {
  const json = JSON.parse(await fsp.readFile(path.join(dir, 'model.json'), 'utf8')) as {
    weightsManifest: {
      paths: string[];
      weights: { name: string; shape: number[]; dtype: string; group?: string }[];
    }[];
  };
  const out = new Map<string, { shape: number[]; values: Float32Array }>();
  for (const group of json.weightsManifest) {
    const data = Buffer.concat(await Promise.all(group.paths.map((p) => fsp.readFile(path.join(dir, p)))));
    let offset = 0;
    for (const w of group.weights) {
      // Model weights are float32; the optimizer group also holds Adam's int32 iteration count (4 bytes too).
      expect(['float32', 'int32']).toContain(w.dtype);
      const count = w.shape.reduce((a, b) => a * b, 1);
      const start = data.byteOffset + offset;
      offset += count * 4;
      if (w.group === 'optimizer') continue;
      expect(w.dtype).toBe('float32');
      out.set(w.name, {
        shape: w.shape,
        values: new Float32Array(data.buffer.slice(start, start + count * 4)),
      });
    }
  }
  return out;
}

/** The largest |difference| between the weights of two checkpoint folders (which must have the same ones). */
export async function maxWeightDifference(a: string, b: string): Promise<number> {
  const wa = await readCheckpointWeights(a);
  const wb = await readCheckpointWeights(b);
  expect([...wb.keys()].sort()).toEqual([...wa.keys()].sort());
  let worst = 0;
  for (const [name, w] of wa) {
    const other = wb.get(name)!.values;
    w.values.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - other[i]))));
  }
  return worst;
}

/** Total bytes of the files under a folder. */
export async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await fsp.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    total += entry.isDirectory() ? await folderBytes(p) : (await fsp.stat(p)).size;
  }
  return total;
}

/** The U-Net head layers (plugin/unet): their weights are the ones transfer learning re-initialises. */
export const HEAD_PREFIXES = ['head_conv/'];

export function isHeadWeight(name: string): boolean {
  return HEAD_PREFIXES.some((p) => name.startsWith(p));
}
