/**
 * `export-onnx <checkpoint dir> <out.onnx>`: converts a checkpoint (model.json + weights.bin in the TensorFlow.js
 * layers format, plus its config.json) into one ONNX file for onnxruntime in any language.
 */
import { exportCheckpointToOnnx } from '../../onnx';

export const name = 'export-onnx';
export const usage = 'export-onnx <checkpoint dir> <out.onnx>';
export const summary =
  'Export a checkpoint to ONNX (opset 13, NHWC float32 input "input", softmax output "scores")';
export const help = `Usage: sly-nn ${usage}

Reads <checkpoint dir>/model.json and its weights (TensorFlow.js layers format) and, if present, config.json,
and writes <out.onnx>: an ONNX model (opset 13) for onnxruntime in Python, C++, Node and others.

  input   "input"   float32 [N, H, W, 3]  RGB, NHWC, normalised as in training: (x / 255 - mean) / std
  output  "scores"  float32 [N, H, W, C]  softmax scores per class, NHWC
  metadata          class_title_to_idx and classes (the titles in output channel order), from config.json

Batch norms are folded into the convolutions. A layer the exporter does not support is an error naming it.`;

export interface ExportOnnxIo {
  readonly out: (line: string) => void;
}

/** Runs the command; returns the exit code. Errors (TaskError with file and layer) propagate to the CLI main. */
export async function run(
  args: readonly string[],
  io: ExportOnnxIo = { out: (l) => console.log(l) },
): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    io.out(help);
    return 0;
  }
  if (args.length !== 2) {
    throw new Error(`expected 2 arguments, got ${args.length}\n\n${help}`);
  }
  const [checkpointDir, outFile] = args;
  const r = await exportCheckpointToOnnx({ checkpointDir, outFile });
  const shape = (dims: readonly (string | number)[]): string => `[${dims.join(', ')}]`;
  io.out(`wrote ${r.outFile} (${r.byteLength} bytes, opset ${r.opset})`);
  io.out(`  input  ${r.inputs.map((i) => `${i.name} ${shape(i.dims)}`).join(', ')}`);
  io.out(`  output ${r.outputs.map((o) => `${o.name} ${shape(o.dims)}`).join(', ')}`);
  io.out(`  batch norms folded into convolutions: ${r.foldedBatchNorms.length}`);
  if (r.classes !== null) io.out(`  classes (output channel order): ${JSON.stringify(r.classes)}`);
  return 0;
}
