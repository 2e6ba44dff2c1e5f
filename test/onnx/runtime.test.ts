/**
 * onnxruntime-node in one place (src/onnx/runtime.ts): the loader every engine uses, its error when the
 * package does not load, and the options of every session, training and inference.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  loadOnnxRuntime,
  missingCudaLibrary,
  OnnxRuntimeLoadError,
  sessionOptions,
  tryLoadOnnxRuntime,
} from '../../src/onnx/runtime';

describe('session options', () => {
  it('are one CPU session with the given threads and every optimisation by default', () => {
    expect(sessionOptions({ intraOpNumThreads: 2 })).toEqual({
      intraOpNumThreads: 2,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      executionProviders: ['cpu'],
    });
  });

  it('profile, let threads sleep, optimise less and prefer CUDA only when asked', () => {
    expect(
      sessionOptions({ intraOpNumThreads: 1, profilePrefix: '/tmp/p', allowSpinning: false }),
    ).toMatchObject({
      enableProfiling: true,
      profileFilePrefix: '/tmp/p',
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    });
    expect(sessionOptions({ intraOpNumThreads: 1, allowSpinning: true })).not.toHaveProperty('extra');
    expect(sessionOptions({ intraOpNumThreads: 1 })).not.toHaveProperty('enableProfiling');
    expect(sessionOptions({ intraOpNumThreads: 4, optimization: 'basic' })).toMatchObject({
      intraOpNumThreads: 4,
      graphOptimizationLevel: 'basic',
    });
    expect(sessionOptions({ intraOpNumThreads: 1, providers: ['cuda', 'cpu'] }).executionProviders).toEqual([
      'cuda',
      'cpu',
    ]);
  });
});

describe('loading onnxruntime-node', () => {
  it('loads the package', async () => {
    const ort = await loadOnnxRuntime();
    expect(typeof ort.InferenceSession.create).toBe('function');
    expect(ort.env.versions.common).toMatch(/^\d+\.\d+/);
    const tried = await tryLoadOnnxRuntime();
    expect(tried.ok).toBe(true);
  });

  it('a package that does not load is an error naming it, the first line of the cause and the fix', async () => {
    try {
      await jest.isolateModulesAsync(async () => {
        jest.doMock('onnxruntime-node', () => {
          throw new Error(
            "Cannot find module './onnxruntime_binding.node'\nRequire stack:\n- /somewhere/binding.js",
          );
        });
        const fresh = await import('../../src/onnx/runtime');
        const err = await fresh.loadOnnxRuntime().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(fresh.OnnxRuntimeLoadError);
        const message = (err as Error).message;
        expect(message).toMatch(
          /^onnxruntime-node did not load: Cannot find module '.\/onnxruntime_binding.node' \(on \w+\/\w+, Node [\d.]+;.*npm ci\)$/,
        );
        expect(message).not.toContain('Require stack');
        // The reason the engines log is that message, once.
        expect(await fresh.tryLoadOnnxRuntime()).toEqual({ ok: false, reason: message });
      });
    } finally {
      jest.dontMock('onnxruntime-node');
    }
  });

  it("another loader's failure (tests inject one) becomes a reason naming the package", async () => {
    const tried = await tryLoadOnnxRuntime(() => Promise.reject(new Error('no binding')));
    expect(tried).toEqual({ ok: false, reason: 'onnxruntime-node did not load: no binding' });
    const own = await tryLoadOnnxRuntime(() => Promise.reject(new OnnxRuntimeLoadError('gone')));
    expect(own).toEqual({ ok: false, reason: 'onnxruntime-node did not load: gone' });
  });
});

describe('the CUDA provider', () => {
  it('is missing from a folder without its libraries, and present with both', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ort-native-'));
    try {
      expect(missingCudaLibrary(dir)).toMatch(/onnxruntime_providers_shared/);
      const first = missingCudaLibrary(dir)!;
      await fsp.writeFile(path.join(dir, first), '');
      expect(missingCudaLibrary(dir)).toMatch(/onnxruntime_providers_cuda/);
      await fsp.writeFile(path.join(dir, missingCudaLibrary(dir)!), '');
      expect(missingCudaLibrary(dir)).toBeNull();
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});
