/**
 * A hash of a network's weights, recorded in the ONNX metadata at export (`weights_sha256`), so inference can
 * tell whether a checkpoint's model.onnx still holds the weights of its model.json + weights.bin without
 * loading the network in tfjs: sha256 over each model weight's name, dtype, shape and bytes, in the order tfjs
 * saves them (`model.weights`, named by `originalName`). Optimizer state is left out.
 *
 * No tfjs at run time here (types only): the inference side reads the files directly, so a network thread
 * that reuses model.onnx never loads tfjs.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs';

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

interface ManifestSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: string;
  readonly group?: string;
  readonly quantization?: unknown;
}

/**
 * The hash of a checkpoint folder's model.json + weight files, or null when they cannot be read this way
 * (missing or invalid files, quantised weights, shard paths outside the folder): the caller then loads the
 * network the usual way, which reports any real problem with the files.
 */
export async function checkpointWeightsHash(dir: string): Promise<string | null> {
  try {
    const json = JSON.parse(await fsp.readFile(path.join(dir, 'model.json'), 'utf8')) as {
      weightsManifest: { paths: string[]; weights: ManifestSpec[] }[];
    };
    const entries: WeightEntry[] = [];
    for (const group of json.weightsManifest) {
      if (group.paths.some((p) => path.basename(p) !== p)) return null;
      const files = await Promise.all(group.paths.map((p) => fsp.readFile(path.join(dir, p))));
      // One shard (the usual case) is hashed where it lies: copying tens of MB costs more than hashing them.
      const data = files.length === 1 ? files[0] : Buffer.concat(files);
      let offset = 0;
      for (const spec of group.weights) {
        const size = DTYPE_BYTES[spec.dtype];
        if (size === undefined || spec.quantization !== undefined) return null;
        const length = size * spec.shape.reduce((a, b) => a * b, 1);
        if (offset + length > data.byteLength) return null;
        if (spec.group !== 'optimizer') {
          const bytes = data.subarray(offset, offset + length);
          entries.push({ name: spec.name, dtype: spec.dtype, shape: spec.shape, bytes });
        }
        offset += length;
      }
    }
    return digest(entries);
  } catch {
    return null;
  }
}
