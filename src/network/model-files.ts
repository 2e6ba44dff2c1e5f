/**
 * The one reader of a network's files in a checkpoint folder, without tfjs (types only): model.json (the tfjs
 * layers format) and the weight files its manifest names. network/io.ts turns what it reads into tfjs
 * ModelArtifacts to load the network; onnx/weights-hash.ts hashes the weights as they lie, so inference can
 * check a checkpoint's model.onnx without loading tfjs at all.
 *
 * Missing files, invalid JSON, a manifest that does not fit the tfjs layers format, a shard path outside the
 * folder and weight files whose size does not match the manifest are model errors naming the file.
 */
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { errorMessage, modelError } from '../errors';
import { readRegularFile } from '../util/regular-file';

export const MODEL_JSON_FILE = 'model.json';
export const WEIGHTS_FILE = 'weights.bin';
/** The ONNX export of the network inside a checkpoint folder (src/onnx/checkpoint-export.ts writes it). */
export const ONNX_FILE = 'model.onnx';
/** The manifest group holding optimizer state (as tfjs-layers' `includeOptimizer` names it). */
export const OPTIMIZER_GROUP = 'optimizer';

export type WeightSpec = tf.io.WeightsManifestEntry;

/** One manifest group: its weights, in order, and its shards' bytes joined. */
export interface WeightGroup {
  readonly specs: readonly WeightSpec[];
  /** The group's one shard as read (the usual case: no copy), or its shards concatenated. */
  readonly data: Buffer;
}

export interface ModelFiles {
  readonly json: tf.io.ModelJSON;
  /** model.json's path, for messages. */
  readonly jsonPath: string;
  readonly groups: readonly WeightGroup[];
}

/** A weight and its bytes: a view into its group's data. */
export interface WeightBytes {
  readonly spec: WeightSpec;
  readonly bytes: Uint8Array;
}

/** Reads and checks model.json alone (no weights). */
export async function readModelJson(dir: string): Promise<{ json: tf.io.ModelJSON; jsonPath: string }> {
  const jsonPath = path.join(dir, MODEL_JSON_FILE);
  return { json: parseModelJson(await readFileOrThrow(jsonPath), jsonPath), jsonPath };
}

/** Reads model.json and every weight file it names, each group checked against the size the manifest gives. */
export async function readModelFiles(dir: string): Promise<ModelFiles> {
  const { json, jsonPath } = await readModelJson(dir);
  const groups: WeightGroup[] = [];
  for (const [g, group] of json.weightsManifest.entries()) {
    const shards: Buffer[] = [];
    for (const rel of group.paths) {
      shards.push(await readFileOrThrow(resolveInside(dir, rel, jsonPath, `weightsManifest[${g}].paths`)));
    }
    const data = shards.length === 1 ? shards[0] : Buffer.concat(shards);
    const expected = group.weights.reduce((sum, spec) => sum + specByteLength(spec), 0);
    if (!Number.isNaN(expected) && expected !== data.byteLength) {
      throw modelError(
        `holds ${data.byteLength} bytes but ${MODEL_JSON_FILE} describes ${expected}: truncated or not ` +
          'the weights of this model',
        {
          file:
            group.paths.length === 1
              ? path.join(dir, group.paths[0])
              : `${jsonPath} (shards ${group.paths.join(', ')})`,
        },
      );
    }
    groups.push({ specs: group.weights, data });
  }
  return { json, jsonPath, groups };
}

/**
 * Each weight of `specs` with its bytes in `data` (laid out one after the other, as in a manifest group). A
 * weight whose size cannot be known (a dtype a layers model cannot hold) or that runs past the data is a model
 * error naming `file`.
 */
