/**
 * Filling a freshly built network with weights from a checkpoint (spec E.4):
 * - transfer_learning: every non-head layer's weights are copied; the head stays freshly initialised, so the
 *   class count may differ;
 * - continue_training: every weight is copied, strictly.
 *
 * The network is always built from the current training config and the weights copied layer by layer by name,
 * rather than reusing the checkpoint's graph: the input size may change between trainings (the U-Net is fully
 * convolutional), the checkpoint model stays intact, and a mismatch is reported per layer with both shapes.
 * An empty (or absent) model folder means training from scratch; the caller logs it.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { modelError } from '../errors';
import { hasOptimizerState, loadModelFromDir, loadOptimizerStateFromDir, MODEL_JSON_FILE } from './io';
import type { WeightsInitType } from '../task/config-types';
import type { AnyNetwork, InputSize } from './types';
import { withSeededRandom } from './seeded-build';

export type { WeightsInitType };

export interface CopyWeightsOptions {
  source: tf.LayersModel;
  target: tf.LayersModel;
  mode: WeightsInitType;
  /** The network's head layers: left as initialised in transfer_learning mode. */
  headLayerNames: readonly string[];
  /** Where the source came from, named in errors (e.g. `/sly_task_data/model/model.json`). */
  sourceFile?: string;
}

export interface CopyWeightsReport {
  /** Layers whose weights were copied. */
  copiedLayers: string[];
  /** Layers with weights left as initialised (the head, in transfer_learning mode). */
  freshLayers: string[];
}

const MAX_LISTED_PROBLEMS = 6;

function shapeText(shape: readonly (number | null)[]): string {
  return `[${shape.join(', ')}]`;
}

/** Layers that own weights, by name. */
function weightedLayers(model: tf.LayersModel): Map<string, tf.layers.Layer> {
  return new Map(model.layers.filter((l) => l.weights.length > 0).map((l) => [l.name, l]));
}

/** What prevents copying `source` into `target`; empty when everything fits. */
export function weightCopyProblems(opts: CopyWeightsOptions): { layer: string; problem: string }[] {
  const skip = new Set(opts.mode === 'transfer_learning' ? opts.headLayerNames : []);
  const src = weightedLayers(opts.source);
  const dst = weightedLayers(opts.target);
  const problems: { layer: string; problem: string }[] = [];
  for (const [name, layer] of dst) {
    if (skip.has(name)) continue;
    const from = src.get(name);
    if (from === undefined) {
      const shapes = layer.weights.map((w) => `${w.originalName} ${shapeText(w.shape)}`).join(', ');
      problems.push({ layer: name, problem: `missing from the checkpoint; the network needs ${shapes}` });
      continue;
    }
    if (from.weights.length !== layer.weights.length) {
      problems.push({
        layer: name,
        problem: `has ${from.weights.length} weights in the checkpoint and ${layer.weights.length} in the network`,
      });
      continue;
    }
    layer.weights.forEach((w, i) => {
      const had = from.weights[i];
      if (had.shape.length !== w.shape.length || had.shape.some((d, k) => d !== w.shape[k])) {
        problems.push({
          layer: name,
          problem:
            `weight "${w.originalName}" has shape ${shapeText(had.shape)} in the checkpoint and ` +
            `${shapeText(w.shape)} in the network`,
        });
      }
    });
  }
  for (const name of src.keys()) {
    if (!skip.has(name) && !dst.has(name)) {
      problems.push({ layer: name, problem: 'is in the checkpoint but not in the network' });
    }
  }
  return problems;
}

/**
 * Copies weights from `source` into `target` by layer name (all or nothing: everything is checked first).
 * A missing layer or a shape mismatch is a model error naming the layer and both shapes.
 */
