/**
 * The parent side of a worker channel: one worker thread, requests answered by id, in order. The worker
 * (serve.ts) starts from `init` and answers the ready handshake; a request's buffers may be transferred instead
 * of copied. Failures are sticky: once the thread crashes or exits, every pending request and every later one
 * fails with that cause, so nothing waits forever on a dead thread. Errors thrown in the thread arrive rebuilt
 * by errors.ts (a TaskError keeps its kind and context; anything else names the thread).
 */
import { Worker } from 'node:worker_threads';
import { deserializeError } from '../errors';
import type { FromWorker, Protocol, ReplyOf, RequestKind, RequestOf, ToWorker } from './protocol';

export interface ChannelOptions<P extends Protocol> {
  /** The compiled worker script (it calls serveChannel). */
  readonly script: string;
  /** The thread's name in errors: "worker 1", "the network thread". */
  readonly name: string;
  /** What the worker starts from. It may still be in the making: the thread starts meanwhile. */
  readonly init: P['init'] | Promise<P['init']>;
  /** Buffers of `init` to transfer rather than copy (megabytes of model bytes cost more to clone). */
  readonly initTransfer?: (init: P['init']) => ArrayBuffer[];
  /** How long close() waits for the thread to exit before terminating it; absent: as long as it takes. */
  readonly closeTimeoutMs?: number;
}

interface Waiting {
  readonly resolve: (body: unknown) => void;
  readonly reject: (e: Error) => void;
}

export class WorkerChannel<P extends Protocol> {
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;
  private failure: Error | undefined;
  private started = false;
  private closing = false;
  private readonly exited: Promise<number>;
  private exit: number | null = null;
  private answer: P['ready'] | undefined;

  private constructor(
    private readonly worker: Worker,
    readonly name: string,
    private readonly closeTimeoutMs: number | undefined,
  ) {
    worker.on('message', (msg: FromWorker) => this.onMessage(msg));
    worker.on('error', (e: Error) => this.fail(new Error(`${name} crashed: ${e.message}`, { cause: e })));
    this.exited = new Promise((resolve) =>
      worker.on('exit', (code) => {
        this.exit = code;
        const when = this.started ? '' : ' while starting';
        this.fail(new Error(`${name} exited${when} (code ${code})`));
        resolve(code);
      }),
    );
  }

  /**
   * Starts the thread, sends it `init` and waits for its ready answer. A failure there (the thread's own error,
   * a crash, an exit, or `init` rejecting) rejects, and the thread is terminated: none is left behind.
   */
  static async start<P extends Protocol>(opts: ChannelOptions<P>): Promise<WorkerChannel<P>> {
    const channel = new WorkerChannel<P>(new Worker(opts.script), opts.name, opts.closeTimeoutMs);
    try {
      const init = await opts.init;
      const msg: ToWorker = { kind: 'init', id: 0, body: init };
      channel.answer = (await channel.send(msg, opts.initTransfer?.(init) ?? [])) as P['ready'];
      channel.started = true;
      return channel;
    } catch (e) {
      await channel.terminate();
      throw e;
    }
  }

  /** What the worker answered when it became ready. */
  get ready(): P['ready'] {
    return this.answer as P['ready'];
  }

  /** Requests sent and not yet answered. */
  get pending(): number {
    return this.waiting.size;
  }

  /** The thread's exit code once it has exited (0: closed cleanly; 1: terminated), null while it runs. */
  get exitCode(): number | null {
    return this.exit;
  }

  /** Sends one request; `transfer` buffers are moved to the thread (unusable here afterwards). */
  request<K extends RequestKind<P>>(
    type: K,
    body: RequestOf<P, K>,
    transfer: readonly ArrayBuffer[] = [],
  ): Promise<ReplyOf<P, K>> {
    const msg: ToWorker = { kind: 'request', id: this.nextId++, type, body };
    return this.send(msg, transfer) as Promise<ReplyOf<P, K>>;
  }

  /**
   * Asks the thread to release what it holds and exit, after the requests before it; resolves when it has
   * exited (terminated after `closeTimeoutMs`, if given). Safe to call twice, and on a thread that died.
   */
  async close(): Promise<void> {
    if (this.exit === null && !this.closing) this.worker.postMessage({ kind: 'close' } satisfies ToWorker);
    this.closing = true;
    if (this.closeTimeoutMs === undefined) {
      await this.exited;
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>(
      (r) => (timer = setTimeout(() => r('timeout'), this.closeTimeoutMs)),
    );
    const first = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (first === 'timeout') await this.terminate();
  }

  /** Stops the thread at once; pending requests fail. */
  async terminate(): Promise<void> {
    this.fail(new Error(`${this.name} was terminated`));
    await this.worker.terminate();
  }

  private send(msg: ToWorker, transfer: readonly ArrayBuffer[]): Promise<unknown> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.closing) return Promise.reject(new Error(`${this.name} was closed`));
    const id = msg.kind === 'close' ? 0 : msg.id;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      try {
        this.worker.postMessage(msg, transfer);
      } catch (e) {
        // e.g. a DataCloneError: nothing was sent, so nothing will answer.
        this.waiting.delete(id);
        throw e;
      }
    });
  }

  private onMessage(msg: FromWorker): void {
    const w = this.waiting.get(msg.id);
    if (w === undefined) return;
    this.waiting.delete(msg.id);
    if (msg.kind === 'failed') w.reject(deserializeError(msg.error, this.name));
    else w.resolve(msg.body);
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const w of this.waiting.values()) w.reject(this.failure);
    this.waiting.clear();
  }
}
