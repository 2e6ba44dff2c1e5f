/**
 * The training run (spec E, G.2), a thin composition of the rooms below it, in the SDK's order:
 * 1. the tfjs backend (which one, and why better ones did not load);
 * 2. the project (`data/`), 3. the class map (`model/config.json` for continue_training),
 * 4. the folds and the plan (every annotation read; data errors fail here, before the model exists);
 * 5. the model ("Building model:"; from scratch, transfer_learning or continue_training);
 * 6. the loop (trainer.ts) with the built-in hooks: progress, train metrics, validation, checkpoints.
 * Nothing here reads the environment or global paths: the task folder and config come in `ctx`.
 */

import { promises as fsp } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import type { BackendSelection, InitBackendOptions } from '../backend/select';
import { initBackend } from '../backend/select';
import { errorMessage, modelError, TaskError } from '../errors';
import type { ProjectListing } from '../format/project-reader';
import { countItems, projectDisplayPath, readSingleProject } from '../format/project-reader';
import type { ModelConfigJson } from '../format/types';
import { CheckpointWriter } from '../model-state/checkpoint-writer';
import { modelConfigJson } from '../model-state/config';
import { loadNetworkPlugin } from '../network/load-plugin';
import type { InitializedModel } from '../network/transfer';
import { buildAndInitModel } from '../network/transfer';
import { networkRecord } from '../network/record';
import type { AnyNetwork } from '../network/types';
import type { Logger } from '../protocol/logger';
import { Progress } from '../protocol/progress';
import type { TrainConfig } from '../task/config-types';
import type { TrainTaskContext } from '../task/context';
import { displayPath, type TaskPaths } from '../task/paths';
import type { SegmentationClasses } from '../model-state/class-map';
import { createSegmentationClasses } from '../model-state/class-map';
import { EpochBatchReader, FoldBatches } from './data/fold-batches';
import type { Sample, SampleRecipe } from './data/sample';
import { collateSamples, flipProbabilities, loadSample } from './data/sample';
import type { TrainEngine } from './engine/types';
import { defaultEngineFactory, type EngineFactory, type TrainEngineSetting } from './engine-factory';
import type { FoldPurpose } from './folds';
import { writeCheckpointFiles } from './hooks/checkpoint-files';
import type { ValidationTally } from './hooks/validation';
import { validationMetricValues } from './hooks/validation';
import { standardHooks } from './hooks';
import { ConfusionMatrix, WeightedMean, type MetricValues } from './metrics';
import type { FoldPlan, TrainingPlan } from './plan';
import { planTraining, projectClassesJson, scanProject } from './plan';
import { EvalPlanner } from './planner';
import type { TrainHook, TrainOutcome } from './trainer';
import { Trainer } from './trainer';

const CONFIG_FILE = 'task_config.json';

export interface RunTrainingOptions {
  /**
   * The network plugin module, chosen by the entry point (a path: data-parallel worker threads load it too).
   * The runtime never names a concrete network itself.
   */
  networkModule: string;
  /** Backend choice (tests force one); default: the best that loads, or TFJS_BACKEND. */
  backend?: InitBackendOptions;
  /** How the step engine is made; default: `defaultEngineFactory`. */
  createEngine?: EngineFactory;
  /** Overrides the config's `train_engine` (the entry point passes TRAIN_ENGINE). */
  trainEngine?: TrainEngineSetting;
  /** Hooks run after the built-in ones (tests, tools). */
  extraHooks?: readonly TrainHook[];
}

export interface TrainingSummary {
  outcome: TrainOutcome;
  checkpoints: number;
  plan: TrainingPlan;
}

