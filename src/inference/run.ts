/**
 * The inference task (spec A.3, F, G.3): load the checkpoint in model/, apply the configured mode to every
 * image of the input project, write the complete results project to results/<input project name>/, and only
 * then print "model applied".
 *
 * The results project is built in a hidden temporary folder inside results/ and renamed at the end, so a crash
 * never leaves a folder that looks complete. Several images are in flight at once (decoding, cropping, writing)
 * while the network runs batches across them (MicroBatcher).
 *
 * With a shard (shards.ts), the run applies the model to its share of the items only and writes them, with the
 * part's manifest, to results/<project>.shard-<i>-of-<n>/; a shard whose part is already there, made from the
 * same project, model and config (a retried or resubmitted shard), has nothing to do.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { configError } from '../errors';
import type { Annotation, ImageSize } from '../format/model';
import {
  projectDisplayPath,
  projectItems,
  readItemAnnotation,
  readSingleProject,
  type ProjectItem,
  type ProjectListing,
} from '../format/project-reader';
import { ResultsProjectWriter } from '../format/project-writer';
import { configureSharpForManyImages, decodeImage, type DecodedImage } from '../image/decode';
import type { ChannelStats } from '../image/normalise';
import type { NetworkSignature } from '../network/types';
import { reportModelApplied } from '../protocol/events';
import { stopRequests } from '../protocol/stop';
import { Progress } from '../protocol/progress';
import type { ModeConfig } from '../task/config-types';
import type { InferenceTaskContext } from '../task/context';
import type { Shard } from '../task/shard';
import { hiddenName, syncPath, writeAtomically } from '../util/atomic';
import { annotateWithNetwork, type AnnotateWithNetworkOptions } from './annotate-with-network';
import { MicroBatcher } from './batcher';
import { checkpointPreprocessing, readInferenceCheckpoint } from './checkpoint';
import { classScoresExpected, sampleLengths } from './model-shapes';
import type { EngineName } from './engine';
import { startNetwork } from './network-runner';
import { buildOutputMeta } from './output-meta';
import { outClassMapping } from './predictions';
import { planShard, writeShardManifest } from './shards';
import type { ClassIndexMask } from './stitch';

export interface RunInferenceOptions {
  /** Force an inference engine (INFERENCE_ENGINE, read by the entry point); default: the best that runs. */
  readonly engine?: EngineName;
  /** Intra-op threads per native engine; default: `defaultIntraOpThreads` (network-runner.ts). */
  readonly threads?: number;
  /** Network threads; 0 runs the network on the main thread. Default: `defaultNetworkThreads` (network-runner.ts). */
  readonly networkThreads?: number;
  /** Images decoded, waiting for the network or being labelled at once; default `imagesInFlight(batch)`. */
  readonly imagesInFlight?: number;
  /** The libuv pool's size as the entry point set it (thread-pool.ts), for the log. */
  readonly libuvThreads?: number;
  /**
   * The normalisation to assume when config.json records none (checkpoints from before it did): the network's
   * own, which the entry point reads from the plugin registry. Without it such a checkpoint is a model error.
   */
  readonly assumedPreprocessing?: ChannelStats;
  /** Apply the model to this shard's items only, and write them as a part (shards.ts); default: every item. */
  readonly shard?: Shard;
  /** What the checkpoint's network declares it takes and gives (its plugin's); default: the RGB image, scores. */
  readonly signature?: NetworkSignature;
}

/** What the run did, for tests and benchmarks. */
export interface InferenceSummary {
  readonly resultsDir: string;
  readonly items: number;
  /** Null when the network did not run: the shard's part was already done. */
  readonly engine: EngineName | null;
  /** Time during which at least one batch was in the network. */
  readonly networkMs: number;
  readonly wallMs: number;
  /** From the start until the network was ready (reading the project, loading the network). */
  readonly startupMs: number;
  readonly networkThreads: number;
}