export function copyWeights(opts: CopyWeightsOptions): CopyWeightsReport {
  const problems = weightCopyProblems(opts);
  if (problems.length > 0) {
    const listed = problems.slice(0, MAX_LISTED_PROBLEMS).map((p) => `layer "${p.layer}" ${p.problem}`);
    if (problems.length > MAX_LISTED_PROBLEMS)
      listed.push(`and ${problems.length - MAX_LISTED_PROBLEMS} more`);
    const hint =
      opts.mode === 'continue_training'
        ? 'continue_training needs the same network settings and classes as the checkpoint'
        : "transfer_learning needs the same network settings (custom_model_config) as the checkpoint's";
    throw modelError(
      `the checkpoint does not fit the network (${opts.mode}): ${listed.join('; ')}. ${hint}`,
      {
        file: opts.sourceFile,
        item: `layer "${problems[0].layer}"`,
      },
    );
  }
  const skip = new Set(opts.mode === 'transfer_learning' ? opts.headLayerNames : []);
  const src = weightedLayers(opts.source);
  const report: CopyWeightsReport = { copiedLayers: [], freshLayers: [] };
  for (const [name, layer] of weightedLayers(opts.target)) {
    if (skip.has(name)) {
      report.freshLayers.push(name);
      continue;
    }
    // getWeights returns the source's variables; setWeights assigns their values (shared, reference-counted),
    // so the source can be disposed afterwards.
    layer.setWeights(src.get(name)!.getWeights());
    report.copiedLayers.push(name);
  }
  return report;
}

export interface InitModelOptions {
  network: AnyNetwork;
  /** The network's settings, from `network.parseSettings(config.custom_model_config)`. */
  settings: unknown;
  inputSize: InputSize;
  numClasses: number;
  weightsInitType: WeightsInitType;
  /** The folder holding the initial model (the task's `model/`); absent means from scratch. */
  modelDir?: string;
  /** continue_training: restore the optimizer state stored in the checkpoint, if any, into this optimizer. */
  optimizer?: tf.Optimizer;
  /** Seeds the initial weights (seeded-build.ts); absent: tfjs's own unseeded draws. */
  seed?: number;
}

export interface InitializedModel {
  model: tf.LayersModel;
  /** `scratch` when the model folder was empty: the caller logs "Weights will not be inited." or similar. */
  init: 'scratch' | WeightsInitType;
  report: CopyWeightsReport;
  restoredOptimizer: boolean;
}

/** Entries of a folder that count as content (dot files such as .DS_Store do not); none if it is absent. */
export async function modelFolderEntries(dir: string): Promise<string[]> {
  try {
    return (await fsp.readdir(dir)).filter((name) => !name.startsWith('.')).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw modelError(`cannot read the model folder: ${(e as Error).message}`, { file: dir }, e);
  }
}

/**
 * Builds the network from the config (its initial weights drawn from `seed` when given), then fills it from
 * `modelDir` according to `weightsInitType`.
 */
export async function buildAndInitModel(opts: InitModelOptions): Promise<InitializedModel> {
  const { network } = opts;
  const build = (): tf.LayersModel =>
    network.build({ inputSize: opts.inputSize, numClasses: opts.numClasses, settings: opts.settings });
  const model = opts.seed === undefined ? build() : withSeededRandom(opts.seed, build);
  try {
    const modelDir = opts.modelDir;
    const entries = modelDir === undefined ? [] : await modelFolderEntries(modelDir);
    if (modelDir === undefined || entries.length === 0) {
      const fresh = [...weightedLayers(model).keys()];
      return {
        model,
        init: 'scratch',
        report: { copiedLayers: [], freshLayers: fresh },
        restoredOptimizer: false,
      };
    }
    const jsonPath = path.join(modelDir, MODEL_JSON_FILE);
    if (!entries.includes(MODEL_JSON_FILE)) {
      throw modelError(
        `not found; the model folder holds ${entries.join(', ')}, which is not a TensorFlow.js model of the ` +
          `${network.name} network (is it a model of another plugin?)`,
        { file: jsonPath },
      );
    }
    const source = await loadModelFromDir(modelDir);
    let report: CopyWeightsReport;
    try {
      report = copyWeights({
        source,
        target: model,
        mode: opts.weightsInitType,
        headLayerNames: network.headLayerNames,
        sourceFile: jsonPath,
      });
    } finally {
      source.dispose();
    }
    let restoredOptimizer = false;
    if (opts.weightsInitType === 'continue_training' && opts.optimizer !== undefined) {
      if (await hasOptimizerState(modelDir)) {
        await loadOptimizerStateFromDir({ dir: modelDir, optimizer: opts.optimizer, model });
        restoredOptimizer = true;
      }
    }
    return { model, init: opts.weightsInitType, report, restoredOptimizer };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
