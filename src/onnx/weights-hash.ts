/**
 * A hash of a network's weights, recorded in the ONNX metadata at export (`weights_sha256`), so inference can
 * tell whether a checkpoint's model.onnx still holds the weights of its model.json + weights.bin without
 * loading the network in tfjs: sha256 over each model weight's name, dtype, shape and bytes, in the order tfjs
 * saves them (`model.weights`, named by `originalName`). Optimizer state is left out.
 *
 * No tfjs at run time here (types only): the files are read by network/model-files.ts, which loads no tfjs
 * either, so a network thread that reuses model.onnx never loads tfjs.
 */
import { createHash } from 'node:crypto';
import type * as tf from '@tensorflow/tfjs';
import { OPTIMIZER_GROUP, readModelFiles, weightBytes } from '../network/model-files';

/** The ONNX metadata key. */
export const WEIGHTS_HASH_KEY = 'weights_sha256';

/** Bytes per value of the dtypes tfjs writes unquantised. */
const DTYPE_BYTES: Readonly<Record<string, number>> = { float32: 4, int32: 4, bool: 1 };

interface WeightEntry {
  readonly name: string;
  readonly dtype: string;
  /** Weights have fixed shapes; the type allows null because tfjs's Shape does. */
  readonly shape: readonly (number | null)[];
  readonly bytes: Uint8Array;
}

function digest(entries: readonly WeightEntry[]): string {
  const h = createHash('sha256');
  for (const e of entries) {
    h.update(JSON.stringify([e.name, e.dtype, e.shape]));
    h.update(e.bytes);
  }
  return h.digest('hex');
}

/** The hash of a model in memory; null when it has weights of a dtype the hash does not cover. */
export function modelWeightsHash(model: tf.LayersModel): string | null {
  const entries: WeightEntry[] = [];
  for (const w of model.weights) {
    if (DTYPE_BYTES[w.dtype] === undefined) return null;
    const data = w.read().dataSync() as Float32Array | Int32Array | Uint8Array;
    entries.push({
      name: w.originalName,
      dtype: w.dtype,
      shape: w.shape,
      bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    });
  }
  return digest(entries);
}

/**
 * The hash of a checkpoint folder's model.json + weight files (read by network/model-files.ts), or null when
 * they cannot be read this way (missing or invalid files, quantised weights or a dtype the hash does not cover):
 * the caller then loads the network the usual way, which reports any real problem with the files.
 */
export async function checkpointWeightsHash(dir: string): Promise<string | null> {
  try {
    const files = await readModelFiles(dir);
    const entries: WeightEntry[] = [];
    for (const group of files.groups) {
      if (group.specs.some((s) => DTYPE_BYTES[s.dtype] === undefined || s.quantization !== undefined)) {
        return null;
      }
      for (const { spec, bytes } of weightBytes(group.specs, group.data, files.jsonPath)) {
        if (spec.group !== OPTIMIZER_GROUP)
          entries.push({ name: spec.name, dtype: spec.dtype, shape: spec.shape, bytes });
      }
    }
    return digest(entries);
  } catch {
    return null;
  }
}
