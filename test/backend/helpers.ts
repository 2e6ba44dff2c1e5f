/** Shared by the backend tests: seeded data, running the same computation on two backends, comparisons. */
import * as tf from '@tensorflow/tfjs';
import { mulberry32 } from '../../src/util/random';

/** Seeded test data: the runtime's own mulberry32, so every failure is reproducible. */
export const seededRandom = mulberry32;

/** Uniform values in [-1, 1). */
export function randomArray(size: number, seed: number): Float32Array {
  const rnd = seededRandom(seed);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = rnd() * 2 - 1;
  return out;
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Runs `fn` with `backend` active and returns plain arrays (no tensor survives). */
export async function onBackend<T>(backend: string, fn: () => T): Promise<T> {
  await tf.setBackend(backend);
  await tf.ready();
  return fn();
}

/** ||a - b|| / ||b||, the relative L2 difference. */
export function relativeL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}

/** max |a - b| / max |b|: catches a single wrong element that the L2 norm would average away. */
export function relativeMaxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / Math.max(den, 1e-30);
}

/** The wasm backend's count of live buffers, which also sees intermediates a kernel forgot to free. */
export function wasmDataIds(): number {
  return tf.engine().findBackend('wasm').numDataIds();
}
