/**
 * The files of one training checkpoint (spec C.1, C.2), written through the CheckpointWriter (temporary folder,
 * fsync, rename): config.json, model.json + weights.bin with the optimizer state (Adam's moments),
 * training_state.json (where the run was: step, data order, counters; so continue_training resumes exactly),
 * model.onnx when asked (a failed export is a warning: the checkpoint is still good for tfjs), and, when asked,
 * a model-state tar beside the folder in results/ (never inside it, so sizeb and the agent's copy are the folder
 * alone).
 */

import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { errorMessage } from '../../errors';
import type { ModelConfigJson } from '../../format/types';
import type { CheckpointWriter, WrittenCheckpoint } from '../../model-state/checkpoint-writer';
import { GOLDEN_FILE, goldenInput, goldenOf, type Golden } from '../../model-state/golden';
import { MANIFEST_FILE } from '../../model-state/manifest';
import {
  TRAINING_STATE_FILE,
  trainingStateBytes,
  type TrainingStateJson,
} from '../../model-state/training-state';
import { packModelDir } from '../../model-state/tar';
import { saveModelToDir } from '../../network/io';
import { exportToOnnx, onnxMetadataFromClassMap, ONNX_FILE } from '../../onnx';
import type { Logger } from '../../protocol/logger';

export interface CheckpointFilesOptions {
  writer: CheckpointWriter;
  model: tf.LayersModel;
  /** Saved with the weights when given. */
  optimizer?: tf.Optimizer;
  config: ModelConfigJson;
  exportOnnx: boolean;
  saveTar: boolean;
  logger: Logger;
  /** The run's reproducibility manifest (model-state/manifest.ts), written as manifest.json. */
  manifest?: unknown;
  /** What an exact resume needs besides the weights (model-state/training-state.ts), as training_state.json. */
  trainingState?: TrainingStateJson;
}

export interface CheckpointFiles extends WrittenCheckpoint {
  /** Whether model.onnx is in the folder. */
  onnx: boolean;
  /** The tar beside the folder, when one was written. */
  tarFile?: string;
}

/** The tar of checkpoint `subdir`: `results/<subdir>.tar`. */
export function checkpointTarPath(resultsDir: string, subdir: string): string {
  return path.join(resultsDir, `${subdir}.tar`);
}

/** model.onnx's bytes, or undefined after a warning naming the reason. */
export function onnxBytesOrWarn(opts: {
  model: tf.LayersModel;
  classTitleToIdx: Readonly<Record<string, number>>;
  logger: Logger;
}): Uint8Array | undefined {
  try {
    return exportToOnnx(opts.model, { metadata: onnxMetadataFromClassMap(opts.classTitleToIdx) }).bytes;
  } catch (e) {
    opts.logger.warn(
      'ONNX export failed; this checkpoint has no model.onnx (inference falls back to tfjs).',
      {
        reason: errorMessage(e),
      },
    );
    return undefined;
  }
}

export async function writeCheckpointFiles(opts: CheckpointFilesOptions): Promise<CheckpointFiles> {
  const onnx = opts.exportOnnx
    ? onnxBytesOrWarn({
        model: opts.model,
        classTitleToIdx: opts.config.class_title_to_idx,
        logger: opts.logger,
      })
    : undefined;
  const golden = goldenRecord(opts.model);
  const written = await opts.writer.write({
    config: opts.config,
    saveWeights: async (dir) => {
      await saveModelToDir(opts.model, dir, { optimizer: opts.optimizer });
    },
    extraFiles: {
      ...(onnx === undefined ? {} : { [ONNX_FILE]: onnx }),
      [GOLDEN_FILE]: Buffer.from(`${JSON.stringify(golden)}\n`),
      ...(opts.manifest === undefined
        ? {}
        : { [MANIFEST_FILE]: Buffer.from(`${JSON.stringify(opts.manifest, null, 2)}\n`) }),
      ...(opts.trainingState === undefined
        ? {}
        : { [TRAINING_STATE_FILE]: trainingStateBytes(opts.trainingState) }),
    },
  });
  let tarFile: string | undefined;
  if (opts.saveTar) {
    tarFile = checkpointTarPath(opts.writer.resultsDir, written.subdir);
    await packModelDir({ dir: written.dir, file: tarFile });
  }
  return { ...written, onnx: onnx !== undefined, ...(tarFile === undefined ? {} : { tarFile }) };
}

/** The seed of every checkpoint's golden input: fixed, so `selftest` needs only the record. */
const GOLDEN_SEED = 20261207;

/** The network's output for the golden input, as `sly-nn selftest` will compare it (model-state/golden.ts). */
export function goldenRecord(model: tf.LayersModel): Golden {
  const inputShape = [1, ...(model.inputs[0].shape.slice(1) as number[])];
  const x = goldenInput(inputShape, GOLDEN_SEED);
  const output = tf.tidy(
    () => (model.predict(tf.tensor(x, inputShape)) as tf.Tensor).dataSync() as Float32Array,
  );
  return goldenOf({ inputShape, seed: GOLDEN_SEED, output, engine: `tfjs ${tf.getBackend()}` });
}
