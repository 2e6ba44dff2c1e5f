/**
 * A tracker checkpoint: `config.json` (the agent's model config keys, spec C.2, with no classes of its own: a
 * tracker keeps the classes of the objects it is given; plus `network`, `task`, `custom_model_config`,
 * `preprocessing` and `tracker`), the two layer models in `encoder/` and `decoder/` (model.json + weights.bin,
 * for tfjs and for further training), and `encoder.onnx` + `decoder.onnx` exported from them, so onnxruntime
 * runs a checkpoint without building a tfjs model.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { errorMessage, modelError } from '../../errors';
import type { ModelConfigJson } from '../../format/types';
import { hasOptimizerState, loadModelFromDir, saveModelToDir } from '../../network/io';
import type { Preprocessing } from '../../network/types';
import type { OrtModule } from '../../onnx/runtime';
import { readRegularFile } from '../../util/regular-file';
import type { MatchTrackerOptions } from './match-tracker';
import { OrtTrackerEngine, TfjsTrackerEngine, trackerOnnx, type TrackerEngine } from './tracker-engines';

export const TRACKER_TASK = 'video_tracking';
export const TRACKER_CONFIG_FILE = 'config.json';
const ENCODER_DIR = 'encoder';
const DECODER_DIR = 'decoder';
/** The layer models' sub-folders, named as the models are (each with its Adam state when trained here). */
export const TRACKER_MODEL_DIRS = [ENCODER_DIR, DECODER_DIR] as const;
const ENCODER_ONNX = 'encoder.onnx';
const DECODER_ONNX = 'decoder.onnx';

/** What config.json's `tracker` holds. */
export interface TrackerRecord {
  local_radius: number;
  short_side: number;
  clip_size: number;
  steps: number;
  /** The last validation's figures, when there was one. */
  metrics?: Record<string, number>;
}

export interface TrackerCheckpointConfig {
  network: string;
  settings: unknown;
  preprocessing: Preprocessing;
  tracker: TrackerRecord;
}

/** config.json of a tracker checkpoint (spec C.2 keys with no classes, then the tracker's own). */
export function trackerModelConfig(opts: {
  config: TrackerCheckpointConfig;
  /** The training config, recorded as `settings` (spec C.2). */
  trainConfig: Record<string, unknown>;
}): ModelConfigJson {
  return {
    settings: opts.trainConfig,
    out_classes: [],
    class_title_to_idx: {},
    network: opts.config.network,
    task: TRACKER_TASK,
    custom_model_config: opts.config.settings,
    preprocessing: opts.config.preprocessing,
    tracker: opts.config.tracker,
  };
}

/**
 * The layer models (for tfjs and further training) and their ONNX graphs (for onnxruntime) into `dir`; with
 * `optimizers`, each model's Adam state in its weights.bin (group `optimizer`), for continue_training.
 */
export async function saveTrackerModels(
  dir: string,
  models: { encoder: tf.LayersModel; decoder: tf.LayersModel },
  optimizers?: { encoder: tf.Optimizer; decoder: tf.Optimizer },
): Promise<void> {
  await saveModelToDir(models.encoder, path.join(dir, ENCODER_DIR), { optimizer: optimizers?.encoder });
  await saveModelToDir(models.decoder, path.join(dir, DECODER_DIR), { optimizer: optimizers?.decoder });
  const onnx = trackerOnnx(models.encoder, models.decoder);
  await fsp.writeFile(path.join(dir, ENCODER_ONNX), onnx.encoder);
  await fsp.writeFile(path.join(dir, DECODER_ONNX), onnx.decoder);
}

/** Every file of a checkpoint into `dir` (which the caller creates and renames atomically). */
export async function writeTrackerFiles(
  dir: string,
  opts: {
    encoder: tf.LayersModel;
    decoder: tf.LayersModel;
    config: TrackerCheckpointConfig;
    trainConfig: Record<string, unknown>;
  },
): Promise<void> {
  await saveTrackerModels(dir, opts);
  const json = trackerModelConfig(opts);
  await fsp.writeFile(path.join(dir, TRACKER_CONFIG_FILE), `${JSON.stringify(json, null, 2)}\n`);
}

/**
 * The layer models of a checkpoint (to go on training from it). With `optimizers`, each model's Adam state is
 * restored into its optimizer when both folders hold one (`restoredOptimizer`); otherwise they stay fresh.
 */
