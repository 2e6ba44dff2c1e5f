/**
 * The worker side of network-thread.ts: loads the checkpoint's network, chooses the engine, and runs batches
 * in order, one at a time.
 */
import { readInferenceCheckpoint } from './checkpoint';
import { initTfjsBackend, loadEngine, type LoadedEngine } from './engine-loader';
import { runFlat } from './engine/types';
import { bufferList, tensorBuffers, type NetworkProtocol } from './network-thread';
import { ownBuffer, serveChannel, transfer } from '../threads/serve';

serveChannel<NetworkProtocol, LoadedEngine>({
  async start(init) {
    const checkpoint = await readInferenceCheckpoint({ dir: init.modelDir, displayName: 'model' });
    const loaded = await loadEngine({
      checkpoint,
      modelDir: init.modelDir,
      ...(init.engine !== undefined ? { engine: init.engine } : {}),
      intraOpNumThreads: init.intraOpNumThreads,
      ...(init.onnx !== undefined ? { onnx: init.onnx } : {}),
      ...(init.network !== undefined ? { network: init.network } : {}),
      // tfjs is loaded only when needed (not when the checkpoint's model.onnx runs).
      initTfjs: () => initTfjsBackend(init.backend),
    });
    return { state: loaded, ready: loaded.report };
  },
  handlers: {
    async run(loaded, { x, n, out }) {
      const outputs = await runFlat(loaded.engine, x, n);
      const y: Record<string, Float32Array> = {};
      for (const [name, values] of Object.entries(outputs)) {
        const into = out !== undefined && Object.hasOwn(out, name) ? out[name] : undefined;
        if (into !== undefined && into.length === values.length) {
          // The caller's buffer goes back, and the engine's dies young here, in this thread's small heap.
          into.set(values);
          y[name] = into;
        } else y[name] = ownBuffer(values);
      }
      return transfer({ y, x }, [...bufferList(y), ...bufferList(x)]);
    },
    async 'run-named'(loaded, { inputs }) {
      const out = await loaded.engine.runNamed(inputs);
      // The engine's outputs may share a buffer with its own memory: each goes back as a buffer of its own.
      const own: typeof out = {};
      for (const [name, t] of Object.entries(out)) own[name] = { data: ownBuffer(t.data), shape: t.shape };
      return transfer(own, tensorBuffers(own));
    },
  },
  async close(loaded) {
    await loaded?.close();
  },
});
