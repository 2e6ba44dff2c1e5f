/**
 * Where the inference network runs: in a worker thread when the compiled worker exists (the main thread then
 * stays free for decoding, labels and writing while a batch runs), otherwise on the main thread. Either way the
 * caller gets one `run(x, n)` and the engine choice to log.
 */
import os from 'node:os';
import type { BackendSelection } from '../backend/select';
import type { InferenceCheckpoint } from './checkpoint';
import type { EngineName } from './engine';
import { loadEngine } from './engine-loader';
import { NetworkThread, type EngineReport } from './network-thread';

export interface NetworkRunner {
  readonly engine: EngineReport;
  /** Whether the network runs in its own thread. */
  readonly threaded: boolean;
  /** NHWC float32 inputs (ownership passes to the runner) to NHWC scores. */
  run(x: Float32Array, n: number): Promise<Float32Array>;
  close(): Promise<void>;
}

export interface StartNetworkOptions {
  /** config.json, read and checked on the main thread (the network itself is loaded where it runs). */
  readonly checkpoint: InferenceCheckpoint;
  readonly modelDir: string;
  readonly backend: BackendSelection;
  readonly engine?: EngineName;
  /** onnxruntime's intra-op threads; default `defaultIntraOpThreads`. */
  readonly intraOpNumThreads?: number;
  /** `auto` (default): a thread when the compiled worker script exists. */
  readonly thread?: 'auto' | 'never';
}

/**
 * onnxruntime's intra-op threads. With the network in its own thread, one core is left to the main thread
 * (labels, bitmaps, JSON) and sharp: on 2 cores, 1 network thread gave more images per second end to end
 * than 2 (bench:infer), and even network-only under load, since 2 threads then wait for each other.
 */
export function defaultIntraOpThreads(threaded: boolean, cores = os.availableParallelism()): number {
  return threaded ? Math.max(1, cores - 1) : cores;
}

export async function startNetwork(opts: StartNetworkOptions): Promise<NetworkRunner> {
  if ((opts.thread ?? 'auto') === 'auto' && NetworkThread.available()) {
    // The thread loads and checks the network itself; the main thread never holds a copy of the weights.
    const thread = await NetworkThread.create({
      modelDir: opts.modelDir,
      backend: opts.backend.name,
      ...(opts.engine !== undefined ? { engine: opts.engine } : {}),
      intraOpNumThreads: opts.intraOpNumThreads ?? defaultIntraOpThreads(true),
    });
    return {
      engine: thread.engine,
      threaded: true,
      run: (x, n) => thread.run(x, n),
      close: () => thread.close(),
    };
  }
  const loaded = await loadEngine({
    checkpoint: opts.checkpoint,
    modelDir: opts.modelDir,
    ...(opts.engine !== undefined ? { engine: opts.engine } : {}),
    intraOpNumThreads: opts.intraOpNumThreads ?? defaultIntraOpThreads(false),
  });
  return {
    engine: loaded.report,
    threaded: false,
    run: (x, n) => loaded.engine.run(x, n),
    close: () => loaded.close(),
  };
}
