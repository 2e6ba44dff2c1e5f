/**
 * The worker side of network-thread.ts: loads the checkpoint's network, chooses the engine, and runs batches
 * in order, one at a time.
 */
import { parentPort } from 'node:worker_threads';
import { readInferenceCheckpoint } from './checkpoint';
import { initTfjsBackend, loadEngine, type LoadedEngine } from './engine-loader';
import type { FromNetworkThread, NetworkThreadInit, ToNetworkThread } from './network-thread';
import { serializeError } from '../errors';

if (parentPort === null) throw new Error('network-thread-worker must run in a worker thread');
const port = parentPort;

let loaded: LoadedEngine | undefined;
let queue: Promise<void> = Promise.resolve();

function send(msg: FromNetworkThread, transfer: ArrayBuffer[] = []): void {
  port.postMessage(msg, transfer);
}

async function start(init: NetworkThreadInit): Promise<void> {
  const checkpoint = await readInferenceCheckpoint({ dir: init.modelDir, displayName: 'model' });
  loaded = await loadEngine({
    checkpoint,
    modelDir: init.modelDir,
    ...(init.engine !== undefined ? { engine: init.engine } : {}),
    intraOpNumThreads: init.intraOpNumThreads,
    ...(init.onnx !== undefined ? { onnx: init.onnx } : {}),
    // tfjs is loaded only when needed (not when the checkpoint's model.onnx runs).
    initTfjs: () => initTfjsBackend(init.backend),
  });
  send({ kind: 'ready', engine: loaded.report });
}

async function handle(msg: ToNetworkThread): Promise<void> {
  switch (msg.kind) {
    case 'init':
      try {
        await start(msg.init);
      } catch (e) {
        send({ kind: 'failed', id: 0, error: serializeError(e) });
      }
      return;
    case 'run':
      try {
        if (loaded === undefined) throw new Error('the network thread got a batch before init');
        const scores = await loaded.engine.run(msg.x, msg.n);
        let y: Float32Array;
        if (msg.out !== undefined && msg.out.length === scores.length) {
          // The caller's buffer goes back, and the engine's dies young here, in this thread's small heap.
          msg.out.set(scores);
          y = msg.out;
        } else {
          // onnxruntime may hand out a view on a buffer it shares; a copy can always be transferred.
          const whole = scores.byteOffset === 0 && scores.byteLength === scores.buffer.byteLength;
          y = whole ? scores : scores.slice();
        }
        send({ kind: 'ran', id: msg.id, y, x: msg.x }, [
          y.buffer as ArrayBuffer,
          msg.x.buffer as ArrayBuffer,
        ]);
      } catch (e) {
        send({ kind: 'failed', id: msg.id, error: serializeError(e) });
      }
      return;
    case 'close':
      await loaded?.close();
      // Ends this thread only (process.exit in a worker stops the worker, not the process).
      process.exit(0);
  }
}

port.on('message', (msg: ToNetworkThread) => {
  queue = queue.then(() => handle(msg));
});
