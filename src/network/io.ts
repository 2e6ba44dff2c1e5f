/**
 * Saving and loading a LayersModel in the TensorFlow.js layers format, without tfjs-node: a folder with
 * `model.json` and one `weights.bin`, exactly what tfjs-node's `file://` handler writes, so tfjs-node
 * (`tf.loadLayersModel('file://.../model.json')`) and the Python converter (`--input_format=tfjs_layers_model`)
 * read it. Reading accepts any shard list. The IOHandlers are passed to `model.save` / `tf.loadLayersModel`
 * directly: no global `file://` router is registered (two handlers for one scheme break saving).
 *
 * Optimizer state (e.g. Adam's moments and iteration count) can be stored in the same weights.bin under the
 * manifest group `optimizer`, as tfjs-layers does with `includeOptimizer`, so training resumes exactly. It is
 * taken from an explicit optimizer, because our training loop does not `compile` the model.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { errorMessage, modelError, TaskError } from '../errors';
import {
  MODEL_JSON_FILE,
  OPTIMIZER_GROUP,
  readModelFiles,
  readModelJson,
  WEIGHTS_FILE,
  weightBytes,
  type WeightSpec,
} from './model-files';

export { MODEL_JSON_FILE, OPTIMIZER_GROUP, WEIGHTS_FILE };

export interface SaveModelOptions {
  /** Also store this optimizer's state (all of `optimizer.getWeights()`), for an exact resume. */
  optimizer?: tf.Optimizer;
}

export interface SavedModel {
  /** Absolute paths of the files written. */
  files: string[];
  /** Bytes of model weights and of optimizer state in weights.bin. */
  modelWeightBytes: number;
  optimizerWeightBytes: number;
}

export interface LoadModelOptions {
  /** Restore the optimizer state stored in the folder into this optimizer (an error if there is none). */
  optimizer?: tf.Optimizer;
}

/** The model.json tfjs-node writes: these keys, in this order, then the optional ones if present. */
export function modelJsonFromArtifacts(
  artifacts: tf.io.ModelArtifacts,
  weightsPath: string,
): tf.io.ModelJSON {
  if (artifacts.modelTopology === undefined || artifacts.modelTopology instanceof ArrayBuffer) {
    throw new Error('only a JSON model topology can be saved (got a binary or missing one)');
  }
  const json: tf.io.ModelJSON = {
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths: [weightsPath], weights: artifacts.weightSpecs ?? [] }],
    format: artifacts.format,
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy,
  };
  if (artifacts.trainingConfig !== undefined) json.trainingConfig = artifacts.trainingConfig;
  if (artifacts.signature !== undefined) json.signature = artifacts.signature;
  if (artifacts.userDefinedMetadata !== undefined) json.userDefinedMetadata = artifacts.userDefinedMetadata;
  return json;
}

