/**
 * The bench U-Net (depth 4, 16 base filters doubling to at most 128) as a checkpoint folder with seeded random
 * weights, made without training: config.json, model.json, weights.bin and model.onnx, as a training
 * checkpoint has them. bench:infer's `random` network, and bench:serve's semantic model.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initWeights } from '../src/model-state/init-weights';
import { loadModelFromDir, saveModelToDir } from '../src/network/io';
import { loadNetworkPlugin } from '../src/network/load-plugin';
import { exportCheckpointToOnnx } from '../src/onnx';

export interface SeededUnetOptions {
  /** The checkpoint folder to write. */
  readonly dir: string;
  /** Input size (SIZE x SIZE). */
  readonly size: number;
  /** The project's classes (a generated project's: bg and three shapes). */
  readonly classes: Parameters<typeof initWeights>[0]['projectClasses'];
  readonly seed: number;
}

export async function seededUnetCheckpoint(opts: SeededUnetOptions): Promise<string> {
  await initWeights({
    network: loadNetworkPlugin(require.resolve('../plugin/unet')),
    settings: {
      input_size: { height: opts.size, width: opts.size },
      special_classes: { background: 'bg', neutral: 'neutral' },
      custom_model_config: { depth: 4, base_filters: 16, max_filters: 128 },
    },
    projectClasses: opts.classes,
    outDir: opts.dir,
  });
  await seedWeights(opts.dir, opts.seed);
  // With model.onnx, as a training checkpoint has it, so the network starts as a trained one does.
  await exportCheckpointToOnnx({ checkpointDir: opts.dir, outFile: path.join(opts.dir, 'model.onnx') });
  return opts.dir;
}

/**
 * Replaces the checkpoint's random weights with seeded ones, so the network is the same on every run
 * (initWeights is not seeded, and some unseeded draws let one class win everywhere, which is no worst case):
 * He-normal kernels, zero biases, identity batch norms, and a head 100x smaller, so every class scores about
 * the same and the class map is speckle.
 */
async function seedWeights(dir: string, seed: number): Promise<void> {
  let s = seed >>> 0;
  const uniform = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 4294967296;
  };
  const normal = (): number => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  const model = await loadModelFromDir(dir);
  try {
    for (const w of model.weights) {
      const n = w.shape.reduce<number>((a, b) => a * (b ?? 1), 1);
      const name = w.originalName;
      const values = new Float32Array(n);
      if (name.endsWith('/kernel')) {
        const fanIn = w.shape.slice(0, -1).reduce<number>((a, b) => a * (b ?? 1), 1);
        const std = Math.sqrt(2 / fanIn) * (name.startsWith('head') ? 0.01 : 1);
        for (let i = 0; i < n; i++) values[i] = normal() * std;
      } else if (name.endsWith('/gamma') || name.endsWith('/moving_variance')) {
        values.fill(1);
      }
      w.write(tf.tensor(values, w.shape as number[]));
    }
    await saveModelToDir(model, dir);
  } finally {
    model.dispose();
  }
}
