/**
 * `export-onnx <checkpoint dir> <out.onnx>`: converts a checkpoint (model.json + weights.bin in the TensorFlow.js
 * layers format, plus its config.json) into one ONNX file for onnxruntime in any language.
 */
import type { CliCommand } from '../command';
import { parseCommandArgs } from '../command';

export const exportOnnxCommand: CliCommand = {
  name: 'export-onnx',
  summary: 'Export a checkpoint to an ONNX file for onnxruntime (Python, C++, Node, ...)',
  usage: 'sly-nn export-onnx <checkpoint dir> <out.onnx>',
  help: [
    'Reads <checkpoint dir>/model.json and its weights (TensorFlow.js layers format) and, if present, config.json,',
    'and writes <out.onnx>, an ONNX model (opset 13). The file is written under a temporary name and renamed.',
    '',
    '  input   "input"   float32 [N, H, W, 3]  RGB, NHWC, normalised as in training: (x / 255 - mean) / std',
    '  output  "scores"  float32 [N, H, W, C]  softmax scores per class, NHWC',
    '  metadata          class_title_to_idx, and classes (the titles in output channel order), from config.json',
    '',
    'Batch norms are folded into the convolutions. A layer the exporter does not support is an error naming it.',
    '',
    'Example: sly-nn export-onnx results/00000003 unet.onnx',
  ].join('\n'),
  async run(args, io) {
    const { positionals } = parseCommandArgs(args, { positionals: ['checkpoint dir', 'out.onnx'] });
    const [checkpointDir, outFile] = positionals as [string, string];
    // tfjs loads only when a command needs it, so `sly-nn --help` starts fast.
    const { exportCheckpointToOnnx } = await import('../../onnx/checkpoint-export');
    const r = await exportCheckpointToOnnx({ checkpointDir, outFile });
    const shape = (dims: readonly (string | number)[]): string => `[${dims.join(', ')}]`;
    io.out(`Wrote ${r.outFile} (${r.byteLength} bytes, ONNX opset ${r.opset})`);
    io.out(`  input  ${r.inputs.map((i) => `${i.name} ${shape(i.dims)}`).join(', ')}`);
    io.out(`  output ${r.outputs.map((o) => `${o.name} ${shape(o.dims)}`).join(', ')}`);
    io.out(`  batch norms folded into convolutions: ${r.foldedBatchNorms.length}`);
    if (r.classes !== null) io.out(`  classes (output channel order): ${JSON.stringify(r.classes)}`);
    return 0;
  },
};