export async function loadTrackerModels(
  dir: string,
  optimizers?: { encoder: tf.Optimizer; decoder: tf.Optimizer },
): Promise<{ encoder: tf.LayersModel; decoder: tf.LayersModel; restoredOptimizer: boolean }> {
  const dirs = { encoder: path.join(dir, ENCODER_DIR), decoder: path.join(dir, DECODER_DIR) };
  const restore =
    optimizers !== undefined &&
    (await hasOptimizerState(dirs.encoder)) &&
    (await hasOptimizerState(dirs.decoder));
  const encoder = await loadModelFromDir(dirs.encoder, restore ? { optimizer: optimizers.encoder } : {});
  try {
    const decoder = await loadModelFromDir(dirs.decoder, restore ? { optimizer: optimizers.decoder } : {});
    return { encoder, decoder, restoredOptimizer: restore };
  } catch (e) {
    encoder.dispose();
    throw e;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads and checks config.json; errors name the file and the field. */
export async function readTrackerConfig(dir: string): Promise<TrackerCheckpointConfig> {
  const file = path.join(dir, TRACKER_CONFIG_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(await readRegularFile(file, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw modelError(
      code === 'ENOENT'
        ? 'missing: a tracker checkpoint has a config.json'
        : `unreadable: ${(e as Error).message}`,
      { file },
      e,
    );
  }
  if (!isObject(raw)) throw modelError('expected a JSON object', { file });
  if (raw.task !== TRACKER_TASK) {
    throw modelError(
      `this checkpoint is for ${JSON.stringify(raw.task ?? 'semantic_segmentation')}, not video tracking; train one with network "tracker"`,
      { file, field: 'task' },
    );
  }
  const pre = raw.preprocessing;
  const triple = (v: unknown): boolean =>
    Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number' && Number.isFinite(x));
  if (!isObject(pre) || !triple(pre.mean) || !triple(pre.std)) {
    throw modelError('expected {"mean": [r, g, b], "std": [r, g, b]}', { file, field: 'preprocessing' });
  }
  const t = raw.tracker;
  if (!isObject(t)) throw modelError('missing or not an object', { file, field: 'tracker' });
  for (const key of ['local_radius', 'short_side', 'clip_size', 'steps'] as const) {
    const v = t[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      throw modelError(`expected a non-negative integer, found ${JSON.stringify(v)}`, {
        file,
        field: `tracker.${key}`,
      });
    }
  }
  return {
    network: typeof raw.network === 'string' ? raw.network : 'tracker',
    settings: raw.custom_model_config,
    preprocessing: pre as unknown as Preprocessing,
    tracker: t as unknown as TrackerRecord,
  };
}

export interface LoadedTracker {
  engine: TrackerEngine;
  config: TrackerCheckpointConfig;
  /** The options MatchTracker.create takes, from the checkpoint (shortSide overridable by the caller). */
  options: MatchTrackerOptions;
}

/** A checkpoint's engine: onnxruntime from its .onnx files, or tfjs from its layer models. */
export async function loadTracker(
  dir: string,
  opts:
    | { engine: 'onnxruntime'; ort: OrtModule; threads: number; shortSide?: number }
    | { engine: 'tfjs'; shortSide?: number },
): Promise<LoadedTracker> {
  const config = await readTrackerConfig(dir);
  const readOnnx = async (name: string): Promise<Uint8Array> => {
    const file = path.join(dir, name);
    try {
      return await readRegularFile(file);
    } catch (e) {
      const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
      throw modelError(
        missing
          ? 'missing: a tracker checkpoint has encoder.onnx and decoder.onnx'
          : `unreadable: ${errorMessage(e)}`,
        { file },
        e,
      );
    }
  };
  const engine =
    opts.engine === 'onnxruntime'
      ? await OrtTrackerEngine.create(
          opts.ort,
          { encoder: await readOnnx(ENCODER_ONNX), decoder: await readOnnx(DECODER_ONNX) },
          opts.threads,
        )
      : new TfjsTrackerEngine(
          await loadModelFromDir(path.join(dir, ENCODER_DIR)),
          await loadModelFromDir(path.join(dir, DECODER_DIR)),
        );
  return { engine, config, options: trackerOptions(config, opts.shortSide) };
}

/** How a checkpoint tracks: at its short side (or `shortSide`), its matching window, its input normalisation. */
export function trackerOptions(config: TrackerCheckpointConfig, shortSide?: number): MatchTrackerOptions {
  return {
    shortSide: shortSide ?? config.tracker.short_side,
    localRadius: config.tracker.local_radius,
    preprocessing: config.preprocessing,
  };
}
