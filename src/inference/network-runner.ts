/**
 * Where the inference network runs: in worker threads when the compiled worker exists (the main thread then
 * stays free for decoding, labels and writing while batches run), otherwise on the main thread. Either way the
 * caller gets one `run(x, n)` and the engine choice to log.
 */
import os from 'node:os';
import type { NamedTensors, Tensor } from '../network/tensors';
import type { RunBatch } from './batcher';
import type { InferenceCheckpoint } from './checkpoint';
import type { EngineName } from './engine';
import { runFlat } from './engine/types';
import { initTfjsBackend, loadEngine } from './engine-loader';
import { NetworkThread, type EngineReport, type NetworkThreadInit } from './network-thread';
import { classScoresExpected, type ExpectedNetwork } from './model-shapes';
import { reusableOnnx } from './onnx-reuse';

export interface NetworkRunner {
  readonly engine: EngineReport;
  /** Network threads; 0 when the network runs on the main thread. */
  readonly threads: number;
  /**
   * A batch of NHWC float32 inputs by name (ownership passes to the runner, which gives them back through
   * `reuse.giveBack`) to its NHWC outputs by name (written into `reuse.out` where that saves a buffer); up to
   * max(1, threads) at once.
   */
  run: RunBatch;
  /**
   * Any network: its inputs by name (each [n, ...]; their buffers pass to the runner) to every output by name.
   * Errors name a wrong or missing input and its expected and actual shapes.
   */
  runNamed(inputs: NamedTensors): Promise<Record<string, Tensor>>;
  close(): Promise<void>;
}

export interface StartNetworkOptions {
  /** config.json, read and checked on the main thread (the network itself is loaded where it runs). */
  readonly checkpoint: InferenceCheckpoint;
  readonly modelDir: string;
  /** A tfjs backend to force (default: as backend/select.ts chooses), used only where tfjs is needed. */
  readonly backend?: string;
  readonly engine?: EngineName;
  /** onnxruntime's intra-op threads per network thread; default `defaultIntraOpThreads`. */
  readonly intraOpNumThreads?: number;
  /**
   * Network threads (each with its own engine); 0 runs the network on the main thread. Default
   * `defaultNetworkThreads()`; always 0 when the compiled worker script is missing (ts-jest).
   */
  readonly threads?: number;
  /** What the network must take and give, by its plugin's names; see LoadEngineOptions.network. */
  readonly network?: ExpectedNetwork;
}

/**
 * One network thread per core, up to two. onnxruntime-node's `run` and tfjs wasm both occupy the thread that
 * calls them, and one engine with one intra-op thread is the cheapest per image (bench:infer on 2 cores:
 * 21.7 ms of CPU per image on 1 intra-op thread, 26-30 ms on 2, which spend the rest synchronising). Two
 * single-threaded engines keep both cores on the network whenever decoding and labels leave them free, and
 * cost nothing when they do not. More threads would each hold another copy of the network.
 */
export function defaultNetworkThreads(cores = os.availableParallelism()): number {
  return Math.min(2, cores);
}

/**
 * onnxruntime's intra-op threads per engine: the cores left after one for the main thread (decoding, labels,
 * bitmaps, JSON), shared among the network threads, at least one; every core when the network runs on the
 * main thread.
 */
export function defaultIntraOpThreads(networkThreads: number, cores = os.availableParallelism()): number {
  return networkThreads === 0 ? cores : Math.max(1, Math.floor((cores - 1) / networkThreads));
}

export async function startNetwork(opts: StartNetworkOptions): Promise<NetworkRunner> {
  const threads = NetworkThread.available() ? (opts.threads ?? defaultNetworkThreads()) : 0;
  if (threads > 0) {
    // Each thread loads the network itself. Whether the checkpoint's model.onnx can be used (a hash of every
    // weight) is checked once here, while the threads start; each thread is then given its own copy of the
    // bytes (transferred, see NetworkThread.create).
    const expected = opts.network ?? classScoresExpected(opts.checkpoint.channels);
    const onnx = opts.engine === 'tfjs' ? undefined : reusableOnnx(opts.modelDir, opts.checkpoint, expected);
    const base = {
      modelDir: opts.modelDir,
      ...(opts.backend !== undefined ? { backend: opts.backend } : {}),
      ...(opts.engine !== undefined ? { engine: opts.engine } : {}),
      intraOpNumThreads: opts.intraOpNumThreads ?? defaultIntraOpThreads(threads),
      ...(opts.network !== undefined ? { network: opts.network } : {}),
    };
    const init = onnx === undefined ? Promise.resolve(base) : onnx.then((r) => ({ ...base, onnx: r }));
    const ownCopy = (i: NetworkThreadInit): NetworkThreadInit =>
      i.onnx !== undefined && 'bytes' in i.onnx ? { ...i, onnx: { bytes: new Uint8Array(i.onnx.bytes) } } : i;
    const started = await Promise.allSettled(
      Array.from({ length: threads }, () => NetworkThread.create(init.then(ownCopy))),
    );
    const pool = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) {
      await Promise.all(pool.map((t) => t.close()));
      throw failed.reason;
    }
    // The thread with the fewest batches waiting gets the next one.
    const idlest = (): NetworkThread => pool.reduce((a, b) => (b.pending < a.pending ? b : a));
    return {
      engine: pool[0].engine,
      threads,
      run: (x, n, reuse) => idlest().run(x, n, reuse),
      runNamed: (inputs) => idlest().runNamed(inputs),
      close: async () => {
        await Promise.all(pool.map((t) => t.close()));
      },
    };
  }
  const loaded = await loadEngine({
    checkpoint: opts.checkpoint,
    modelDir: opts.modelDir,
    ...(opts.engine !== undefined ? { engine: opts.engine } : {}),
    intraOpNumThreads: opts.intraOpNumThreads ?? defaultIntraOpThreads(0),
    initTfjs: () => initTfjsBackend(opts.backend),
    ...(opts.network !== undefined ? { network: opts.network } : {}),
  });
  return {
    engine: loaded.report,
    threads: 0,
    // On this thread the engine's own output is as cheap as a copy into `out`; `x` is free again at once.
    run: async (x, n, reuse) => {
      const y = await runFlat(loaded.engine, x, n);
      for (const [name, back] of Object.entries(x)) reuse?.giveBack?.(name, back);
      return y;
    },
    runNamed: (inputs) => loaded.engine.runNamed(inputs),
    close: () => loaded.close(),
  };
}