export function* weightBytes(
  specs: readonly WeightSpec[],
  data: Uint8Array,
  file: string,
): Generator<WeightBytes> {
  let offset = 0;
  for (const spec of specs) {
    const size = specByteLength(spec);
    if (Number.isNaN(size)) {
      throw modelError(`weight "${spec.name}" has dtype ${spec.dtype}, which a layers model cannot hold`, {
        file,
      });
    }
    if (offset + size > data.byteLength) {
      throw modelError(`weight "${spec.name}" runs past the end of the weight data: truncated`, { file });
    }
    // A plain Uint8Array view (not a Buffer, whose slice() would not copy).
    yield { spec, bytes: new Uint8Array(data.buffer, data.byteOffset + offset, size) };
    offset += size;
  }
}

const DTYPE_BYTES: Readonly<Record<string, number>> = {
  float32: 4,
  int32: 4,
  bool: 1,
  complex64: 8,
  uint8: 1,
  uint16: 2,
  float16: 2,
};

/** Bytes of one weight in the binary file; NaN when not computable (string tensors have variable size). */
export function specByteLength(spec: WeightSpec): number {
  const dtype = spec.quantization?.dtype ?? spec.dtype;
  const bytes = DTYPE_BYTES[dtype];
  if (bytes === undefined) return NaN;
  return spec.shape.reduce((p, d) => p * d, 1) * bytes;
}

async function readFileOrThrow(file: string): Promise<Buffer> {
  try {
    return await readRegularFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const detail = code === 'ENOENT' ? 'file not found' : `cannot read: ${errorMessage(e)}`;
    throw modelError(detail, { file }, e);
  }
}

/** A manifest path must name a file inside the model folder. */
function resolveInside(dir: string, rel: unknown, jsonPath: string, field: string): string {
  if (typeof rel !== 'string' || rel === '' || path.isAbsolute(rel)) {
    throw modelError(`expected a relative file name, found ${JSON.stringify(rel)}`, {
      file: jsonPath,
      field,
    });
  }
  const full = path.resolve(dir, rel);
  const root = path.resolve(dir);
  if (!full.startsWith(root + path.sep)) {
    throw modelError(`"${rel}" points outside the model folder`, { file: jsonPath, field });
  }
  return full;
}

/** Parses and checks model.json just enough that loading cannot fail on its structure. */
export function parseModelJson(raw: Buffer, file: string): tf.io.ModelJSON {
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch (e) {
    throw modelError(`invalid JSON: ${errorMessage(e)}`, { file }, e);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw modelError('expected a JSON object', { file });
  }
  const obj = json as Record<string, unknown>;
  if (typeof obj.modelTopology !== 'object' || obj.modelTopology === null) {
    throw modelError('missing "modelTopology": not a TensorFlow.js layers model', {
      file,
      field: 'modelTopology',
    });
  }
  if (obj.format !== undefined && obj.format !== 'layers-model') {
    throw modelError(`format is ${JSON.stringify(obj.format)}, expected "layers-model"`, {
      file,
      field: 'format',
    });
  }
  const manifest = obj.weightsManifest;
  if (!Array.isArray(manifest)) {
    throw modelError('missing "weightsManifest" (a list of {paths, weights})', {
      file,
      field: 'weightsManifest',
    });
  }
  manifest.forEach((group: unknown, g) => {
    const grp = group as { paths?: unknown; weights?: unknown } | null;
    if (grp === null || typeof grp !== 'object' || !Array.isArray(grp.paths) || !Array.isArray(grp.weights)) {
      throw modelError('expected {paths: [...], weights: [...]}', { file, field: `weightsManifest[${g}]` });
    }
    grp.weights.forEach((w: unknown, i) => {
      const spec = w as Partial<WeightSpec> | null;
      const ok =
        spec !== null &&
        typeof spec === 'object' &&
        typeof spec.name === 'string' &&
        typeof spec.dtype === 'string' &&
        Array.isArray(spec.shape) &&
        spec.shape.every((d) => Number.isInteger(d) && d >= 0);
      if (!ok) {
        throw modelError('expected {name, shape, dtype}', {
          file,
          field: `weightsManifest[${g}].weights[${i}]`,
        });
      }
    });
  });
  return json as tf.io.ModelJSON;
}
