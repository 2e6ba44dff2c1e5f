/**
 * Loading a checkpoint for inference (spec C.2, F.1 `_load_train_config`): config.json says the input size,
 * the class map and the normalisation; model.json + weights.bin hold the network. The network's topology comes
 * from model.json, so inference needs no network plugin. Everything is checked against everything else before
 * a single image is read: a checkpoint that is missing, incomplete or made for another network fails here.
 */
import type * as tf from '@tensorflow/tfjs';
import { modelError, TaskError } from '../errors';
import { parseObjClass } from '../format/meta';
import type { ImageSize, ObjClass } from '../format/model';
import type { ChannelStats } from '../image/normalise';
import { readModelConfig, type ModelConfig } from '../model-state/config';
import { classScoresExpected, shapeMismatch, type ExpectedNetwork } from './model-shapes';

export interface InferenceCheckpoint {
  readonly config: ModelConfig;
  readonly inputSize: ImageSize;
  /** Network output channels: max(class_title_to_idx) + 1. */
  readonly channels: number;
  readonly classes: readonly ObjClass[];
  readonly classToIndex: Readonly<Record<string, number>>;
  /**
   * The input normalisation config.json records; null for checkpoints that predate recording it (the caller
   * assumes the network's own, named by the plugin registry, or fails).
   */
  readonly preprocessing: ChannelStats | null;
  /**
   * How the network saw images in training (`settings.resolution`): `fit` (the whole image at the input size;
   * checkpoints that record none) or `native` at a scale, where inference scores images in windows at it.
   */
  readonly resolution: Resolution;
}

export type Resolution = { readonly mode: 'fit' } | { readonly mode: 'native'; readonly scale: number };

export interface LoadCheckpointOptions {
  /** The model folder (the task's model/). */
  readonly dir: string;
  /** How the folder is named in messages, e.g. "model". */
  readonly displayName: string;
}

/**
 * What the checkpoint's network must take and give (model-shapes.ts): by default a segmenter's, the RGB image in
 * and scores of the class map's channels out.
 */
export function expectedOf(checkpoint: InferenceCheckpoint, expected?: ExpectedNetwork): ExpectedNetwork {
  return expected ?? classScoresExpected(checkpoint.channels);
}

/** Reads and checks config.json: everything but the network itself (cheap; no weights are read). */
export async function readInferenceCheckpoint(opts: LoadCheckpointOptions): Promise<InferenceCheckpoint> {
  const configFile = `${opts.displayName}/config.json`;
  const config = await readModelConfig(opts.dir, { displayName: configFile });
  const inputSize = readInputSize(config, configFile);
  const classes = config.out_classes.map((c, i) =>
    parseObjClass(c, { file: configFile, field: `out_classes[${i}]` }),
  );
  const classToIndex = config.class_title_to_idx;
  const indices = Object.values(classToIndex);
  if (indices.length === 0) {
    throw modelError('the class map is empty', { file: configFile, field: 'class_title_to_idx' });
  }
  const channels = Math.max(...indices) + 1;
  const preprocessing = readPreprocessing(config, configFile);
  const resolution = readResolution(config, configFile);
  return {
    resolution,
    config,
    inputSize,
    channels,
    classes,
    classToIndex,
    preprocessing,
  };
}

/**
 * The normalisation to feed the checkpoint's network: the one it records, else `assumed` (what its network used
 * before checkpoints recorded it, named by the composition root), else a model error naming the field.
 */
export function checkpointPreprocessing(
  checkpoint: InferenceCheckpoint,
  assumed: ChannelStats | undefined,
  displayName = 'model',
): { stats: ChannelStats; assumed: boolean } {
  if (checkpoint.preprocessing !== null) return { stats: checkpoint.preprocessing, assumed: false };
  if (assumed !== undefined) return { stats: assumed, assumed: true };
  throw modelError(
    'missing: the input normalisation ({"mean": [r, g, b], "std": [r, g, b]}) the network was trained with',
    { file: `${displayName}/config.json`, field: 'preprocessing' },
  );
}

