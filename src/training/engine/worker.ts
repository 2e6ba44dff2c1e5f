/**
 * A data-parallel worker thread: one replica of the network on its own tfjs backend (one core). It builds
 * the replica from a plugin module path (the runtime never imports a concrete network), takes the main
 * thread's weights, and answers train/eval requests for shards, in order.
 */
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../backend/select';
import { serializeError } from '../../errors';
import { loadNetworkPlugin } from '../../network/load-plugin';
import type { FromWorker, ToWorker } from './messages';
import { copyData, Replica } from './replica';

if (parentPort === null) throw new Error('worker.ts must run in a worker thread');
const port = parentPort;
let replica: Replica | undefined;
let queue: Promise<void> = Promise.resolve();

function send(msg: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(msg, transfer);
}

function live(): Replica {
  if (replica === undefined) throw new Error('the worker got a request before init');
  return replica;
}

async function handle(msg: ToWorker): Promise<void> {
  switch (msg.kind) {
    case 'init': {
      const backend = await initBackend({ force: msg.backend, env: {} });
      const network = loadNetworkPlugin(msg.spec.pluginModule);
      const model = network.build(msg.spec.buildOptions);
      replica = new Replica(model, msg.loss);
      replica.writeWeights(msg.weights);
      send({ kind: 'ready', id: 0, backend: backend.name });
      return;
    }
    case 'train': {
      const r = live();
      if (msg.weights !== undefined) r.writeWeights(msg.weights);
      const out = r.trainShard(msg.shard);
      const grads = out.grads?.map(copyData) ?? null;
      out.grads?.forEach((g) => g.dispose());
      const stats = r.readNonTrainable();
      const buffers = [...(grads ?? []), ...stats].map((a) => a.buffer as ArrayBuffer);
      send(
        {
          kind: 'trained',
          id: msg.id,
          grads,
          loss: out.loss,
          correct: out.correct,
          count: out.count,
          weight: out.weight,
          stats,
        },
        buffers,
      );
      return;
    }
    case 'eval': {
      const r = live();
      if (msg.weights !== undefined) r.writeWeights(msg.weights);
      const out = r.evalShard(msg.shard);
      send({ kind: 'evaluated', id: msg.id, ...out }, [out.confusion.buffer as ArrayBuffer]);
      return;
    }
    case 'read-weights': {
      const r = live();
      if (msg.weights !== undefined) r.writeWeights(msg.weights);
      const weights = r.readWeights();
      send(
        { kind: 'weights', id: msg.id, weights },
        weights.map((w) => w.buffer as ArrayBuffer),
      );
      return;
    }
    case 'close':
      replica?.model.dispose();
      tf.disposeVariables();
      // Ends this thread only (process.exit in a worker stops the worker, not the process).
      process.exit(0);
  }
}

port.on('message', (msg: ToWorker) => {
  queue = queue.then(() =>
    handle(msg).catch((e: unknown) => {
      send({ kind: 'failed', id: 'id' in msg ? msg.id : 0, error: serializeError(e) });
    }),
  );
});
