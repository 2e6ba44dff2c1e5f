/** Runs the network with tfjs, on whatever backend is active. */
import * as tf from '@tensorflow/tfjs';
import {
  bindTensors,
  type NamedTensors,
  type Signature,
  type Tensor,
  type TensorNames,
} from '../../network/tensors';
import { checkBatch, type SegmentationEngine } from './types';
import { fixedShapes } from './fixed-shape';

export class TfjsEngine implements SegmentationEngine {
  readonly name = 'tfjs' as const;
  readonly description: string;
  private disposed = false;

  private constructor(
    private readonly model: tf.LayersModel,
    readonly inputShape: readonly [number, number, number],
    readonly outputChannels: number,
    readonly signature: Signature,
  ) {
    this.description = `tfjs ${tf.version.tfjs}, ${tf.getBackend()} backend`;
  }

  /**
   * The model stays the caller's: the engine borrows it and never disposes it. `tensorNames`: the plugin's names
   * for its inputs and outputs (the model's layer names by default).
   */
  static async create(opts: { model: tf.LayersModel; tensorNames?: TensorNames }): Promise<TfjsEngine> {
    const { inputShape, outputChannels, signature } = fixedShapes(opts.model, opts.tensorNames);
    return new TfjsEngine(opts.model, inputShape, outputChannels, signature);
  }

  async run(x: Float32Array, n: number): Promise<Float32Array> {
    if (this.disposed) throw new Error('tfjs engine: run after dispose');
    const shape = checkBatch(this, x, n);
    // Only the output survives the tidy; it is disposed once read, so nothing leaks across calls.
    const out = tf.tidy(() => this.model.predict(tf.tensor(x, [...shape], 'float32')) as tf.Tensor);
    try {
      return (await out.data()) as Float32Array;
    } finally {
      out.dispose();
    }
  }

  async runNamed(inputs: NamedTensors): Promise<Record<string, Tensor>> {
    if (this.disposed) throw new Error('tfjs engine: run after dispose');
    const { bound } = bindTensors(this.signature.inputs, inputs);
    const outs = tf.tidy(() => {
      const xs = bound.map((t) => tf.tensor(t.data, [...t.shape], 'float32'));
      const y = this.model.predict(xs.length === 1 ? xs[0] : xs);
      return Array.isArray(y) ? y : [y];
    });
    try {
      const result: Record<string, Tensor> = {};
      for (const [i, t] of outs.entries()) {
        result[this.signature.outputs[i].name] = { data: (await t.data()) as Float32Array, shape: t.shape };
      }
      return result;
    } finally {
      tf.dispose(outs);
    }
  }

  async dispose(): Promise<void> {
    this.disposed = true;
  }
}