/**
 * Loads the checkpoint's network and checks it against its config.json and `opts.expected` (see `expectedOf`);
 * the caller owns the model.
 */
export async function loadCheckpointModel(
  checkpoint: InferenceCheckpoint,
  opts: LoadCheckpointOptions & { readonly expected?: ExpectedNetwork },
): Promise<tf.LayersModel> {
  // Loaded here, not at the top: a network thread that runs the checkpoint's model.onnx never loads tfjs.
  const io = await import('../network/io');
  const file = `${opts.displayName}/${io.MODEL_JSON_FILE}`;
  let model: tf.LayersModel;
  try {
    model = await io.loadModelFromDir(opts.dir);
  } catch (e) {
    if (e instanceof TaskError) throw e.withContext({ file });
    throw modelError(`cannot load the network: ${(e as Error).message}`, { file }, e);
  }
  try {
    checkModelShapes(model, {
      inputSize: checkpoint.inputSize,
      expected: expectedOf(checkpoint, opts.expected),
      file,
    });
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

function readInputSize(config: ModelConfig, file: string): ImageSize {
  const raw = (config.settings as { input_size?: unknown }).input_size;
  const size = raw as { height?: unknown; width?: unknown } | undefined;
  const ok = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;
  if (typeof size !== 'object' || size === null || !ok(size.height) || !ok(size.width)) {
    throw modelError('expected {"height": int, "width": int}: the training config of this checkpoint', {
      file,
      field: 'settings.input_size',
    });
  }
  return { height: size.height, width: size.width };
}

function readResolution(config: ModelConfig, file: string): Resolution {
  const raw = (config.settings as { resolution?: unknown }).resolution;
  if (raw === undefined) return { mode: 'fit' };
  const r = raw as { mode?: unknown; scale?: unknown };
  if (typeof r === 'object' && r !== null && r.mode === 'fit') return { mode: 'fit' };
  if (
    typeof r === 'object' &&
    r !== null &&
    r.mode === 'native' &&
    typeof r.scale === 'number' &&
    Number.isFinite(r.scale) &&
    r.scale > 0
  ) {
    return { mode: 'native', scale: r.scale };
  }
  throw modelError('expected {"mode": "fit"} or {"mode": "native", "scale": a positive number}', {
    file,
    field: 'settings.resolution',
  });
}

function readPreprocessing(config: ModelConfig, file: string): ChannelStats | null {
  const raw = config.extra.preprocessing;
  if (raw === undefined) return null;
  const p = raw as { mean?: unknown; std?: unknown };
  const triple = (v: unknown, positive: boolean): v is [number, number, number] =>
    Array.isArray(v) &&
    v.length === 3 &&
    v.every((x) => typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0));
  if (typeof p !== 'object' || p === null || !triple(p.mean, false) || !triple(p.std, true)) {
    throw modelError('expected {"mean": [r, g, b], "std": [r, g, b]} with positive std', {
      file,
      field: 'preprocessing',
    });
  }
  return { mean: p.mean, std: p.std };
}

/**
 * The network must take each declared input at the trained input size and give each declared output with the
 * channels its task expects. Errors name the file and the tensor, with the expected and the actual shape.
 */
export function checkModelShapes(
  model: tf.LayersModel,
  expected: { inputSize: ImageSize; expected: ExpectedNetwork; file: string },
): void {
  // The model records its input and output layer names; the output tensors' own names are tfjs's.
  const recorded = {
    inputs: model.inputs.map((t, i) => ({ name: model.inputLayers[i].name, shape: t.shape })),
    outputs: model.outputs.map((t, i) => ({ name: model.outputLayers[i].name, shape: t.shape })),
  };
  const mismatch = shapeMismatch(recorded, expected.expected, expected.inputSize);
  if (mismatch === null) return;
  const verdict =
    mismatch.kind === 'count'
      ? 'this checkpoint was not made by this plugin'
      : 'the weights and the config do not belong together';
  throw modelError(`${mismatch.message}: ${verdict}`, { file: expected.file });
}
