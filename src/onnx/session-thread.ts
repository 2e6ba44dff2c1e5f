/**
 * An onnxruntime session in its own worker thread. onnxruntime-node's `run` is a synchronous native call: on
 * the main thread it stops the event loop for the whole run, so nothing else (reading and decoding the next
 * batch) progresses. In a worker the main thread keeps working; inputs and outputs cross as transferred
 * buffers. Without the compiled worker script (TypeScript sources under ts-jest) `create` says so and callers
 * run the session in-process instead.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { deserializeError, type SerializedError } from '../errors';
import type { SessionSettings } from './runtime';

/** A tensor as plain data: what crosses the thread boundary. */
export interface PlainTensor {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

export interface SessionThreadOptions {
  readonly model: Uint8Array;
  readonly settings: SessionSettings;
}

export type ToSessionThread =
  | { readonly kind: 'init'; readonly options: SessionThreadOptions }
  | { readonly kind: 'run'; readonly id: number; readonly feeds: Record<string, PlainTensor> }
  | { readonly kind: 'end-profiling'; readonly id: number }
  | { readonly kind: 'close' };

export type FromSessionThread =
  | { readonly kind: 'ready'; readonly id: 0 }
  | { readonly kind: 'ran'; readonly id: number; readonly outputs: Record<string, Float32Array> }
  | { readonly kind: 'done'; readonly id: number }
  | { readonly kind: 'failed'; readonly id: number; readonly error: SerializedError };

const THREAD = 'the onnxruntime thread';

/** The compiled worker next to this module, or under dist/ when this module runs from TypeScript sources. */
export function sessionWorkerScript(): string | null {
  const here = path.join(__dirname, 'session-thread-worker.js');
  if (existsSync(here)) return here;
  const built = path.resolve(__dirname, '../../dist/src/onnx/session-thread-worker.js');
  return existsSync(built) ? built : null;
}

interface Waiting {
  readonly resolve: (m: FromSessionThread) => void;
  readonly reject: (e: Error) => void;
}

export class SessionThread {
  private nextId = 1;
  private readonly waiting = new Map<number, Waiting>();
  private dead: Error | undefined;
  private readonly exited: Promise<void>;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (msg: FromSessionThread) => this.onMessage(msg));
    worker.on('error', (e: Error) => this.fail(new Error(`${THREAD} crashed: ${e.message}`, { cause: e })));
    this.exited = new Promise((resolve) =>
      worker.on('exit', (code) => {
        this.fail(new Error(`${THREAD} exited (code ${code})`));
        resolve();
      }),
    );
  }

  /** Starts the thread and its session; rejects if the session cannot be created there. */
  static async create(options: SessionThreadOptions, script: string): Promise<SessionThread> {
    const thread = new SessionThread(new Worker(script));
    try {
      // The model bytes are copied, not transferred: the caller may keep its own.
      await thread.request({ kind: 'init', options }, 0);
      return thread;
    } catch (e) {
      await thread.worker.terminate();
      throw e;
    }
  }

  /** Runs the session; every feed's buffer is transferred (unusable by the caller afterwards). */
  async run(feeds: Record<string, PlainTensor>): Promise<Record<string, Float32Array>> {
    const id = this.nextId++;
    const transfer = Object.values(feeds).map((t) => t.data.buffer as ArrayBuffer);
    const reply = await this.request({ kind: 'run', id, feeds }, id, transfer);
    if (reply.kind !== 'ran') throw new Error(`${THREAD} answered "${reply.kind}" to a run`);
    return reply.outputs;
  }

  async endProfiling(): Promise<void> {
    const id = this.nextId++;
    await this.request({ kind: 'end-profiling', id }, id);
  }

  /** Releases the session and ends the thread. Safe to call twice. */
  async close(): Promise<void> {
    if (this.dead === undefined) this.worker.postMessage({ kind: 'close' } satisfies ToSessionThread);
    await this.exited;
  }

  private request(
    msg: ToSessionThread,
    id: number,
    transfer: ArrayBuffer[] = [],
  ): Promise<FromSessionThread> {
    if (this.dead !== undefined) return Promise.reject(this.dead);
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage(msg, transfer);
    });
  }

  private onMessage(msg: FromSessionThread): void {
    const w = this.waiting.get(msg.id);
    if (w === undefined) return;
    this.waiting.delete(msg.id);
    if (msg.kind === 'failed') w.reject(deserializeError(msg.error, THREAD));
    else w.resolve(msg);
  }

  private fail(e: Error): void {
    this.dead ??= e;
    for (const w of this.waiting.values()) w.reject(e);
    this.waiting.clear();
  }
}
