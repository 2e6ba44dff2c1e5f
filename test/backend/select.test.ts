/** Backend selection: order, fallback with reasons, forcing through TFJS_BACKEND, idempotence. */
import * as tf from '@tensorflow/tfjs';
import { initBackend, parseBackendName } from '../../src/backend/select';
import { ALL_WASM_PATCHES } from '../../src/backend/wasm-kernels';
import { TaskError } from '../../src/errors';

function nativeInstalled(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

// The native packages need libtensorflow, which cannot be downloaded on our machines; the tests adapt if a
// machine does have them.
const haveGpuPkg = nativeInstalled('@tensorflow/tfjs-node-gpu');
const haveNodePkg = nativeInstalled('@tensorflow/tfjs-node');

describe('backend selection (tfjs-node-gpu > tfjs-node > wasm > cpu)', () => {
  it('parses names and aliases and rejects unknown ones with a config error naming TFJS_BACKEND', () => {
    expect(parseBackendName('WASM')).toBe('wasm');
    expect(parseBackendName('tfjs-node')).toBe('node');
    expect(parseBackendName('tensorflow')).toBe('node');
    expect(parseBackendName('gpu')).toBe('node-gpu');
    let caught: unknown;
    try {
      parseBackendName('webgl');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(TaskError);
    expect((caught as TaskError).kind).toBe('config');
    expect((caught as TaskError).message).toMatch(/TFJS_BACKEND.*unknown tfjs backend "webgl".*wasm/);
  });

  it('picks the best available backend and says why each better one was not used', async () => {
    const sel = await initBackend({ env: {} });
    expect(sel.forced).toBe(false);
    expect(tf.getBackend()).toBe(sel.tfjsName);
    if (!haveGpuPkg && !haveNodePkg) {
      expect(sel.name).toBe('wasm');
      expect(sel.reasons).toEqual(['node-gpu: not installed', 'node: not installed']);
      expect(sel.wasmPatches).toEqual(ALL_WASM_PATCHES);
      expect(tf.getKernel(tf.Conv2DBackpropFilter, 'wasm')).toBeDefined();
    }
  });

  it('is idempotent: a second call returns the same choice and registers nothing twice', async () => {
    const first = await initBackend({ env: {} });
    const kernel = tf.getKernel(tf.Conv2DBackpropInput, 'wasm');
    const second = await initBackend({ env: {} });
    expect(second).toEqual(first);
    expect(tf.getKernel(tf.Conv2DBackpropInput, 'wasm')).toBe(kernel);
  });

  it('falls back past skipped candidates down to cpu', async () => {
    const sel = await initBackend({ env: {}, skip: ['node-gpu', 'node', 'wasm'] });
    expect(sel.name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(sel.wasmPatches).toBeUndefined();
    await initBackend({ env: {} }); // back to the best one for the next tests
  });

  it('is forced by TFJS_BACKEND, and `force` wins over the environment', async () => {
    const byEnv = await initBackend({ env: { TFJS_BACKEND: 'cpu' } });
    expect(byEnv).toMatchObject({ name: 'cpu', forced: true, reasons: [] });
    expect(tf.getBackend()).toBe('cpu');
    const byOption = await initBackend({ env: { TFJS_BACKEND: 'cpu' }, force: 'wasm' });
    expect(byOption).toMatchObject({ name: 'wasm', forced: true });
    expect(tf.getBackend()).toBe('wasm');
  });

  it('treats an empty TFJS_BACKEND as unset', async () => {
    const sel = await initBackend({ env: { TFJS_BACKEND: '  ' } });
    expect(sel.forced).toBe(false);
  });

  it('fails clearly when the forced backend is unknown', async () => {
    await expect(initBackend({ env: { TFJS_BACKEND: 'webgpu' } })).rejects.toThrow(
      /unknown tfjs backend "webgpu"/,
    );
  });

  (haveNodePkg ? it.skip : it)('fails clearly when the forced backend is not installed', async () => {
    const err = await initBackend({ env: { TFJS_BACKEND: 'tfjs-node' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskError);
    expect((err as TaskError).message).toMatch(
      /forced tfjs backend "tfjs-node" is not available \(node: not installed\)/,
    );
  });
});
