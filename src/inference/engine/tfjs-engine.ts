/** Runs the network with tfjs, on whatever backend is active. */
import * as tf from '@tensorflow/tfjs';
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
  ) {
    this.description = `tfjs ${tf.version.tfjs}, ${tf.getBackend()} backend`;
  }

  /** The model stays the caller's: the engine borrows it and never disposes it. */
  static async create(opts: { model: tf.LayersModel }): Promise<TfjsEngine> {
    const { inputShape, outputChannels } = fixedShapes(opts.model);
    return new TfjsEngine(opts.model, inputShape, outputChannels);
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

  async dispose(): Promise<void> {
    this.disposed = true;
  }
}
