/** The worker side of session-thread.ts: one onnxruntime session, runs taken one at a time, in order. */
import type * as Ort from 'onnxruntime-node';
import { ownBuffer, serveChannel, transfer } from '../threads/serve';
import { loadOnnxRuntime, type OrtModule, sessionOptions } from './runtime';
import type { SessionProtocol } from './session-thread';

interface Session {
  readonly ort: OrtModule;
  readonly session: Ort.InferenceSession;
}

serveChannel<SessionProtocol, Session>({
  async start(options) {
    const ort = await loadOnnxRuntime();
    const session = await ort.InferenceSession.create(options.model, sessionOptions(options.settings));
    return { state: { ort, session }, ready: undefined };
  },
  handlers: {
    async run({ ort, session }, feeds) {
      const tensors: Record<string, Ort.Tensor> = {};
      for (const [name, t] of Object.entries(feeds))
        tensors[name] = new ort.Tensor('float32', t.data, t.dims);
      const out = await session.run(tensors);
      const outputs: Record<string, Float32Array> = {};
      const buffers: ArrayBuffer[] = [];
      for (const [name, t] of Object.entries(out)) {
        const own = ownBuffer(t.data as Float32Array);
        outputs[name] = own;
        buffers.push(own.buffer as ArrayBuffer);
      }
      return transfer(outputs, buffers);
    },
    'end-profiling'({ session }) {
      session.endProfiling();
      return undefined;
    },
  },
  async close(s) {
    await s?.session.release();
  },
});
