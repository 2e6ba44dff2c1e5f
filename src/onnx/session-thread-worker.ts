/** The worker side of session-thread.ts: one onnxruntime session, runs taken one at a time, in order. */
import { parentPort } from 'node:worker_threads';
import type * as Ort from 'onnxruntime-node';
import { serializeError } from '../errors';
import { loadOnnxRuntime, type OrtModule, sessionOptions } from './runtime';
import type { FromSessionThread, SessionThreadOptions, ToSessionThread } from './session-thread';

if (parentPort === null) throw new Error('session-thread-worker must run in a worker thread');
const port = parentPort;

let ort: OrtModule | undefined;
let session: Ort.InferenceSession | undefined;
let queue: Promise<void> = Promise.resolve();

function send(msg: FromSessionThread, transfer: ArrayBuffer[] = []): void {
  port.postMessage(msg, transfer);
}

async function start(options: SessionThreadOptions): Promise<void> {
  ort = await loadOnnxRuntime();
  session = await ort.InferenceSession.create(options.model, sessionOptions(options.settings));
}

async function run(msg: Extract<ToSessionThread, { kind: 'run' }>): Promise<void> {
  if (ort === undefined || session === undefined) throw new Error('a run came before the session');
  const feeds: Record<string, Ort.Tensor> = {};
  for (const [name, t] of Object.entries(msg.feeds)) feeds[name] = new ort.Tensor('float32', t.data, t.dims);
  const out = await session.run(feeds);
  const outputs: Record<string, Float32Array> = {};
  const transfer: ArrayBuffer[] = [];
  for (const [name, t] of Object.entries(out)) {
    const data = t.data as Float32Array;
    // onnxruntime may hand out views on a buffer it shares; a copy can always be transferred.
    const own = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice();
    outputs[name] = own;
    transfer.push(own.buffer as ArrayBuffer);
  }
  send({ kind: 'ran', id: msg.id, outputs }, transfer);
}

async function handle(msg: ToSessionThread): Promise<void> {
  const id = msg.kind === 'init' || msg.kind === 'close' ? 0 : msg.id;
  try {
    switch (msg.kind) {
      case 'init':
        await start(msg.options);
        return send({ kind: 'ready', id: 0 });
      case 'run':
        return await run(msg);
      case 'end-profiling':
        session?.endProfiling();
        return send({ kind: 'done', id });
      case 'close':
        await session?.release();
        // Ends this thread only (process.exit in a worker stops the worker, not the process).
        process.exit(0);
    }
  } catch (e) {
    send({ kind: 'failed', id, error: serializeError(e) });
  }
}

port.on('message', (msg: ToSessionThread) => {
  queue = queue.then(() => handle(msg));
});
