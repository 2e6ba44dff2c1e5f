/**
 * A semantic-segmentation checkpoint kept loaded to annotate images one request at a time (the model server):
 * the same network runner, mode planning and labels as the inference task, with every request's crops gathered
 * into network batches by one MicroBatcher. Concurrent `annotate` calls are what fills the batches: while a
 * batch runs, the requests that arrive meanwhile queue and go together into the next one (the wait for a
 * batch is bounded by the batch in flight, never by a timer).
 */
import type { NetworkSignature } from '../network/types';
import type { Annotation, ProjectMeta } from '../format/model';
import { createProjectMeta } from '../format/meta';
import { decodeImageBytes } from '../image/decode';
import type { ChannelStats } from '../image/normalise';
import type { ModeConfig } from '../task/config-types';
import { annotateWithNetwork } from './annotate-with-network';
import { MicroBatcher } from './batcher';
import { classScoresExpected, sampleLengths } from './model-shapes';
import { checkpointPreprocessing, readInferenceCheckpoint, type InferenceCheckpoint } from './checkpoint';
import type { EngineName } from './engine';
import { startNetwork, type NetworkRunner } from './network-runner';
import { buildOutputMeta, type OutputMeta } from './output-meta';
import { outClassMapping } from './predictions';
import type { ClassIndexMask } from './stitch';

export interface ImageAnnotatorOptions {
  readonly modelDir: string;
  /** How the folder is named in messages. */
  readonly displayName?: string;
  readonly engine?: EngineName;
  /** Network threads (0: the main thread); default as the inference task. */
  readonly networkThreads?: number;
  readonly threads?: number;
  /** Largest network batch; default 8. */
  readonly batchSize?: number;
  readonly assumedPreprocessing?: ChannelStats;
  /** See MicroBatcherOptions.partialOnFreeThread. */
  readonly partialOnFreeThread?: boolean;
  /** What the checkpoint's network declares it takes and gives; see RunInferenceOptions.signature. */
  readonly signature?: NetworkSignature;
}

const EMPTY_META = createProjectMeta({ classes: [], tagMetas: [] });

export class ImageAnnotator {
  private readonly spareMasks: ClassIndexMask[] = [];
  private readonly outputMetas = new Map<string, OutputMeta>();

  private constructor(
    readonly checkpoint: InferenceCheckpoint,
    private readonly preprocessing: ChannelStats,
    private readonly network: NetworkRunner,
    private readonly batcher: MicroBatcher,
    readonly batchSize: number,
    private readonly batchListeners: Set<(samples: number) => void>,
  ) {}

  static async load(opts: ImageAnnotatorOptions): Promise<ImageAnnotator> {
    const displayName = opts.displayName ?? opts.modelDir;
    const checkpoint = await readInferenceCheckpoint({ dir: opts.modelDir, displayName });
    const preprocessing = checkpointPreprocessing(checkpoint, opts.assumedPreprocessing).stats;
    const expected = classScoresExpected(checkpoint.channels, opts.signature);
    const network = await startNetwork({
      checkpoint,
      modelDir: opts.modelDir,
      network: expected,
      ...(opts.engine !== undefined ? { engine: opts.engine } : {}),
      ...(opts.threads !== undefined ? { intraOpNumThreads: opts.threads } : {}),
      ...(opts.networkThreads !== undefined ? { threads: opts.networkThreads } : {}),
    });
    const batchSize = opts.batchSize ?? 8;
    const listeners = new Set<(samples: number) => void>();
    const batcher = new MicroBatcher({
      run: (x, n, reuse) => network.run(x, n, reuse),
      batchSize,
      concurrency: Math.max(1, network.threads),
      ...sampleLengths(expected, checkpoint.inputSize),
      onBatch: (n) => listeners.forEach((listener) => listener(n)),
      partialOnFreeThread: opts.partialOnFreeThread === true,
    });
    return new ImageAnnotator(checkpoint, preprocessing, network, batcher, batchSize, listeners);
  }

  get engine(): NetworkRunner['engine'] {
    return this.network.engine;
  }

  /**
   * Tells `listener` the sample count of every network batch from now on (the server's batch-size histogram;
   * the server is made after the model is loaded, so it subscribes). Returns the unsubscribe.
   */
  onBatch(listener: (samples: number) => void): () => void {
    this.batchListeners.add(listener);
    return () => this.batchListeners.delete(listener);
  }

  /** Batches and samples the network ran, and its busy time. */
  get stats(): MicroBatcher['stats'] {
    return this.batcher.stats;
  }

  /** The classes (and tags) annotations of `mode` may hold: the model's, with the mode's own rectangles. */
  outputMeta(mode: ModeConfig): ProjectMeta {
    return this.outputFor(mode).meta;
  }

  /** The annotation of an encoded image (JPEG, PNG, WebP, BMP); a bad image is a data error naming `name`. */
  async annotate(bytes: Uint8Array, opts: { name: string; mode: ModeConfig }): Promise<Annotation> {
    const outputMeta = this.outputFor(opts.mode);
    return annotateWithNetwork({
      source: {
        display: opts.name,
        annotation: (decoded) => ({
          size: decoded.sourceSize,
          description: '',
          tags: [],
          labels: [],
          customBigData: {},
          extra: {},
        }),
        decode: (resize) =>
          decodeImageBytes(bytes, { displayName: opts.name, ...(resize !== undefined ? { resize } : {}) }),
      },
      checkpoint: this.checkpoint,
      preprocessing: this.preprocessing,
      outputMeta,
      batcher: this.batcher,
      mode: opts.mode,
      classMapping: outClassMapping({
        classes: this.checkpoint.classes,
        classToIndex: this.checkpoint.classToIndex,
      }),
      cropsPerCall: 2 * this.batchSize,
      spareMasks: this.spareMasks,
    });
  }

  async close(): Promise<void> {
    await this.network.close();
  }

  private outputFor(mode: ModeConfig): OutputMeta {
    const key = JSON.stringify(mode);
    let meta = this.outputMetas.get(key);
    if (meta === undefined) {
      meta = buildOutputMeta({
        inputMeta: EMPTY_META,
        model: { classes: this.checkpoint.classes, tagMetas: [] },
        mode,
      });
      // Only a few modes are ever asked for; the cache stays small.
      if (this.outputMetas.size < 16) this.outputMetas.set(key, meta);
    }
    return meta;
  }
}
