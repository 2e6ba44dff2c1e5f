/**
 * Building blocks for kernels written as compositions of the wasm backend's own kernels. A kernel function
 * receives and returns TensorInfo (not Tensor): the engine does the bookkeeping only for the outer kernel, so
 * every intermediate made here must be released with `backend.disposeData`, which `KernelScope` does.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

export type Shape4 = [number, number, number, number];

/** Runs registered wasm kernels and frees every intermediate it produced, except the one handed back. */
export class KernelScope {
  private readonly temps: tf.TensorInfo[] = [];

  constructor(readonly backend: BackendWasm) {}

  /** Calls the kernel registered for wasm under `name`; its output is freed by `dispose` unless kept. */
  run(name: string, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap = {}): tf.TensorInfo {
    const kernel = tf.getKernel(name, 'wasm');
    if (kernel === undefined) throw new Error(`Kernel '${name}' is not registered for backend 'wasm'`);
    const out = kernel.kernelFunc({ inputs, attrs, backend: this.backend });
    if (Array.isArray(out)) throw new Error(`Kernel '${name}' returned several outputs; one was expected`);
    return this.track(out);
  }

  reshape(x: tf.TensorInfo, shape: number[]): tf.TensorInfo {
    return this.run(tf.Reshape, { x }, { shape });
  }

  transpose(x: tf.TensorInfo, perm: number[]): tf.TensorInfo {
    return this.run(tf.Transpose, { x }, { perm });
  }

  /** A new float32 tensor filled by `fill`, which receives the output's heap view. */
  makeFloat32(shape: number[], fill: (out: Float32Array) => void): tf.TensorInfo {
    const out = this.track(this.backend.makeOutput(shape, 'float32'));
    // Take the heap view after the allocation: growing wasm memory detaches older views.
    fill(this.backend.typedArrayFromHeap(out) as Float32Array);
    return out;
  }

  readFloat32(x: tf.TensorInfo): Float32Array {
    return this.backend.readSync(x.dataId) as Float32Array;
  }

  track(x: tf.TensorInfo): tf.TensorInfo {
    this.temps.push(x);
    return x;
  }

  /** Frees every tracked tensor except `result`, and returns `result`. */
  finish(result: tf.TensorInfo): tf.TensorInfo {
    for (const t of this.temps) if (t !== result) this.backend.disposeData(t.dataId);
    this.temps.length = 0;
    return result;
  }

  /** Frees everything tracked (on the error path). */
  dispose(): void {
    for (const t of this.temps) this.backend.disposeData(t.dataId);
    this.temps.length = 0;
  }
}

/** Runs `body` in a scope; the returned tensor survives, every other intermediate is freed, even on error. */
export function composeKernel(
  backend: BackendWasm,
  body: (scope: KernelScope) => tf.TensorInfo,
): tf.TensorInfo {
  const scope = new KernelScope(backend);
  try {
    return scope.finish(body(scope));
  } catch (e) {
    scope.dispose();
    throw e;
  }
}

/** [top, bottom, left, right] as an explicit NHWC padding attribute. */
export function explicitPadding(
  top: number,
  bottom: number,
  left: number,
  right: number,
): tf.backend_util.ExplicitPadding {
  return [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ];
}