export async function runTraining(
  ctx: TrainTaskContext,
  options: RunTrainingOptions,
): Promise<TrainingSummary> {
  const { paths, config, logger } = ctx;
  const backend = await initBackend(options.backend);
  logBackend(logger, backend);
  const { networkModule } = options;
  const network = loadNetworkPlugin(networkModule);

  const project = await readSingleProject(paths.data);
  logger.info(`Project structure has been read. Samples: ${countItems(project)}.`, {
    project: project.name,
    datasets: project.datasets.map((d) => d.name),
  });

  const classes = await determineClasses({ paths, config, project, logger });
  const plan = planTraining({ items: await scanProject(project), config, classes });
  logPlan(logger, plan, config);

  const built = await buildModel({ network, paths, config, classes, logger });
  let engine: TrainEngine | undefined;
  const trainReader = new EpochBatchReader(
    foldBatches({ fold: plan.train, project, plan, classes, ctx, network }),
  );
  try {
    const chosen = await (options.createEngine ?? defaultEngineFactory)({
      model: built.model,
      optimizer: built.optimizer,
      learningRate: config.lr,
      numClasses: classes.numClasses,
      ignoreIndex: plan.ignoreIndex,
      engine: options.trainEngine ?? config.train_engine,
      computeWorkers: config.compute_workers,
      backend: backend.name,
      batchSize: plan.train.batchSize,
      replica: {
        pluginModule: networkModule,
        buildOptions: {
          inputSize: config.input_size,
          numClasses: classes.numClasses,
          settings: built.settings,
        },
      },
    });
    engine = chosen.engine;
    logger.info('Training engine ready.', { engine: engine.description, reason: chosen.reason });
    const summary = await trainLoop({
      ctx,
      engine,
      plan,
      classes,
      network,
      trainReader,
      valFold: foldBatches({ fold: plan.val, project, plan, classes, ctx, network }),
      extraHooks: options.extraHooks ?? [],
    });
    logger.info('Training finished.', { outcome: summary.outcome.kind, checkpoints: summary.checkpoints });
    return { ...summary, plan };
  } finally {
    await trainReader.close();
    await engine?.dispose();
    if (engine === undefined) built.optimizer.dispose();
    built.model.dispose();
  }
}

function logBackend(logger: Logger, backend: BackendSelection): void {
  logger.info('tfjs backend selected.', {
    backend: backend.name,
    forced: backend.forced,
    // Why each better backend was not used: the usual answer to "why is training slow".
    not_used: backend.reasons,
    ...(backend.wasmPatches === undefined ? {} : { wasm_patches: backend.wasmPatches }),
  });
  if (backend.name === 'cpu') {
    logger.warn('Training on the plain JavaScript cpu backend: a convolutional network trains very slowly.', {
      not_used: backend.reasons,
    });
  }
}