export async function runInference(
  ctx: InferenceTaskContext,
  options: RunInferenceOptions = {},
): Promise<InferenceSummary> {
  const { paths, logger, modeConfig, modelConfig } = ctx;
  const started = performance.now();

  configureSharpForManyImages();
  const project = await readSingleProject(paths.data);
  const allItems = [...projectItems(project)];
  logger.info(`Project structure has been read. Samples: ${allItems.length}.`, { project: project.name });
  const { shard } = options;
  const part =
    shard === undefined
      ? undefined
      : await planShard({ project: project.name, allItems, shard, modelDir: paths.model, mode: modeConfig });
  const items = part?.items ?? allItems;
  const folderName = part?.folderName ?? project.name;
  const finalDir = path.join(paths.results, folderName);
  if (shard !== undefined) {
    logger.info(`Sharded inference: shard ${shard.index} of ${shard.count}, ${items.length} items.`, {
      shard: shard.index,
      shards: shard.count,
      from: shard.source,
      items: items.length,
      items_total: allItems.length,
      part: `results/${folderName}`,
    });
  }
  if (part !== undefined && (await part.isDone(finalDir))) {
    logger.info(`results/${folderName} is already done, from this project, model and config: nothing to do.`);
    reportModelApplied(logger);
    const wallMs = performance.now() - started;
    return {
      resultsDir: finalDir,
      items: 0,
      engine: null,
      networkMs: 0,
      wallMs,
      startupMs: wallMs,
      networkThreads: 0,
    };
  }
  await ensureAbsent(
    finalDir,
    folderName,
    part === undefined
      ? 'the agent gives inference an empty results folder, so this task folder was used before'
      : 'it holds this shard made from another model, mode config or project (see its shard.json): remove it to run the shard again',
  );

  const building = Progress.start({ logger, subtask: 'Building model:', total: 1 });
  const checkpoint = await readInferenceCheckpoint({ dir: paths.model, displayName: 'model' });
  const preprocessing = checkpointPreprocessing(checkpoint, options.assumedPreprocessing);
  if (preprocessing.assumed) {
    logger.warn("model/config.json records no input normalisation; assuming the network's own", {
      preprocessing: { mean: [...preprocessing.stats.mean], std: [...preprocessing.stats.std] },
    });
  }
  const outputMeta = buildOutputMeta({
    inputMeta: project.meta,
    model: { classes: checkpoint.classes, tagMetas: [] },
    mode: modeConfig,
  });
  const expected = classScoresExpected(checkpoint.channels, options.signature);
  const network = await startNetwork({
    checkpoint,
    modelDir: paths.model,
    network: expected,
    ...(options.engine !== undefined ? { engine: options.engine } : {}),
    ...(options.threads !== undefined ? { intraOpNumThreads: options.threads } : {}),
    ...(options.networkThreads !== undefined ? { threads: options.networkThreads } : {}),
  });
  // tfjs is loaded only where it is needed (the tfjs engine, or exporting the network to ONNX in memory).
  const tfjs = network.engine.tfjsBackend;
  if (tfjs !== undefined)
    logger.info('TensorFlow.js backend', { backend: tfjs.name, not_used: tfjs.notUsed });
  logger.info('Inference engine', {
    engine: network.engine.name,
    why: network.engine.reason,
    other_engine: network.engine.notChosen.name,
    other_engine_not_used: network.engine.notChosen.reason,
    detail: network.engine.description,
    ...(network.engine.onnxSource !== undefined ? { onnx_model: network.engine.onnxSource } : {}),
    network_threads: network.threads,
    ...(options.libuvThreads !== undefined ? { decode_threads: options.libuvThreads } : {}),
  });
  building.iterDone();
  const startupMs = performance.now() - started;

  let networkMs = 0;
  // A stop (SIGTERM) is seen between images: the workers throw, the temporary folder goes, nothing is renamed.
  const stopListening = stopRequests.listen(() => undefined);
  try {
    networkMs = await writeAtomically(
      finalDir,
      async (tempDir) => {
        const writer = await ResultsProjectWriter.create({
          dir: tempDir,
          projectName: project.name,
          meta: outputMeta.meta,
          // More shards than items leaves a part empty; it is merged, never uploaded as it is.
          allowEmpty: shard !== undefined,
        });
        const batcher = new MicroBatcher({
          run: (x, n, reuse) => network.run(x, n, reuse),
          batchSize: modelConfig.batch_size,
          concurrency: Math.max(1, network.threads),
          ...sampleLengths(expected, checkpoint.inputSize),
        });
        const classMapping = outClassMapping({
          classes: checkpoint.classes,
          classToIndex: checkpoint.classToIndex,
        });
        const spareMasks: ClassIndexMask[] = [];
        const applying = Progress.start({ logger, subtask: 'Model applying: ', total: items.length });
        await applyToProject({
          items,
          writer,
          concurrency: options.imagesInFlight ?? imagesInFlight(modelConfig.batch_size, modeConfig.name),
          apply: (item) =>
            applyToItem({
              item,
              project,
              checkpoint,
              preprocessing: preprocessing.stats,
              outputMeta,
              batcher,
              mode: modeConfig,
              classMapping,
              cropsPerCall: 2 * modelConfig.batch_size,
              spareMasks,
            }),
          onItemDone: () => applying.iterDone(),
        });
        await writer.finish();
        if (part !== undefined) await writeShardManifest(tempDir, part.manifest);
        return batcher.stats.networkMs;
      },
      { temp: path.join(paths.results, hiddenName(folderName, `.partial-${process.pid}`)) },
    );
    await syncPath(paths.results);
  } finally {
    stopListening();
    await network.close();
  }

  reportModelApplied(logger);
  return {
    resultsDir: finalDir,
    items: items.length,
    engine: network.engine.name,
    networkMs,
    wallMs: performance.now() - started,
    startupMs,
    networkThreads: network.threads,
  };
}

