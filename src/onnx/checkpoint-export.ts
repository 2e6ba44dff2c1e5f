/**
 * Exporting a checkpoint folder (model.json + weights.bin in the tfjs layers format, and config.json, spec C)
 * to one `.onnx` file. The class map from config.json goes into the ONNX metadata, so the file alone says
 * which output channel is which class.
 */
import * as path from 'node:path';
import { errorMessage, modelError, TaskError } from '../errors';
import { loadModelFromDir, MODEL_JSON_FILE } from '../network/io';
import { exportToOnnx, type OnnxExport } from './export';
import { writeFileAtomic } from '../util/atomic';
import { readRegularFile } from '../util/regular-file';

/** The file name of the ONNX export inside a checkpoint folder. */
export { ONNX_FILE } from '../network/model-files';
const CONFIG_FILE = 'config.json';

/**
 * ONNX metadata from a checkpoint's `class_title_to_idx`: the map itself, and `classes`, the titles in output
 * channel order (a JSON array; an index no class uses is null).
 */
export function onnxMetadataFromClassMap(
  classTitleToIdx: Readonly<Record<string, number>>,
): Record<string, string> {
  const entries = Object.entries(classTitleToIdx);
  const size = entries.reduce((m, [, i]) => Math.max(m, i + 1), 0);
  const classes: (string | null)[] = new Array<string | null>(size).fill(null);
  for (const [title, i] of entries) classes[i] = title;
  return { class_title_to_idx: JSON.stringify(classTitleToIdx), classes: JSON.stringify(classes) };
}

export interface CheckpointExportSummary extends Omit<OnnxExport, 'bytes'> {
  readonly outFile: string;
  readonly byteLength: number;
  /** Output channel → class title, when the checkpoint has a config.json. */
  readonly classes: readonly (string | null)[] | null;
}

export async function exportCheckpointToOnnx(opts: {
  checkpointDir: string;
  outFile: string;
}): Promise<CheckpointExportSummary> {
  const classMap = await readClassMap(path.join(opts.checkpointDir, CONFIG_FILE));
  const model = await loadModelFromDir(opts.checkpointDir);
  let exported: OnnxExport;
  try {
    exported = exportToOnnx(model, { metadata: classMap === null ? {} : onnxMetadataFromClassMap(classMap) });
  } catch (e) {
    // Name the file the unsupported layer is in; a plain Error is an exporter bug and stays as it is.
    throw e instanceof TaskError
      ? e.withContext({ file: path.join(opts.checkpointDir, MODEL_JSON_FILE) })
      : e;
  } finally {
    model.dispose();
  }
  try {
    await writeFileAtomic(opts.outFile, exported.bytes); // a reader never sees half a file
  } catch (e) {
    throw modelError(`cannot write the ONNX file: ${errorMessage(e)}`, { file: opts.outFile }, e);
  }
  const { bytes, ...rest } = exported;
  return {
    ...rest,
    outFile: opts.outFile,
    byteLength: bytes.byteLength,
    classes:
      classMap === null
        ? null
        : (JSON.parse(onnxMetadataFromClassMap(classMap).classes) as (string | null)[]),
  };
}

/** The checkpoint's class map, or null when there is no config.json (a bare tfjs model folder). */
async function readClassMap(file: string): Promise<Record<string, number> | null> {
  let text: string;
  try {
    text = await readRegularFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw modelError(`cannot read: ${errorMessage(e)}`, { file }, e);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw modelError(`not valid JSON: ${errorMessage(e)}`, { file }, e);
  }
  const map = (json as { class_title_to_idx?: unknown } | null)?.class_title_to_idx;
  const valid =
    typeof map === 'object' &&
    map !== null &&
    !Array.isArray(map) &&
    Object.values(map).every((v) => Number.isInteger(v) && (v as number) >= 0);
  if (!valid) {
    throw modelError('expected an object of class title -> non-negative integer', {
      file,
      field: 'class_title_to_idx',
    });
  }
  return map as Record<string, number>;
}
