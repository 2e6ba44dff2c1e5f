import * as os from 'node:os';
import * as path from 'node:path';
import { promises as fsp } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { network } from '../../plugin/unet';
import { loadModelFromDir, saveModelToDir } from '../../src/network/io';

// The wasm backend cannot train conv nets as shipped (helper C registers the missing kernels), but building,
// predicting and saving must work there: inference runs on it.
describe('U-Net on the wasm backend (spec G.3: inference)', () => {
  test('builds, predicts like the cpu backend, and its saved folder loads on cpu with the same weights', async () => {
    await tf.setBackend('wasm');
    expect(tf.getBackend()).toBe('wasm');
    const settings = network.parseSettings({ depth: 2, base_filters: 4, max_filters: 8 });
    const model = network.build({ inputSize: { height: 32, width: 32 }, numClasses: 3, settings });
    const xData = Float32Array.from({ length: 2 * 32 * 32 * 3 }, (_, i) => Math.sin(i * 0.37));
    const before = tf.memory().numTensors;
    const wasmOut = tf.tidy(() =>
      (model.predict(tf.tensor4d(xData, [2, 32, 32, 3])) as tf.Tensor).dataSync(),
    );
    expect(tf.memory().numTensors).toBe(before);
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'unet-wasm-'));
    try {
      await saveModelToDir(model, dir);
      await tf.setBackend('cpu');
      const onCpu = await loadModelFromDir(dir);
      const cpuOut = tf.tidy(() =>
        (onCpu.predict(tf.tensor4d(xData, [2, 32, 32, 3])) as tf.Tensor).dataSync(),
      );
      expect(cpuOut.length).toBe(2 * 32 * 32 * 3);
      let maxDiff = 0;
      cpuOut.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - wasmOut[i]))));
      // Two backends, different summation order (XNNPACK vs plain JS loops): softmax scores agree closely.
      expect(maxDiff).toBeLessThan(1e-4);
      onCpu.dispose();
    } finally {
      model.dispose();
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});