/**
 * How many images are worked on at once (read, decoded, waiting for the network, labelled, written).
 * full_image holds only network-sized pixels per image, so it keeps four batches in flight: one in each of the
 * (up to two) network threads, and the rest queued, decoded or labelled (bench:infer on 2 cores, batch 8, two
 * network threads: the network was busy 92-94 % of the run with 33 or 49 images in flight, 87-92 % with 17, and
 * 33 gave the most images per second). The modes that crop hold each
 * image at full size (possibly tens of MB), so they keep one batch and one more image.
 */
export function imagesInFlight(batchSize: number, mode: ModeConfig['name']): number {
  return mode === 'full_image' ? 4 * batchSize + 1 : Math.max(2, batchSize + 1);
}

async function ensureAbsent(dir: string, folderName: string, why: string): Promise<void> {
  try {
    await fs.access(dir);
  } catch {
    return;
  }
  throw configError(`results/${folderName} already exists; ${why}`, { file: `results/${folderName}` });
}

interface ApplyToProjectOptions {
  readonly items: readonly ProjectItem[];
  readonly writer: ResultsProjectWriter;
  readonly concurrency: number;
  readonly apply: (item: ProjectItem) => Promise<{ annotation: Annotation }>;
  readonly onItemDone: () => void;
}

/** Runs `apply` over every item with bounded concurrency; writes are serialised (the writer is not reentrant). */
async function applyToProject(opts: ApplyToProjectOptions): Promise<void> {
  const items = opts.items[Symbol.iterator]();
  let writes: Promise<void> = Promise.resolve();
  let failed = false;
  const worker = async (): Promise<void> => {
    for (;;) {
      if (failed) return;
      stopRequests.throwIfRequested('inference stopped between images; no results project was written');
      const next = items.next();
      if (next.done === true) return;
      const item = next.value;
      try {
        const { annotation } = await opts.apply(item);
        writes = writes.then(() =>
          opts.writer.addItem({
            dataset: item.dataset,
            name: item.name,
            imagePath: item.imagePath,
            annotation,
          }),
        );
        await writes;
        opts.onItemDone();
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: opts.concurrency }, () => worker()));
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected !== undefined) throw rejected.reason;
}

interface ApplyToItemOptions extends Omit<AnnotateWithNetworkOptions, 'source'> {
  readonly item: ProjectItem;
  readonly project: ProjectListing;
}

async function applyToItem(opts: ApplyToItemOptions): Promise<{ annotation: Annotation }> {
  const { item, project } = opts;
  const display = projectDisplayPath(project, item.imagePath);
  const annotation = await readItemAnnotation(project, item);
  const decode = (resize?: ImageSize): Promise<DecodedImage> =>
    decodeImage(item.imagePath, {
      expectedSize: annotation.size,
      displayName: display,
      ...(resize !== undefined ? { resize } : {}),
    });
  return {
    annotation: await annotateWithNetwork({
      ...opts,
      source: { annotation: () => annotation, display, decode },
    }),
  };
}
