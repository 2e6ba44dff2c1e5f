/**
 * What a checkpoint's network must take and give, and the check of a model against it: the same for model.json
 * (checkpoint.ts) and for model.onnx (onnx-reuse.ts). The inputs are the network's declared ones (its plugin's)
 * at the checkpoint's input size; the channels of each output are the task's to say (a semantic segmenter's
 * scores have the class map's channels, a click network's the two of its head). Tensor-library free.
 */
import { modelError } from '../errors';
import type { ImageSize } from '../format/model';
import { formatShape } from '../network/tensors';
import { IMAGE_INPUT, SCORES_OUTPUT, type NamedInput, type NetworkSignature } from '../network/types';

export interface ExpectedOutput {
  readonly name: string;
  /** Null: any (the task does not read this output). */
  readonly channels: number | null;
  /** What needs that many channels, for messages: e.g. `the class map needs 4 channels (...)`. */
  readonly why: string;
}

export interface ExpectedNetwork {
  /** The network's declared inputs, in the model's order, each NHWC at the checkpoint's input size. */
  readonly inputs: readonly NamedInput[];
  /** The network's declared outputs, in the model's order. */
  readonly outputs: readonly ExpectedOutput[];
}

/** A semantic segmenter's: the network's declared inputs (default: the RGB image), class scores out. */
export function classScoresExpected(
  channels: number,
  signature: NetworkSignature = { inputs: IMAGE_INPUT, outputs: SCORES_OUTPUT },
): ExpectedNetwork {
  const why = `the class map needs ${channels} channels (max of class_title_to_idx + 1)`;
  return { inputs: signature.inputs, outputs: signature.outputs.map((name) => ({ name, channels, why })) };
}

/**
 * Values per sample of each input and output (NHWC at the input size), by name: what the batcher carries. An
 * output of any channels has no fixed length: a model error naming it.
 */
export function sampleLengths(
  expected: ExpectedNetwork,
  inputSize: ImageSize,
): { inputs: Record<string, number>; outputs: Record<string, number> } {
  const pixels = inputSize.height * inputSize.width;
  const inputs: Record<string, number> = {};
  for (const i of expected.inputs) inputs[i.name] = pixels * i.channels;
  const outputs: Record<string, number> = {};
  for (const o of expected.outputs) {
    if (o.channels === null) throw modelError(`the output "${o.name}" has no known channel count to batch`);
    outputs[o.name] = pixels * o.channels;
  }
  return { inputs, outputs };
}

/** One input or output as a model file records it: its own name, and its shape with the batch first. */
export interface RecordedTensor {
  readonly name: string;
  readonly shape: readonly (number | string | null)[];
}

/** What is wrong: a different count of tensors (another network altogether), or one tensor's order or shape. */
export interface ShapeMismatch {
  readonly kind: 'count' | 'tensor';
  readonly message: string;
}

/**
 * The first way `model` differs from `expected` at `inputSize`, or null. Tensors are matched by position (the
 * declared names are the plugin's, not the model's); when the model records the declared names in another
 * order, that is the mismatch.
 */
export function shapeMismatch(
  model: { readonly inputs: readonly RecordedTensor[]; readonly outputs: readonly RecordedTensor[] },
  expected: ExpectedNetwork,
  inputSize: ImageSize,
): ShapeMismatch | null {
  const names = (ts: readonly { name: string }[]): string => `[${ts.map((t) => t.name).join(', ')}]`;
  if (model.inputs.length !== expected.inputs.length || model.outputs.length !== expected.outputs.length) {
    return {
      kind: 'count',
      message:
        `expected a network with ${expected.inputs.length} input(s) ${names(expected.inputs)} and ` +
        `${expected.outputs.length} output(s) ${names(expected.outputs)}, found ${model.inputs.length} and ` +
        `${model.outputs.length}`,
    };
  }
  for (const [what, recorded, declared] of [
    ['inputs', model.inputs, expected.inputs],
    ['outputs', model.outputs, expected.outputs],
  ] as const) {
    if (reordered(recorded, declared)) {
      return {
        kind: 'tensor',
        message: `the network has its ${what} in the order ${names(recorded)}, its plugin declares ${names(declared)}`,
      };
    }
  }
  const { height: h, width: w } = inputSize;
  for (const [i, input] of expected.inputs.entries()) {
    const shape = model.inputs[i].shape;
    const want = [h, w, input.channels];
    if (shape.length !== 4 || want.some((v, k) => shape[k + 1] !== v)) {
      return {
        kind: 'tensor',
        message:
          `the network takes ${formatShape(shape)} as its input "${input.name}", but config.json says input_size ` +
          `${w}x${h} and "${input.name}" has ${input.channels} channel(s): ${formatShape(['n', ...want])}`,
      };
    }
  }
  for (const [i, output] of expected.outputs.entries()) {
    const shape = model.outputs[i].shape;
    if (shape.length !== 4 || (output.channels !== null && shape[3] !== output.channels)) {
      return {
        kind: 'tensor',
        message:
          `the network gives ${formatShape(shape)} as its output "${output.name}", but ${output.why}: ` +
          formatShape(['n', 'h', 'w', output.channels ?? 'c']),
      };
    }
  }
  return null;
}

/** Whether the model records the declared names, all of them, in another order. */
function reordered(recorded: readonly { name: string }[], declared: readonly { name: string }[]): boolean {
  const r = recorded.map((t) => t.name);
  const d = declared.map((t) => t.name);
  return r.join('\n') !== d.join('\n') && [...r].sort().join('\n') === [...d].sort().join('\n');
}
