/** The engines need a network with one NHWC image input of fixed size and one NHWC output. */
import type * as tf from '@tensorflow/tfjs';
import { modelError } from '../../errors';

export interface FixedShapes {
  readonly inputShape: readonly [number, number, number];
  readonly outputChannels: number;
}

export function fixedShapes(model: tf.LayersModel): FixedShapes {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw modelError(
      `the network must have one input and one output, it has ${model.inputs.length} and ${model.outputs.length}`,
      { item: model.name },
    );
  }
  const [, h, w, c] = model.inputs[0].shape;
  const out = model.outputs[0].shape;
  if (model.inputs[0].shape.length !== 4 || h === null || w === null || c === null) {
    throw modelError(
      `the network input must be [batch, height, width, channels] with a fixed size, it is ${JSON.stringify(model.inputs[0].shape)}`,
      {
        item: model.name,
      },
    );
  }
  const classes = out[3];
  if (out.length !== 4 || classes === null || out[1] !== h || out[2] !== w) {
    throw modelError(
      `the network output must be [batch, ${h}, ${w}, classes], it is ${JSON.stringify(out)}`,
      { item: model.name },
    );
  }
  return { inputShape: [h, w, c], outputChannels: classes };
}