/** An IOHandler that writes model.json + weights.bin into `dir` (created if needed). */
export function directorySaveHandler(dir: string): tf.io.IOHandler {
  return {
    save: async (artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> => {
      const json = modelJsonFromArtifacts(artifacts, WEIGHTS_FILE);
      const data =
        artifacts.weightData === undefined ? new ArrayBuffer(0) : joinWeightData(artifacts.weightData);
      await fsp.mkdir(dir, { recursive: true });
      await fsp.writeFile(path.join(dir, WEIGHTS_FILE), Buffer.from(data));
      await fsp.writeFile(path.join(dir, MODEL_JSON_FILE), JSON.stringify(json), 'utf8');
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
  };
}

/** An IOHandler that reads a model folder (any shard list). */
export function directoryLoadHandler(dir: string): tf.io.IOHandler {
  return { load: () => readModelArtifacts(dir) };
}

/** Saves the model (and optionally an optimizer's state) into `dir` as model.json + weights.bin. */
export async function saveModelToDir(
  model: tf.LayersModel,
  dir: string,
  opts: SaveModelOptions = {},
): Promise<SavedModel> {
  const optimizerPart =
    opts.optimizer === undefined ? undefined : await encodeOptimizerState(opts.optimizer, model);
  let modelWeightBytes = 0;
  const inner = directorySaveHandler(dir);
  const handler: tf.io.IOHandler = {
    save: async (artifacts) => {
      const modelData =
        artifacts.weightData === undefined ? new ArrayBuffer(0) : joinWeightData(artifacts.weightData);
      modelWeightBytes = modelData.byteLength;
      // A diverged network (Infinity or NaN weights) is never written: it would predict nothing, silently.
      checkFiniteWeights(artifacts.weightSpecs ?? [], modelData, {
        file: path.join(dir, WEIGHTS_FILE),
        doing: 'saving',
      });
      if (optimizerPart === undefined) return inner.save!(artifacts);
      return inner.save!({
        ...artifacts,
        weightSpecs: [...(artifacts.weightSpecs ?? []), ...optimizerPart.specs],
        weightData: tf.io.concatenateArrayBuffers([modelData, optimizerPart.data]),
      });
    },
  };
  await model.save(handler);
  return {
    files: [path.join(dir, MODEL_JSON_FILE), path.join(dir, WEIGHTS_FILE)],
    modelWeightBytes,
    optimizerWeightBytes: optimizerPart?.data.byteLength ?? 0,
  };
}

/** Reads model.json and its weight files (model-files.ts, which checks them) into ModelArtifacts. */
export async function readModelArtifacts(dir: string): Promise<tf.io.ModelArtifacts> {
  const { json, groups } = await readModelFiles(dir);
  return {
    modelTopology: json.modelTopology,
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy,
    trainingConfig: json.trainingConfig,
    userDefinedMetadata: json.userDefinedMetadata,
    signature: json.signature,
    weightSpecs: groups.flatMap((g) => g.specs),
    weightData: tf.io.concatenateArrayBuffers(groups.map((g) => toArrayBuffer(g.data))),
  };
}

/**
 * Loads a model folder. With `optimizer`, the stored optimizer state is restored into it; without, optimizer
 * state in the folder is ignored. tfjs errors (unknown layer, weights that do not fit) name model.json.
 */
export async function loadModelFromDir(dir: string, opts: LoadModelOptions = {}): Promise<tf.LayersModel> {
  const jsonPath = path.join(dir, MODEL_JSON_FILE);
  const artifacts = await readModelArtifacts(dir);
  const { model: modelArtifacts, optimizerSpecs, optimizerData } = splitOptimizerState(artifacts, jsonPath);
  const weightData = modelArtifacts.weightData;
  checkFiniteWeights(
    modelArtifacts.weightSpecs ?? [],
    weightData === undefined ? new ArrayBuffer(0) : joinWeightData(weightData),
    { file: path.join(dir, WEIGHTS_FILE), doing: 'loading' },
  );
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel({ load: async () => modelArtifacts });
  } catch (e) {
    throw modelError(`cannot build the model: ${errorMessage(e)}`, { file: jsonPath }, e);
  }
  if (opts.optimizer !== undefined) {
    try {
      await restoreOptimizerState({
        optimizer: opts.optimizer,
        model,
        specs: optimizerSpecs,
        data: optimizerData,
        file: jsonPath,
      });
    } catch (e) {
      model.dispose();
      throw e;
    }
  }
  return model;
}

/** Restores the optimizer state of a model folder into `optimizer`, checked against `model`'s weights. */
export async function loadOptimizerStateFromDir(opts: {
  dir: string;
  optimizer: tf.Optimizer;
  model: tf.LayersModel;
}): Promise<void> {
  const artifacts = await readModelArtifacts(opts.dir);
  const file = path.join(opts.dir, MODEL_JSON_FILE);
  const { optimizerSpecs, optimizerData } = splitOptimizerState(artifacts, file);
  await restoreOptimizerState({
    optimizer: opts.optimizer,
    model: opts.model,
    specs: optimizerSpecs,
    data: optimizerData,
    file,
  });
}

/** Whether a model folder stores optimizer state (reads model.json only). */
export async function hasOptimizerState(dir: string): Promise<boolean> {
  const { json } = await readModelJson(dir);
  return json.weightsManifest.some((g) => g.weights.some((w) => w.group === OPTIMIZER_GROUP));
}

// ---------------------------------------------------------------------------------------------------------------

function joinWeightData(data: tf.io.WeightData): ArrayBuffer {
  return tf.io.CompositeArrayBuffer.join(data);
}

function toArrayBuffer(buf: Buffer): ArrayBuffer {
  // A Buffer may be a view on a larger pooled ArrayBuffer: copy exactly its bytes.
  const out = new ArrayBuffer(buf.byteLength);
  new Uint8Array(out).set(buf);
  return out;
}

interface SplitArtifacts {
  model: tf.io.ModelArtifacts;
  optimizerSpecs: WeightSpec[];
  optimizerData: ArrayBuffer;
}

/** Separates the `optimizer` group so tfjs only sees the model's weights. */
function splitOptimizerState(artifacts: tf.io.ModelArtifacts, file: string): SplitArtifacts {
  const specs = artifacts.weightSpecs ?? [];
  const data = artifacts.weightData === undefined ? new ArrayBuffer(0) : joinWeightData(artifacts.weightData);
  const modelSpecs: WeightSpec[] = [];
  const optimizerSpecs: WeightSpec[] = [];
  const modelParts: ArrayBuffer[] = [];
  const optimizerParts: ArrayBuffer[] = [];
  for (const { spec, bytes } of weightBytes(specs, new Uint8Array(data), file)) {
    const part = bytes.slice().buffer;
    if (spec.group === OPTIMIZER_GROUP) {
      optimizerSpecs.push(spec);
      optimizerParts.push(part);
    } else {
      modelSpecs.push(spec);
      modelParts.push(part);
    }
  }
  return {
    // Without trainingConfig tfjs would not restore the optimizer anyway; we restore it ourselves.
    model: {
      ...artifacts,
      trainingConfig: undefined,
      weightSpecs: modelSpecs,
      weightData: tf.io.concatenateArrayBuffers(modelParts),
    },
    optimizerSpecs,
    optimizerData: tf.io.concatenateArrayBuffers(optimizerParts),
  };
}

/**
 * The optimizer's weights, with the process-unique variable names (`enc0_conv1/kernel_3/m`) replaced by the
 * model's stable weight names (`enc0_conv1/kernel/m`), encoded in the `optimizer` group.
 */
async function encodeOptimizerState(
  optimizer: tf.Optimizer,
  model: tf.LayersModel,
): Promise<{ data: ArrayBuffer; specs: WeightSpec[] }> {
  const named = await optimizer.getWeights();
  const uniqueToStable = new Map(model.weights.map((w) => [w.name, w.originalName]));
  try {
    const renamed = named.map(({ name, tensor }) => ({
      name: stableOptimizerName(name, uniqueToStable),
      tensor,
    }));
    const { data, specs } = await tf.io.encodeWeights(renamed, OPTIMIZER_GROUP);
    return { data, specs };
  } finally {
    // getWeights returns the optimizer's own variables plus fresh tensors (the iteration count): free the latter.
    for (const { tensor } of named) if (!(tensor instanceof tf.Variable)) tensor.dispose();
  }
}

function stableOptimizerName(name: string, uniqueToStable: ReadonlyMap<string, string>): string {
  const slash = name.lastIndexOf('/');
  if (slash <= 0) return name;
  const stable = uniqueToStable.get(name.slice(0, slash));
  return stable === undefined ? name : `${stable}${name.slice(slash)}`;
}

async function restoreOptimizerState(opts: {
  optimizer: tf.Optimizer;
  model: tf.LayersModel;
  specs: WeightSpec[];
  data: ArrayBuffer;
  file: string;
}): Promise<void> {
  const { specs, file } = opts;
  if (specs.length === 0) {
    throw modelError('no optimizer state is stored with this model (it was saved without it)', { file });
  }
  const trainable = new Set(opts.model.trainableWeights.map((w) => w.originalName));
  for (const spec of specs) {
    const slash = spec.name.lastIndexOf('/');
    if (slash > 0 && !trainable.has(spec.name.slice(0, slash))) {
      throw modelError(`optimizer state "${spec.name}" refers to a weight this model does not train`, {
        file,
        item: spec.name,
      });
    }
  }
  const tensors = tf.io.decodeWeights(opts.data, specs);
  const ordered = specs.map((s) => ({ name: s.name, tensor: tensors[s.name] }));
  try {
    await opts.optimizer.setWeights(ordered);
  } catch (e) {
    if (e instanceof TaskError) throw e;
    throw modelError(`cannot restore the optimizer state: ${errorMessage(e)}`, { file }, e);
  } finally {
    tf.dispose(Object.values(tensors));
  }
}

/**
 * Every float32 weight is finite, or a model error naming the weight (its layer) and the first bad value. Other
 * dtypes (int32 counters) cannot be NaN.
 */
export function checkFiniteWeights(
  specs: readonly tf.io.WeightsManifestEntry[],
  data: ArrayBuffer,
  where: { file: string; doing: 'saving' | 'loading' },
): void {
  let offset = 0;
  for (const spec of specs) {
    const dtype = spec.dtype ?? 'float32';
    // Past a quantized or string weight the offsets are not known here: the rest is left to tfjs.
    if (spec.quantization !== undefined || dtype === 'string' || dtype === 'complex64') return;
    const count = spec.shape.reduce((a, b) => a * b, 1);
    const bytes = count * (dtype === 'bool' ? 1 : 4);
    if (dtype === 'float32' && offset + bytes <= data.byteLength) {
      // A copy: the offset need not be 4-aligned after a bool weight.
      const values = new Float32Array(data.slice(offset, offset + bytes));
      for (let i = 0; i < count; i++) {
        if (!Number.isFinite(values[i])) {
          const what =
            where.doing === 'saving'
              ? 'the training diverged (lower lr); this checkpoint is not written'
              : 'the checkpoint holds a diverged network';
          throw modelError(
            `weight ${spec.name} has a non-finite value (${values[i]}) at index ${i}: ${what}`,
            { file: where.file, item: spec.name },
          );
        }
      }
    }
    offset += bytes;
  }
}
