/** The wasm OneHot dtype fix (src/backend/wasm-kernels/one-hot.ts) against the cpu backend. */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { setWasmPatches } from '../../src/backend/wasm-kernels';
import { onBackend } from './helpers';

describe('wasm OneHot honours its dtype', () => {
  const indices = [0, 2, -1, 1, 5];
  const cases: { on: number; off: number; dtype: 'float32' | 'int32' }[] = [
    { on: 1, off: 0, dtype: 'float32' },
    { on: 5, off: 2, dtype: 'float32' },
    { on: 1, off: 0, dtype: 'int32' },
  ];
  const run = (c: (typeof cases)[number]) =>
    tf.tidy(() => {
      const t = tf.oneHot(tf.tensor1d(indices, 'int32'), 3, c.on, c.off, c.dtype);
      return { dtype: t.dtype, values: Array.from(t.dataSync()) };
    });

  it('gives the cpu backend values for float32 and int32, and leaks no tensor', async () => {
    // Registered before the backend starts, as initBackend may do: the shipped setup must still bind the kernel.
    setWasmPatches();
    for (const c of cases) {
      const cpu = await onBackend('cpu', () => run(c));
      const wasm = await onBackend('wasm', () => {
        const before = tf.memory().numTensors;
        const r = run(c);
        expect(tf.memory().numTensors).toBe(before);
        return r;
      });
      expect(wasm).toEqual(cpu);
    }
    const cpu = await onBackend('cpu', () => run(cases[0]));
    expect(cpu.values.slice(0, 6)).toEqual([1, 0, 0, 0, 0, 1]);
  });
});
