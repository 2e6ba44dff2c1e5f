/** A small U-Net with the same layer kinds as the real one (conv+BN+ReLU, max-pool, 2x2 transposed conv,
 * concatenation skips, 1x1 head, softmax), small enough for the cpu backend's slow filter gradient. */
import * as tf from '@tensorflow/tfjs';

export interface TinyUnetOptions {
  size: number;
  channels?: number;
  base: number;
  depth: number;
  classes: number;
  batchNorm?: boolean;
  seed?: number;
}

export function buildTinyUnet(o: TinyUnetOptions): tf.LayersModel {
  let seed = o.seed ?? 1;
  const init = () => tf.initializers.glorotUniform({ seed: seed++ });
  const block = (x: tf.SymbolicTensor, filters: number, name: string): tf.SymbolicTensor => {
    let y = x;
    for (const i of [1, 2]) {
      y = tf.layers
        // A bias before BatchNorm has a zero gradient in theory: only rounding noise to compare.
        .conv2d({
          filters,
          kernelSize: 3,
          padding: 'same',
          useBias: o.batchNorm === false,
          kernelInitializer: init(),
          name: `${name}_conv${i}`,
        })
        .apply(y) as tf.SymbolicTensor;
      if (o.batchNorm !== false)
        y = tf.layers.batchNormalization({ name: `${name}_bn${i}` }).apply(y) as tf.SymbolicTensor;
      y = tf.layers.reLU({ name: `${name}_relu${i}` }).apply(y) as tf.SymbolicTensor;
    }
    return y;
  };
  const input = tf.input({ shape: [o.size, o.size, o.channels ?? 3], name: 'input' });
  const skips: tf.SymbolicTensor[] = [];
  let x = input;
  for (let d = 0; d < o.depth; d++) {
    x = block(x, o.base * 2 ** d, `down${d}`);
    skips.push(x);
    x = tf.layers.maxPooling2d({ poolSize: 2, name: `pool${d}` }).apply(x) as tf.SymbolicTensor;
  }
  x = block(x, o.base * 2 ** o.depth, 'bottom');
  for (let d = o.depth - 1; d >= 0; d--) {
    x = tf.layers
      .conv2dTranspose({
        filters: o.base * 2 ** d,
        kernelSize: 2,
        strides: 2,
        kernelInitializer: init(),
        name: `up${d}_tconv`,
      })
      .apply(x) as tf.SymbolicTensor;
    x = tf.layers.concatenate({ name: `up${d}_concat` }).apply([skips[d], x]) as tf.SymbolicTensor;
    x = block(x, o.base * 2 ** d, `up${d}`);
  }
  const logits = tf.layers
    .conv2d({ filters: o.classes, kernelSize: 1, kernelInitializer: init(), name: 'head_conv' })
    .apply(x) as tf.SymbolicTensor;
  const probs = tf.layers
    .activation({ activation: 'softmax', name: 'head_softmax' })
    .apply(logits) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: probs, name: 'tiny_unet' });
}
