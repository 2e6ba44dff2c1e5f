/**
 * The inference network in its own worker thread. Both engines run synchronously on the thread that calls
 * them (tfjs wasm computes on the calling thread; onnxruntime-node's `run` is a synchronous native call made
 * from a setImmediate), so on the main thread the network would stop decoding, label making and writing for
 * the whole batch. In a worker, the main thread keeps preparing the next images while a batch runs.
 *
 * The worker loads the checkpoint's network itself (a second, cheap copy of the weights) and chooses its
 * engine with `chooseEngine`, as the main thread would; inputs and outputs cross as transferred buffers.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { deserializeError, type SerializedError } from '../errors';
import type { BatchReuse } from './batcher';
import type { EngineName } from './engine';
import type { OnnxReuse } from './onnx-reuse';

/** How errors from the thread are named (errors.ts deserializeError). */
const THREAD = 'the network thread';

/** The compiled worker script; absent when running from TypeScript sources (ts-jest), see `available`. */
const WORKER_SCRIPT = path.join(__dirname, 'network-thread-worker.js');

export interface NetworkThreadInit {
  /** The checkpoint folder (the task's model/). */
  readonly modelDir: string;
  /**
   * A tfjs backend to force; absent: the thread chooses as backend/select.ts always does (TFJS_BACKEND, then
   * the best that loads), which gives every thread the same answer. Only used when tfjs is needed.
   */
  readonly backend?: string;
  readonly engine?: EngineName;
  readonly intraOpNumThreads: number;
  /**
   * `reusableOnnx`'s verdict on the checkpoint's model.onnx (with its bytes when usable), checked once by the
   * main thread for every network thread; absent: the thread checks it itself.
   */
  readonly onnx?: OnnxReuse;
}

export type ToNetworkThread =
  | { readonly kind: 'init'; readonly init: NetworkThreadInit }
  | {
      readonly kind: 'run';
      readonly id: number;
      readonly x: Float32Array;
      readonly n: number;
      /** Where to write the scores, when it has their size (transferred there and back). */
      readonly out?: Float32Array;
    }
  | { readonly kind: 'close' };

export interface EngineReport {
  readonly name: EngineName;
  readonly description: string;
  readonly reason: string;
  readonly notChosen: { readonly name: EngineName; readonly reason: string };
  /** With the onnxruntime engine: where its ONNX model came from (the checkpoint's model.onnx, or exported, and why). */
  readonly onnxSource?: string;
  /** The tfjs backend, when tfjs was loaded (the tfjs engine, or exporting the network to ONNX). */
  readonly tfjsBackend?: TfjsBackendReport;
}

export interface TfjsBackendReport {
  readonly name: string;
  /** Why each better backend was not used. */
  readonly notUsed: readonly string[];
}

export type FromNetworkThread =
  | { readonly kind: 'ready'; readonly engine: EngineReport }
  | { readonly kind: 'ran'; readonly id: number; readonly y: Float32Array; readonly x: Float32Array }
  | { readonly kind: 'failed'; readonly id: number; readonly error: SerializedError }
  | { readonly kind: 'closed' };

interface Waiting {
  readonly resolve: (y: Float32Array) => void;
  readonly reject: (e: Error) => void;
  readonly giveBack?: (x: Float32Array) => void;
}

export class NetworkThread {
  private nextId = 1;
  private readonly waiting = new Map<number, Waiting>();
  private dead: Error | undefined;

  private constructor(
    private readonly worker: Worker,
    readonly engine: EngineReport,
  ) {
    worker.on('message', (msg: FromNetworkThread) => this.onMessage(msg));
    worker.on('error', (e) => this.fail(e));
    worker.on('exit', (code) => this.fail(new Error(`${THREAD} exited (code ${code})`)));
  }

  /** Whether the compiled worker script exists (it does in dist/, not under ts-jest). */
  static available(): boolean {
    return existsSync(WORKER_SCRIPT);
  }

  /**
   * Starts the thread and waits until its engine is ready; a failure there (e.g. a forced engine) rejects. `init`
   * may still be in the making: the thread starts meanwhile. The buffer of `init.onnx.bytes` is transferred
   * (copying megabytes through postMessage cost more than a copy of one's own): it must be the caller's own, and
   * unused by it afterwards.
   */
  static async create(init: NetworkThreadInit | Promise<NetworkThreadInit>): Promise<NetworkThread> {
    const worker = new Worker(WORKER_SCRIPT);
    try {
      const ready = await init;
      const engine = await new Promise<EngineReport>((resolve, reject) => {
        const onMessage = (msg: FromNetworkThread): void => {
          cleanup();
          if (msg.kind === 'ready') resolve(msg.engine);
          else if (msg.kind === 'failed') reject(deserializeError(msg.error, THREAD));
          else reject(new Error(`${THREAD} answered "${msg.kind}" before "ready"`));
        };
        const onError = (e: Error): void => {
          cleanup();
          reject(e);
        };
        const onExit = (code: number): void => {
          cleanup();
          reject(new Error(`${THREAD} exited while starting (code ${code})`));
        };
        const cleanup = (): void => {
          worker.off('message', onMessage);
          worker.off('error', onError);
          worker.off('exit', onExit);
        };
        worker.on('message', onMessage);
        worker.on('error', onError);
        worker.on('exit', onExit);
        const transfer =
          ready.onnx !== undefined && 'bytes' in ready.onnx ? [ready.onnx.bytes.buffer as ArrayBuffer] : [];
        worker.postMessage({ kind: 'init', init: ready } satisfies ToNetworkThread, transfer);
      });
      return new NetworkThread(worker, engine);
    } catch (e) {
      await worker.terminate();
      throw e;
    }
  }

  /** Batches sent and not yet answered. */
  get pending(): number {
    return this.waiting.size;
  }

  /**
   * Runs one batch. `x` (and `reuse.out`) are transferred, so unusable by the caller afterwards; the thread sends
   * `x` back to `reuse.giveBack`, and writes the scores into `out` when it has their size.
   */
  run(x: Float32Array, n: number, reuse: BatchReuse = {}): Promise<Float32Array> {
    if (this.dead !== undefined) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, ...(reuse.giveBack ? { giveBack: reuse.giveBack } : {}) });
      const out = reuse.out !== undefined && reuse.out.buffer !== x.buffer ? reuse.out : undefined;
      const transfer = [x.buffer as ArrayBuffer, ...(out ? [out.buffer as ArrayBuffer] : [])];
      this.worker.postMessage(
        { kind: 'run', id, x, n, ...(out ? { out } : {}) } satisfies ToNetworkThread,
        transfer,
      );
    });
  }

  /** Frees the engine and ends the thread. */
  async close(): Promise<void> {
    if (this.dead !== undefined) return;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage({ kind: 'close' } satisfies ToNetworkThread);
    await exited;
  }

  private onMessage(msg: FromNetworkThread): void {
    if (msg.kind === 'ran' || msg.kind === 'failed') {
      const w = this.waiting.get(msg.id);
      if (w === undefined) return;
      this.waiting.delete(msg.id);
      if (msg.kind === 'ran') {
        w.giveBack?.(msg.x);
        w.resolve(msg.y);
      } else w.reject(deserializeError(msg.error, THREAD));
    }
  }

  private fail(e: Error): void {
    this.dead ??= e;
    for (const w of this.waiting.values()) w.reject(e);
    this.waiting.clear();
  }
}