/** The model's config.json as JSON, or undefined when the model folder has none (read only for continue_training). */
async function readModelConfigJson(paths: TaskPaths): Promise<unknown> {
  const file = displayPath(paths, paths.modelConfig);
  let text: string;
  try {
    text = await fsp.readFile(paths.modelConfig, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw modelError(`cannot read the file: ${errorMessage(e)}`, { file }, e);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw modelError(`invalid JSON: ${errorMessage(e)}`, { file }, e);
  }
}

/** Spec E.3, E.4: out classes and the class map, logged as the SDK logs them. */
async function determineClasses(opts: {
  paths: TaskPaths;
  config: TrainConfig;
  project: ProjectListing;
  logger: Logger;
}): Promise<SegmentationClasses> {
  const { paths, config, logger } = opts;
  const modelFile = displayPath(paths, paths.modelConfig);
  const modelConfig =
    config.weights_init_type === 'continue_training' ? await readModelConfigJson(paths) : undefined;
  const classes = createSegmentationClasses({
    projectClasses: projectClassesJson(opts.project),
    specialClasses: config.special_classes,
    weightsInitType: config.weights_init_type,
    model: modelConfig === undefined ? undefined : { config: modelConfig, file: modelFile },
    modelConfigFile: modelFile,
  });
  logger.info(classes.modeMessage);
  logger.info('Determined model out classes', { out_classes: classes.outClasses });
  logger.info('Determined class mapping.', { class_mapping: classes.classTitleToIdx });
  if (classes.ignoreIndex !== null) {
    logger.info('The neutral class is ignored by the loss and the metrics.', {
      neutral: config.special_classes.neutral,
      ignore_index: classes.ignoreIndex,
    });
  }
  return classes;
}

function logPlan(logger: Logger, plan: TrainingPlan, config: TrainConfig): void {
  for (const fold of [plan.train, plan.val]) {
    logger.info('Prepared dataset.', {
      dataset_purpose: fold.purpose,
      dataset_tag: fold.tag,
      sample_cnt: fold.items.length,
      batch_size: fold.batchSize,
      batches: fold.batches,
    });
  }
  logger.info('Images by fold tag.', {
    neither_tag: plan.neitherCount,
    both_tags: plan.bothCount,
  });
  for (const warning of plan.warnings) logger.warn(warning);
  logger.info('Training plan.', {
    epochs: config.epochs,
    iters_per_epoch: plan.itersPerEpoch,
    total_steps: plan.totalSteps,
    validations: plan.validations.length,
    first_validation_epoch: plan.validations[0].epochFloat,
  });
}

interface BuiltModel extends InitializedModel {
  optimizer: tf.AdamOptimizer;
  /** The network's parsed settings (worker threads build their replicas from them). */
  settings: unknown;
}

/** Spec E.4, G.2 `_construct_and_fill_model`: the network for the class count, filled from model/. */
async function buildModel(opts: {
  network: AnyNetwork;
  paths: TaskPaths;
  config: TrainConfig;
  classes: SegmentationClasses;
  logger: Logger;
}): Promise<BuiltModel> {
  const { network, config, logger } = opts;
  const progress = Progress.start({ logger, subtask: 'Building model:', total: 1 });
  const settings = await inConfigFile(() => network.parseSettings(config.custom_model_config));
  const optimizer = tf.train.adam(config.lr);
  let built: InitializedModel;
  try {
    built = await inConfigFile(() =>
      buildAndInitModel({
        network,
        settings,
        inputSize: config.input_size,
        numClasses: opts.classes.numClasses,
        weightsInitType: config.weights_init_type,
        modelDir: opts.paths.model,
        optimizer,
        seed: config.seed,
      }),
    );
  } catch (e) {
    optimizer.dispose();
    throw e;
  }
  const modelDir = displayPath(opts.paths, opts.paths.model);
  if (built.init === 'scratch') {
    logger.info('Weights will not be inited.', {
      reason: `the model folder (${modelDir}) is empty: training from scratch`,
    });
  } else if (built.init === 'transfer_learning') {
    logger.info('Skip weight init for output layers.', {
      copied_layers: built.report.copiedLayers.length,
      fresh_layers: built.report.freshLayers,
    });
  } else {
    logger.info('Weights loaded for continued training.', {
      copied_layers: built.report.copiedLayers.length,
      optimizer_state_restored: built.restoredOptimizer,
    });
  }
  logger.info('Model built.', {
    network: network.name,
    parameters: built.model.countParams(),
    input_size: config.input_size,
    out_channels: opts.classes.numClasses,
  });
  progress.iterDone();
  return { ...built, optimizer, settings };
}

/** Settings errors name a field of the training config: say which file it is in. */
async function inConfigFile<T>(f: () => T | Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw e instanceof TaskError && e.context.field !== undefined ? e.withContext({ file: CONFIG_FILE }) : e;
  }
}

