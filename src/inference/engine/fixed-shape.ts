/**
 * The engines need a network whose inputs and outputs are NHWC tensors of fixed size. A single-input network's
 * one input and output are the image path's (`inputShape`, `outputChannels`); every network's named tensors
 * are in its signature.
 */
import type * as tf from '@tensorflow/tfjs';
import { modelError } from '../../errors';
import { modelSignature, type Signature, type TensorNames } from '../../network/tensors';

export interface FixedShapes {
  /** `[height, width, channels]` of the first input. */
  readonly inputShape: readonly [number, number, number];
  /** Channels of the first output. */
  readonly outputChannels: number;
  readonly signature: Signature;
}

/** `names`: the plugin's names for the model's inputs and outputs; the model's layer names by default. */
export function fixedShapes(model: tf.LayersModel, names?: TensorNames): FixedShapes {
  const signature = modelSignature(model, names);
  const several = model.inputs.length > 1;
  model.inputs.forEach((input, i) => {
    const [, h, w, c] = input.shape;
    if (input.shape.length !== 4 || h === null || w === null || c === null) {
      const which = several ? `input "${signature.inputs[i].name}"` : 'input';
      throw modelError(
        `the network ${which} must be [batch, height, width, channels] with a fixed size, it is ${JSON.stringify(input.shape)}`,
        { item: model.name },
      );
    }
  });
  const [, h, w, c] = model.inputs[0].shape as number[];
  model.outputs.forEach((output, i) => {
    const out = output.shape;
    // One input and one output: the image path, whose scores are per pixel of the input.
    const sameSize = several || model.outputs.length > 1 || (out[1] === h && out[2] === w);
    if (out.length !== 4 || out[1] === null || out[2] === null || out[3] === null || !sameSize) {
      const expected =
        several || model.outputs.length > 1
          ? '[batch, height, width, channels]'
          : `[batch, ${h}, ${w}, classes]`;
      const which = model.outputs.length > 1 ? `output "${signature.outputs[i].name}"` : 'output';
      throw modelError(`the network ${which} must be ${expected}, it is ${JSON.stringify(out)}`, {
        item: model.name,
      });
    }
  });
  return { inputShape: [h, w, c], outputChannels: model.outputs[0].shape[3] as number, signature };
}
