/**
 * The worker side of a worker channel (channel.ts): `serveChannel` starts the thread's state from `init`,
 * answers the ready handshake, then answers requests one at a time, in the order they came. A handler's throw
 * fails that request alone (serialized by errors.ts); `close` releases the state and ends the thread.
 */
import { parentPort } from 'node:worker_threads';
import { serializeError } from '../errors';
import type { FromWorker, Protocol, ReplyOf, RequestKind, RequestOf, ToWorker } from './protocol';

/** A reply whose buffers are transferred to the parent rather than copied (unusable here afterwards). */
export class Transferred<T> {
  constructor(
    readonly value: T,
    readonly buffers: readonly ArrayBuffer[],
  ) {}
}

export function transfer<T>(value: T, buffers: readonly ArrayBuffer[]): Transferred<T> {
  return new Transferred(value, buffers);
}

type Answer<T> = T | Transferred<T>;

export interface ChannelServer<P extends Protocol, S> {
  /** Builds the thread's state from `init`; `ready` is what the parent's start() receives. */
  start(init: P['init']): Promise<{ state: S; ready: Answer<P['ready']> }>;
  readonly handlers: {
    readonly [K in RequestKind<P>]: (
      state: S,
      body: RequestOf<P, K>,
    ) => Answer<ReplyOf<P, K>> | Promise<Answer<ReplyOf<P, K>>>;
  };
  /** Releases the state before the thread ends (undefined if it never started). */
  close?(state: S | undefined): void | Promise<void>;
}

export function serveChannel<P extends Protocol, S>(server: ChannelServer<P, S>): void {
  if (parentPort === null) throw new Error('serveChannel must run in a worker thread');
  const port = parentPort;
  let started: { readonly state: S } | undefined;
  let queue: Promise<void> = Promise.resolve();

  const reply = (id: number, answer: unknown): void => {
    const [body, buffers] = answer instanceof Transferred ? [answer.value, answer.buffers] : [answer, []];
    port.postMessage({ kind: 'reply', id, body } satisfies FromWorker, buffers);
  };

  const handle = async (msg: ToWorker): Promise<void> => {
    if (msg.kind === 'close') {
      // A throw here escapes as an uncaught error: the parent sees the thread crash (exit code 1).
      await server.close?.(started?.state);
      // Ends this thread only (process.exit in a worker stops the worker, not the process).
      process.exit(0);
    }
    try {
      if (msg.kind === 'init') {
        const { state, ready } = await server.start(msg.body);
        started = { state };
        return reply(0, ready);
      }
      if (started === undefined) throw new Error(`a "${msg.type}" request came before the thread started`);
      const handler = server.handlers[msg.type] as ((state: S, body: unknown) => unknown) | undefined;
      if (handler === undefined) throw new Error(`no handler for a "${msg.type}" request`);
      reply(msg.id, await handler(started.state, msg.body));
    } catch (e) {
      port.postMessage({ kind: 'failed', id: msg.id, error: serializeError(e) } satisfies FromWorker);
    }
  };

  port.on('message', (msg: ToWorker) => {
    queue = queue.then(() => handle(msg));
  });
}

/**
 * `data` if it is the whole of its buffer, else a copy that is: onnxruntime and tfjs may hand out views on a
 * buffer they share, and transferring that buffer would take it from under them.
 */
export function ownBuffer(data: Float32Array): Float32Array {
  return data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice();
}