/** The loader of one fold: train shuffled with seeded flips, val in order without. */
function foldBatches(opts: {
  fold: FoldPlan;
  project: ProjectListing;
  plan: TrainingPlan;
  classes: SegmentationClasses;
  ctx: TrainTaskContext;
  network: AnyNetwork;
}): FoldBatches<Sample> {
  const { fold, project, ctx } = opts;
  const { config, logger } = ctx;
  const training = fold.purpose === 'train';
  const recipe: SampleRecipe = {
    inputSize: config.input_size,
    drawingClassToIdx: opts.classes.drawingClassToIdx,
    fill: opts.plan.fill,
    preprocessing: opts.network.preprocessing,
    ...(training ? { flips: flipProbabilities(config.augment) } : {}),
  };
  const describe = (index: number): { file: string; item: string } => {
    const item = fold.items[index].item;
    return { file: projectDisplayPath(project, item.imagePath), item: `${item.dataset}/${item.name}` };
  };
  return new FoldBatches<Sample>({
    purpose: fold.purpose,
    count: fold.items.length,
    batchSize: fold.batchSize,
    ...(training ? { shuffleSeed: config.seed } : {}),
    lookahead: Math.max(1, config.data_workers[fold.purpose]) * fold.batchSize,
    allowedCorrupted: config.allow_corrupted_samples[fold.purpose],
    load: (index, epoch) =>
      loadSample({
        project,
        item: fold.items[index].item,
        recipe,
        seed: { seed: config.seed, epoch, index },
      }),
    collate: collateSamples,
    describe,
    onSkip: (info) =>
      logger.warn('Sample processing error: the image is skipped.', {
        dataset_purpose: fold.purpose as FoldPurpose,
        image: info.file,
        item: info.item,
        reason: info.reason,
        fail_cnt: info.skipped,
        allowed: config.allow_corrupted_samples[fold.purpose],
      }),
  });
}

/** The loop with the built-in hooks; returns the outcome and how many checkpoints were written. */
async function trainLoop(opts: {
  ctx: TrainTaskContext;
  engine: TrainEngine;
  plan: TrainingPlan;
  classes: SegmentationClasses;
  network: AnyNetwork;
  trainReader: EpochBatchReader<Sample>;
  valFold: FoldBatches<Sample>;
  extraHooks: readonly TrainHook[];
}): Promise<{ outcome: TrainOutcome; checkpoints: number }> {
  const { ctx, engine, plan, classes } = opts;
  const { config, logger } = ctx;
  const writer = await CheckpointWriter.create(ctx.paths.results);
  const checkpointConfig: ModelConfigJson = modelConfigJson({
    settings: config as unknown as Record<string, unknown>,
    outClasses: classes.outClasses,
    classTitleToIdx: classes.classTitleToIdx,
    extra: { ...networkRecord(opts.network) },
  });
  let checkpoints = 0;

  const evaluate = async (state: { epochFloat: number }): Promise<MetricValues> => {
    const tally: ValidationTally = {
      loss: new WeightedMean(),
      confusion: new ConfusionMatrix({ numClasses: classes.numClasses }),
    };
    const valIters = opts.valFold.batchesPerEpoch;
    logger.info('Validation in progress', { epoch: state.epochFloat, val_iters: valIters });
    let valIter = 0;
    for await (const batch of opts.valFold.epoch(0)) {
      const r = await engine.evalStep(batch);
      tally.loss.add(r.loss, r.pixels);
      tally.confusion.addCounts(r.confusion);
      valIter += 1;
      logger.debug('Validation in progress', {
        epoch: state.epochFloat,
        val_iter: valIter,
        val_iters: valIters,
      });
    }
    return validationMetricValues(tally, classes.classTitleToIdx);
  };

  const trainer = new Trainer({
    epochs: config.epochs,
    itersPerEpoch: plan.itersPerEpoch,
    step: async ({ epoch }) => {
      const r = await engine.trainStep(await opts.trainReader.next(epoch));
      return { loss: r.loss, metrics: { accuracy: r.accuracy } };
    },
    hooks: [
      ...standardHooks({
        logger,
        planner: new EvalPlanner({ valEvery: config.val_every }),
        evaluate,
        saveCheckpoint: async () => {
          const files = await writeCheckpointFiles({
            writer,
            model: engine.getModel(),
            optimizer: engine.getOptimizer(),
            config: checkpointConfig,
            exportOnnx: config.export_onnx,
            saveTar: config.save_model_tar,
            logger,
          });
          checkpoints += 1;
          logger.debug('Checkpoint written.', {
            dir: displayPath(ctx.paths, files.dir),
            onnx: files.onnx,
            ...(files.tarFile === undefined ? {} : { tar: displayPath(ctx.paths, files.tarFile) }),
          });
          return files;
        },
        countTensors: () => tf.memory().numTensors,
        imagesPerStep: plan.train.batchSize,
      }),
      ...opts.extraHooks,
    ],
  });
  const outcome = await trainer.train();
  return { outcome, checkpoints };
}
