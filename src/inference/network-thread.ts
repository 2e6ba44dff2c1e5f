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
import { WorkerChannel } from '../threads/channel';
import type { NamedTensors, Tensor } from '../network/tensors';
import type { BatchReuse, BatchTensors } from './batcher';
import type { EngineName } from './engine';
import type { ExpectedNetwork } from './model-shapes';
import type { OnnxReuse } from './onnx-reuse';

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
  /** What the network must take and give, by its plugin's names; see LoadEngineOptions.network. */
  readonly network?: ExpectedNetwork;
}

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

/** What crosses the channel (src/threads). */
export type NetworkProtocol = {
  readonly init: NetworkThreadInit;
  readonly ready: EngineReport;
  readonly requests: {
    readonly run: {
      readonly request: {
        /** Each input's values for the batch, by name. */
        readonly x: BatchTensors;
        readonly n: number;
        /** Where to write each output, when it has its size (transferred there and back). */
        readonly out?: BatchTensors;
      };
      /** Each output by name, and the inputs handed back for reuse. */
      readonly reply: { readonly y: BatchTensors; readonly x: BatchTensors };
    };
    /** Any network: named inputs (transferred) to every named output. */
    readonly 'run-named': {
      readonly request: { readonly inputs: NamedTensors };
      readonly reply: Record<string, Tensor>;
    };
  };
};

export class NetworkThread {
  private constructor(private readonly channel: WorkerChannel<NetworkProtocol>) {}

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
    const channel = await WorkerChannel.start<NetworkProtocol>({
      script: WORKER_SCRIPT,
      name: 'the network thread',
      init,
      initTransfer: (i) =>
        i.onnx !== undefined && 'bytes' in i.onnx ? [i.onnx.bytes.buffer as ArrayBuffer] : [],
    });
    return new NetworkThread(channel);
  }

  /** How the thread's engine was chosen. */
  get engine(): EngineReport {
    return this.channel.ready;
  }

  /** Batches sent and not yet answered. */
  get pending(): number {
    return this.channel.pending;
  }

  /**
   * Runs one batch. The buffers of `x` (and `reuse.out`) are transferred, so unusable by the caller afterwards;
   * the thread sends each input back to `reuse.giveBack`, and writes each output into `out` when it has its size.
   */
  async run(x: BatchTensors, n: number, reuse: BatchReuse = {}): Promise<BatchTensors> {
    const inputBuffers = new Set(Object.values(x).map((t) => t.buffer));
    // An output buffer that is also an input's cannot be transferred twice.
    const out = Object.fromEntries(
      Object.entries(reuse.out ?? {}).filter(([, t]) => !inputBuffers.has(t.buffer)),
    );
    const some = Object.keys(out).length > 0;
    const transfer = [...bufferList(x), ...(some ? bufferList(out) : [])];
    const reply = await this.channel.request('run', { x, n, ...(some ? { out } : {}) }, transfer);
    for (const [name, back] of Object.entries(reply.x)) reuse.giveBack?.(name, back);
    return reply.y;
  }

  /** Runs named inputs (their buffers are transferred: unusable by the caller afterwards) to named outputs. */
  runNamed(inputs: NamedTensors): Promise<Record<string, Tensor>> {
    return this.channel.request('run-named', { inputs }, tensorBuffers(inputs));
  }

  /** Frees the engine and ends the thread. */
  close(): Promise<void> {
    return this.channel.close();
  }
}

/** The buffers of a set of tensors, each once (to transfer them). */
export function tensorBuffers(tensors: NamedTensors): ArrayBuffer[] {
  return bufferList(Object.fromEntries(Object.entries(tensors).map(([name, t]) => [name, t.data])));
}

/** The buffers of a set of arrays, each once (to transfer them). */
export function bufferList(arrays: BatchTensors): ArrayBuffer[] {
  return [...new Set(Object.values(arrays).map((a) => a.buffer as ArrayBuffer))];
}
