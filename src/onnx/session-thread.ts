/**
 * An onnxruntime session in its own worker thread. onnxruntime-node's `run` is a synchronous native call: on
 * the main thread it stops the event loop for the whole run, so nothing else (reading and decoding the next
 * batch) progresses. In a worker the main thread keeps working; inputs and outputs cross as transferred
 * buffers. Without the compiled worker script (TypeScript sources under ts-jest) `create` says so and callers
 * run the session in-process instead.
 */
import { compiledScript } from '../threads/script';
import { WorkerChannel } from '../threads/channel';
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

/** What crosses the channel (src/threads). */
export type SessionProtocol = {
  readonly init: SessionThreadOptions;
  readonly ready: undefined;
  readonly requests: {
    readonly run: {
      readonly request: Record<string, PlainTensor>;
      readonly reply: Record<string, Float32Array>;
    };
    readonly 'end-profiling': { readonly request: undefined; readonly reply: undefined };
  };
};

/** The compiled worker script (found under dist/ when this module runs from TypeScript sources), or null. */
export function sessionWorkerScript(): string | null {
  return compiledScript('src/onnx/session-thread-worker');
}

export class SessionThread {
  private constructor(private readonly channel: WorkerChannel<SessionProtocol>) {}

  /** Starts the thread and its session; rejects if the session cannot be created there. */
  static async create(options: SessionThreadOptions, script: string): Promise<SessionThread> {
    // The model bytes are copied, not transferred: the caller may keep its own.
    const channel = await WorkerChannel.start<SessionProtocol>({
      script,
      name: 'the onnxruntime thread',
      init: options,
    });
    return new SessionThread(channel);
  }

  /** Runs the session; every feed's buffer is transferred (unusable by the caller afterwards). */
  run(feeds: Record<string, PlainTensor>): Promise<Record<string, Float32Array>> {
    const transfer = Object.values(feeds).map((t) => t.data.buffer as ArrayBuffer);
    return this.channel.request('run', feeds, transfer);
  }

  /** Ends onnxruntime's profiling (sessions created with `settings.profilePrefix`), writing its file. */
  endProfiling(): Promise<void> {
    return this.channel.request('end-profiling', undefined);
  }

  /** Releases the session and ends the thread. Safe to call twice. */
  close(): Promise<void> {
    return this.channel.close();
  }
}
