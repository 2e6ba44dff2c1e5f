/**
 * A data-parallel worker thread: one replica of the network on its own tfjs backend (one core). It builds
 * the replica from a plugin module path (the runtime never imports a concrete network), takes the main
 * thread's weights, and answers train/eval requests for shards, in order.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../backend/select';
import { loadNetworkPlugin } from '../../network/load-plugin';
import { networkTensorNames } from '../../network/types';
import { serveChannel, transfer } from '../../threads/serve';
import type { EngineProtocol } from './messages';
import { copyData, Replica } from './replica';

/** The replica, with the weights sent along a request if any. */
function withWeights(r: Replica, weights: Float32Array[] | undefined): Replica {
  if (weights !== undefined) r.writeWeights(weights);
  return r;
}

serveChannel<EngineProtocol, Replica>({
  async start({ spec, loss, backend, weights }) {
    const chosen = await initBackend({ force: backend, env: {} });
    const network = loadNetworkPlugin(spec.pluginModule);
    const replica = new Replica(network.build(spec.buildOptions), loss, networkTensorNames(network));
    replica.writeWeights(weights);
    return { state: replica, ready: { backend: chosen.name } };
  },
  handlers: {
    train(replica, { shard, weights }) {
      const r = withWeights(replica, weights);
      const out = r.trainShard(shard);
      const grads = out.grads?.map(copyData) ?? null;
      out.grads?.forEach((g) => g.dispose());
      const stats = r.readNonTrainable();
      const buffers = [...(grads ?? []), ...stats].map((a) => a.buffer as ArrayBuffer);
      return transfer(
        { grads, loss: out.loss, correct: out.correct, count: out.count, weight: out.weight, stats },
        buffers,
      );
    },
    eval(replica, { shard, weights }) {
      const out = withWeights(replica, weights).evalShard(shard);
      return transfer(out, [out.confusion.buffer as ArrayBuffer]);
    },
    'read-weights'(replica, { weights }) {
      const read = withWeights(replica, weights).readWeights();
      return transfer(
        read,
        read.map((w) => w.buffer as ArrayBuffer),
      );
    },
  },
  close(replica) {
    replica?.model.dispose();
    tf.disposeVariables();
  },
});
