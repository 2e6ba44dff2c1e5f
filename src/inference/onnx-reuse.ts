/**
 * The checkpoint's own model.onnx, when it can stand in for exporting the network again: its recorded weights
 * hash (src/onnx/weights-hash.ts) equals that of model.json + weights.bin, it was written by the current exporter
 * version, and its inputs and outputs are those the network declares, at the sizes config.json says (model-shapes.ts).
 * Otherwise the reason, for the log; the caller then exports in memory.
 */
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import { errorMessage } from '../errors';
import type { ImageSize } from '../format/model';
import { ONNX_FILE } from '../network/model-files';
import { EXPORTER_VERSION, EXPORTER_VERSION_KEY } from '../onnx/export';
import { checkpointWeightsHash, WEIGHTS_HASH_KEY } from '../onnx/weights-hash';
import { readRegularFile } from '../util/regular-file';
import { shapeMismatch, type ExpectedNetwork, type RecordedTensor } from './model-shapes';

export type OnnxReuse = { readonly bytes: Uint8Array } | { readonly reason: string };

export async function reusableOnnx(
  dir: string,
  checkpoint: { readonly inputSize: ImageSize },
  expected: ExpectedNetwork,
): Promise<OnnxReuse> {
  let bytes: Buffer;
  try {
    bytes = await readRegularFile(path.join(dir, ONNX_FILE));
  } catch (e) {
    const absent = (e as NodeJS.ErrnoException).code === 'ENOENT';
    return { reason: absent ? 'the checkpoint has no model.onnx' : `model.onnx: ${errorMessage(e)}` };
  }
  let proto: onnx.ModelProto;
  try {
    proto = onnx.ModelProto.decode(bytes);
  } catch (e) {
    return { reason: `model.onnx is not an ONNX model: ${errorMessage(e)}` };
  }
  const version = proto.metadataProps.find((p) => p.key === EXPORTER_VERSION_KEY)?.value ?? '';
  if (version !== String(EXPORTER_VERSION)) {
    const writer = version === '' ? 'an older exporter' : `version ${version} of the exporter`;
    return {
      reason: `model.onnx was written by ${writer}, and this one writes version ${EXPORTER_VERSION} (a faster graph)`,
    };
  }
  const recorded = proto.metadataProps.find((p) => p.key === WEIGHTS_HASH_KEY)?.value;
  if (recorded === undefined || recorded === null || recorded === '') {
    return { reason: `model.onnx records no weights hash (${WEIGHTS_HASH_KEY}), so it cannot be checked` };
  }
  const actual = await checkpointWeightsHash(dir);
  if (actual === null) return { reason: 'model.json + weights.bin could not be hashed' };
  if (actual !== recorded) {
    return { reason: 'model.onnx is stale: its weights hash differs from that of model.json + weights.bin' };
  }
  const mismatch = shapeMismatch(
    { inputs: graphTensors(proto.graph?.input), outputs: graphTensors(proto.graph?.output) },
    expected,
    checkpoint.inputSize,
  );
  if (mismatch !== null) return { reason: `model.onnx does not fit config.json: ${mismatch.message}` };
  return { bytes };
}

/** A graph's inputs or outputs with their dims (a number, or the symbol's name). */
function graphTensors(values: onnx.IValueInfoProto[] | null | undefined): RecordedTensor[] {
  return (values ?? []).map((v) => ({
    name: v.name ?? '',
    shape: (v.type?.tensorType?.shape?.dim ?? []).map((d) =>
      typeof d.dimParam === 'string' && d.dimParam !== '' ? d.dimParam : Number(d.dimValue),
    ),
  }));
}
