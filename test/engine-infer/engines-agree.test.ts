/** @jest-environment ./test/onnx/ort-environment.js */
/** The two inference engines give the same scores on the same batch, and manage their memory. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { network, parseUnetSettings } from '../../plugin/unet';
import { OnnxEngine, TfjsEngine } from '../../src/inference/engine';
import { exportToOnnx } from '../../src/onnx';
import { randomArray, randomizeStatistics } from '../onnx/onnx-helpers';

const H = 32;
const W = 32;
const CLASSES = 4;
let model: tf.LayersModel;
let onnxBytes: Uint8Array;

beforeAll(async () => {
  await tf.setBackend('cpu');
  const settings = parseUnetSettings({ depth: 3, base_filters: 8, max_filters: 32 });
  model = network.build({ inputSize: { height: H, width: W }, numClasses: CLASSES, settings });
  randomizeStatistics(model, 11);
  onnxBytes = exportToOnnx(model).bytes;
});

afterAll(() => model.dispose());

const onnxEngine = (
  extra: { cuda?: 'auto' | 'never'; nativeDir?: string; intraOpNumThreads?: number } = {},
) => OnnxEngine.create({ ort, model: onnxBytes, inputShape: [H, W, 3], outputChannels: CLASSES, ...extra });

describe('onnx and tfjs engines', () => {
  it('agree within 1e-4 on the same batch of softmax scores', async () => {
    const n = 3;
    const x = randomArray(n * H * W * 3, 12, -2, 2);
    const tfjs = await TfjsEngine.create({ model });
    const onnx = await onnxEngine({ cuda: 'never' });
    const [a, b] = [await tfjs.run(x, n), await onnx.run(x, n)];
    expect(a).toHaveLength(n * H * W * CLASSES);
    expect(b).toHaveLength(a.length);
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
    expect(maxDiff).toBeLessThan(1e-4);
    // They are softmax scores: each pixel's classes sum to 1.
    for (let p = 0; p < n * H * W; p += 97) {
      let sum = 0;
      for (let c = 0; c < CLASSES; c++) sum += b[p * CLASSES + c];
      expect(sum).toBeCloseTo(1, 5);
    }
    await tfjs.dispose();
    await onnx.dispose();
  });

  it('the tfjs engine leaks no tensor across calls and refuses a wrong batch', async () => {
    const tfjs = await TfjsEngine.create({ model });
    const x = randomArray(2 * H * W * 3, 13);
    await tfjs.run(x, 2); // first call may build kernels
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await tfjs.run(x, 2);
    expect(tf.memory().numTensors).toBe(before);
    await expect(tfjs.run(x, 3)).rejects.toThrow(/needs 9216 values, got 6144/);
    await tfjs.dispose();
    await expect(tfjs.run(x, 2)).rejects.toThrow(/after dispose/);
    expect(model.layers.length).toBeGreaterThan(0); // the model was borrowed, not disposed
    expect(() => model.getWeights()[0].dataSync()).not.toThrow();
  });

  it('uses one CPU thread per core by default and says so', async () => {
    const onnx = await onnxEngine({ cuda: 'never' });
    expect(onnx.description).toBe(
      `onnxruntime-node 1.30.0, cpu provider, ${os.availableParallelism()} threads`,
    );
    expect(onnx.cudaNote).toBe('CUDA not requested');
    await onnx.dispose();
  });

  it('without the CUDA provider library, runs on the CPU and says which library is missing', async () => {
    const onnx = await onnxEngine({ cuda: 'auto', nativeDir: os.tmpdir() });
    expect(onnx.description).toMatch(/cpu provider/);
    expect(onnx.cudaNote).toMatch(/no CUDA provider \(libonnxruntime_providers_shared\.so not found\)/);
    await onnx.dispose();
  });

  it('when the CUDA provider fails to start, falls back to the CPU with the reason', async () => {
    // Library files that exist but cannot start CUDA (no GPU, no real library): the CPU fallback must run.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-ort-'));
    for (const f of ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so']) {
      fs.writeFileSync(path.join(dir, f), '');
    }
    try {
      const onnx = await onnxEngine({ cuda: 'auto', nativeDir: dir, intraOpNumThreads: 1 });
      expect(onnx.description).toBe('onnxruntime-node 1.30.0, cpu provider, 1 threads');
      expect(onnx.cudaNote).toMatch(/^the CUDA provider failed to start: /);
      const out = await onnx.run(randomArray(H * W * 3, 14), 1);
      expect(out).toHaveLength(H * W * CLASSES);
      await onnx.dispose();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
