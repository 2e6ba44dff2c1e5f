/**
 * The training run (spec E, G.2), a thin composition of the rooms below it, in the SDK's order:
 * 1. the tfjs backend (which one, and why better ones did not load);
 * 2. the project (`data/`), 3. the class map (`model/config.json` for continue_training),
 * 4. the folds and the plan (every annotation read; data errors fail here, before the model exists);
 * 5. the model ("Building model:"; from scratch, transfer_learning or continue_training);
 * 6. the loop (trainer.ts) with the built-in hooks: progress, train metrics, validation, checkpoints.
 * Nothing here reads the environment or global paths: the task folder and config come in `ctx`.
 */

import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { BackendSelection, InitBackendOptions } from '../backend/select';
import { initBackend } from '../backend/select';
import { configError, modelError, TaskError } from '../errors';
import { countItems, projectDisplayPath, projectItems, readSingleProject } from '../format/project-reader';
import { dataDigest, runManifest, type RunManifest } from '../model-state/manifest';
import type { ModelConfigJson } from '../format/types';
import { CheckpointWriter } from '../model-state/checkpoint-writer';
import type { TrainingStateJson } from '../model-state/training-state';
import { InterruptedError, stopRequests } from '../protocol/stop';
import { modelConfigJson, readModelConfig } from '../model-state/config';
import { loadNetworkPlugin } from '../network/load-plugin';
import type { InitializedModel } from '../network/transfer';
import { buildAndInitModel } from '../network/transfer';
import { WEIGHTS_FILE } from '../network/model-files';
import { networkRecord } from '../network/record';
import { inputParts, networkTensorNames, type AnyNetwork } from '../network/types';
import type { Logger } from '../protocol/logger';
import { Progress } from '../protocol/progress';
import type { TrainConfig } from '../task/config-types';
import type { TrainTaskContext } from '../task/context';
import { displayPath, type TaskPaths } from '../task/paths';
import { defaultTrainConfig } from '../task/train-config';
import { checkImageHeader } from '../image/decode';
import type { SegmentationClasses } from '../model-state/class-map';
import { EpochBatchReader, FoldBatches } from './data/fold-batches';
import type { TrainEngine } from './engine/types';
import { defaultEngineFactory, type EngineFactory, type TrainEngineSetting } from './engine-factory';
import type { FoldPurpose } from './folds';
import { writeCheckpointFiles } from './hooks/checkpoint-files';
import { BestTracker, standardHooks } from './hooks';
import type { MetricValues } from './metrics';
import type { FoldPlan, TrainingPlan } from './plan';
import { planTraining, scanProject, type ScannedItem } from './plan';
import { checkFoldImages, logEpochEstimate, logPreflight, preflightReport } from './preflight';
import { timeWarmSteps } from './warm-steps';
import type { AnyTrainingTask, TaskLoss, TaskRunContext } from './task';
import { weightsByTitle } from './class-weights';
import { EvalPlanner } from './planner';
import {
  captureTrainingState,
  readResumePlan,
  restoreOptimizerForResume,
  startOfRun,
  type ResumePlan,
  type ResumePoint,
} from './resume';
import type { TrainHook, TrainOutcome } from './trainer';
import { Trainer } from './trainer';

const CONFIG_FILE = 'task_config.json';

export interface RunTrainingOptions {
  /**
   * The network plugin module, chosen by the entry point (a path: data-parallel worker threads load it too).
   * The runtime never names a concrete network itself.
   */
  networkModule: string;
  /** The task the network is trained for (src/tasks), chosen by the entry point. */
  task: AnyTrainingTask;
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
  const { networkModule, task } = options;
  // The network and the task must belong together before anything is read or built.
  const network = loadNetworkPlugin(networkModule);
  checkNetworkFitsTask(network, task);
  task.checkConfig?.(config);
  const backend = await initBackend(options.backend);
  logBackend(logger, backend);

  const project = await readSingleProject(paths.data);
  logger.info(`Project structure has been read. Samples: ${countItems(project)}.`, {
    project: project.name,
    datasets: project.datasets.map((d) => d.name),
  });
  const taskCtx: TaskRunContext = { paths, config, project, network, logger };
  const data = await dataDigest(
    [...projectItems(project)].map((item) => ({
      name: `${item.dataset}/${item.name}`,
      files: [item.imagePath, item.annotationPath],
    })),
  );
  logger.info('Data digest', { items: data.items, bytes: data.bytes, sha256: data.sha256 });

  const classes = await task.determineClasses(taskCtx);
  const plan = planTraining({
    items: usableItems(await scanProject(project), task, logger),
    config,
    classes,
  });
  logPlan(logger, plan, config);
  logPreflight(
    logger,
    preflightReport(
      { train: plan.train.items.map((i) => i.stats), val: plan.val.items.map((i) => i.stats) },
      // Classes labelled in the project: the background class is what no label covers (and a task's own
      // classes, such as the click task's background/object, are not the project's).
      Object.keys(classes.classTitleToIdx).filter(
        (t) =>
          project.meta.classByTitle.has(t) &&
          t !== config.special_classes.background &&
          t !== config.special_classes.neutral,
      ),
    ),
  );

  // Every image's header, before the model is built: an unreadable one fails (or is left out) now, named.
  const unreadable = {
    train: await checkImages(plan.train, taskCtx),
    val: await checkImages(plan.val, taskCtx),
  };
  const loss = taskLoss(task, taskCtx, { plan, classes });

  await checkModelNetwork(paths, network);
  // Before the model is built: a checkpoint whose run cannot go on under this config fails at once.
  const resume = await readResumePlan({
    paths,
    weightsInitType: config.weights_init_type,
    seed: config.seed,
    dataSha256: data.sha256,
    trainItems: plan.train.items.length,
    batchSize: plan.train.batchSize,
    itersPerEpoch: plan.itersPerEpoch,
    epochs: config.epochs,
  });
  const built = await buildModel({ network, paths, config, classes, logger });
  const start = startOfSemanticRun({ resume, built, paths, logger, init: built.init });
  let engine: TrainEngine | undefined;
  const trainReader = new EpochBatchReader(
    foldBatches({ fold: plan.train, plan, classes, taskCtx, task, unreadable: unreadable.train }),
  );
  try {
    const chosen = await (options.createEngine ?? defaultEngineFactory)({
      model: built.model,
      optimizer: built.optimizer,
      learningRate: config.lr,
      numClasses: classes.numClasses,
      ignoreIndex: plan.ignoreIndex,
      ...loss,
      engine: options.trainEngine ?? config.train_engine,
      computeWorkers: config.compute_workers,
      backend: backend.name,
      batchSize: plan.train.batchSize,
      tensorNames: networkTensorNames(network),
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
    if (plan.itersPerEpoch > 0) {
      // Weights and optimizer are put back exactly: the run is the one it would have been without this.
      const estimate = await timeWarmSteps({ engine, batchSize: plan.train.batchSize });
      logEpochEstimate(logger, estimate, plan.itersPerEpoch);
    }
    const manifest = runManifest({
      seed: typeof config.seed === 'number' ? config.seed : null,
      config: config as unknown as Record<string, unknown>,
      data,
      engine: engine.description,
      backend: backend.name,
      network: network.name,
    });
    const summary = await trainLoop({
      ctx,
      engine,
      plan,
      classes,
      task,
      taskCtx,
      trainReader,
      valFold: foldBatches({ fold: plan.val, plan, classes, taskCtx, task, unreadable: unreadable.val }),
      extraHooks: options.extraHooks ?? [],
      manifest,
      resume: start,
      dataSha256: data.sha256,
      loss,
    });
    logger.info('Training finished.', { outcome: summary.outcome.kind, checkpoints: summary.checkpoints });
    const signal = stopRequests.signal;
    if (summary.outcome.kind === 'stopped' && signal !== undefined) {
      throw new InterruptedError(
        signal,
        `training stopped after the step in progress; its weights are in the last checkpoint announced ` +
          `(${summary.checkpoints} in all): continue_training from it`,
      );
    }
    return { ...summary, plan };
  } finally {
    await trainReader.close();
    await engine?.dispose();
    if (engine === undefined) built.optimizer.dispose();
    built.model.dispose();
  }
}

/** A network built for another task, or for other inputs, cannot be trained by this one: say both. */
function checkNetworkFitsTask(network: AnyNetwork, task: AnyTrainingTask): void {
  const names = inputParts(network.inputs).map((i) => i.name);
  if (network.task !== task.name) {
    throw configError(
      `the network "${network.name}" is built for the task "${network.task}", not "${task.name}"`,
      { file: CONFIG_FILE, field: 'network' },
    );
  }
  if (names.join(',') !== task.inputNames.join(',')) {
    throw configError(
      `the network "${network.name}" takes the inputs [${names.join(', ')}] but the task "${task.name}" ` +
        `feeds [${task.inputNames.join(', ')}]`,
      { file: CONFIG_FILE, field: 'network' },
    );
  }
}

/**
 * The starting model (model/config.json, when there is one) must be of the network being trained: weights of
 * another network would be loaded by layer name into the wrong graph. Models that predate the `network` key
 * cannot be checked and go on as before.
 */
async function checkModelNetwork(paths: TaskPaths, network: AnyNetwork): Promise<void> {
  const file = displayPath(paths, paths.modelConfig);
  let recorded: unknown;
  try {
    recorded = (await readModelConfig(paths.model, { displayName: file })).extra.network;
  } catch {
    return; // no or unreadable config.json: the model loader reports what is wrong with the folder
  }
  if (typeof recorded === 'string' && recorded !== network.name) {
    throw modelError(
      `the model in the model folder is a "${recorded}" network, but the training config's network is ` +
        `"${network.name}": start from an empty model folder or from a "${network.name}" model`,
      { file, field: 'network' },
    );
  }
}

/** The task's part of the loss; `class_weights` chosen for a task whose loss has no class weights is a warning. */
function taskLoss(
  task: AnyTrainingTask,
  ctx: TaskRunContext,
  opts: { plan: TrainingPlan; classes: SegmentationClasses },
): TaskLoss {
  const loss = task.loss?.(ctx, opts) ?? {};
  if (loss.classWeights !== undefined) return loss;
  // The default ("enet") is the semantic task's; only a choice of the user's is worth a warning here.
  const chosen = ctx.config.class_weights;
  if (chosen !== 'none' && chosen !== defaultTrainConfig().class_weights) {
    ctx.logger.warn(`class_weights is not used by the task "${task.name}": its loss is unweighted.`, {
      file: CONFIG_FILE,
      field: 'class_weights',
    });
  }
  return loss;
}

/** Drops the items the task cannot learn from, saying how many and why. */
function usableItems(items: ScannedItem[], task: AnyTrainingTask, logger: Logger): ScannedItem[] {
  const why = task.unusableItem;
  if (why === undefined) return items;
  const reasons = new Map<string, number>();
  const kept = items.filter((item) => {
    const reason = why(item);
    if (reason !== undefined) reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    return reason === undefined;
  });
  for (const [reason, count] of reasons) {
    logger.warn(`${count} images are not used: ${reason}.`, { task: task.name, images: count });
  }
  return kept;
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

/**
 * Says how the run starts (resume.ts), and for an exact resume checks the restored optimizer against
 * training_state.json and sets its beta^t counters. Returns where a resumed run goes on.
 */
function startOfSemanticRun(opts: {
  resume: ResumePlan | undefined;
  built: BuiltModel;
  paths: TaskPaths;
  logger: Logger;
  init: InitializedModel['init'];
}): ResumePoint | undefined {
  const { built, paths } = opts;
  return startOfRun({
    resume: opts.resume,
    restoredOptimizer: built.restoredOptimizer,
    continueTraining: opts.init === 'continue_training',
    logger: opts.logger,
    paths,
    checkOptimizer: (state, file) =>
      restoreOptimizerForResume({
        state,
        optimizer: built.optimizer,
        trainable: built.model.trainableWeights.map((w) => ({ name: w.originalName, shape: w.shape })),
        restored: built.restoredOptimizer,
        file,
        weightsFile: displayPath(paths, path.join(paths.model, WEIGHTS_FILE)),
      }),
  });
}

/** Settings errors name a field of the training config: say which file it is in. */
async function inConfigFile<T>(f: () => T | Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw e instanceof TaskError && e.context.field !== undefined ? e.withContext({ file: CONFIG_FILE }) : e;
  }
}

/** How a sample of a fold is named in messages: the image file and the item. */
function describeItem(
  fold: FoldPlan,
  taskCtx: TaskRunContext,
): (index: number) => { file: string; item: string } {
  return (index) => {
    const item = fold.items[index].item;
    return {
      file: projectDisplayPath(taskCtx.project, item.imagePath),
      item: `${item.dataset}/${item.name}`,
    };
  };
}

/** The warning for a sample left out as corrupted (by the preflight or the loader), as the SDK words it. */
function warnSkipped(
  taskCtx: TaskRunContext,
  purpose: FoldPurpose,
  info: { file: string; item: string; reason: string; skipped: number },
): void {
  taskCtx.logger.warn('Sample processing error: the image is skipped.', {
    dataset_purpose: purpose,
    image: info.file,
    item: info.item,
    reason: info.reason,
    fail_cnt: info.skipped,
    allowed: taskCtx.config.allow_corrupted_samples[purpose],
  });
}

/** The preflight's header check of a fold's images; the indices of those left out (within the budget). */
async function checkImages(fold: FoldPlan, taskCtx: TaskRunContext): Promise<number[]> {
  const describe = describeItem(fold, taskCtx);
  return checkFoldImages({
    purpose: fold.purpose,
    count: fold.items.length,
    allowed: taskCtx.config.allow_corrupted_samples[fold.purpose],
    check: (index) => {
      const { item, stats } = fold.items[index];
      return checkImageHeader(item.imagePath, {
        expectedSize: { width: stats.width, height: stats.height },
        displayName: describe(index).file,
      });
    },
    describe,
    onSkip: (image, skipped) => warnSkipped(taskCtx, fold.purpose, { ...image, skipped }),
  });
}

/** The loader of one fold: train shuffled (the task augments), val in order; `unreadable` left out. */
function foldBatches(opts: {
  fold: FoldPlan;
  plan: TrainingPlan;
  classes: SegmentationClasses;
  taskCtx: TaskRunContext;
  task: AnyTrainingTask;
  unreadable: readonly number[];
}): FoldBatches<unknown> {
  const { fold, taskCtx } = opts;
  const { config } = taskCtx;
  const training = fold.purpose === 'train';
  const source = opts.task.samples(taskCtx, { fold, plan: opts.plan, classes: opts.classes });
  const describe = describeItem(fold, taskCtx);
  const batches = new FoldBatches<unknown>({
    purpose: fold.purpose,
    count: fold.items.length,
    batchSize: fold.batchSize,
    ...(training ? { shuffleSeed: config.seed } : {}),
    lookahead: Math.max(1, config.data_workers[fold.purpose]) * fold.batchSize,
    allowedCorrupted: config.allow_corrupted_samples[fold.purpose],
    load: (index, epoch) => source.load(fold.items[index], { seed: config.seed, epoch, index }),
    collate: (samples) => source.collate(samples),
    describe,
    onSkip: (info) => warnSkipped(taskCtx, fold.purpose, info),
  });
  batches.restoreCorrupted(opts.unreadable);
  return batches;
}

/** The loop with the built-in hooks; returns the outcome and how many checkpoints were written. */
async function trainLoop(opts: {
  ctx: TrainTaskContext;
  engine: TrainEngine;
  plan: TrainingPlan;
  classes: SegmentationClasses;
  task: AnyTrainingTask;
  taskCtx: TaskRunContext;
  trainReader: EpochBatchReader<unknown>;
  valFold: FoldBatches<unknown>;
  extraHooks: readonly TrainHook[];
  manifest: RunManifest;
  /** Where a resumed run goes on (continue_training from a checkpoint with training_state.json). */
  resume: ResumePoint | undefined;
  dataSha256: string;
  loss: TaskLoss;
}): Promise<{ outcome: TrainOutcome; checkpoints: number }> {
  const { ctx, engine, plan, classes, resume } = opts;
  const { config, logger } = ctx;
  const planner = new EvalPlanner({ valEvery: config.val_every });
  const best = new BestTracker();
  if (resume !== undefined) {
    planner.loadState(resume.planner);
    best.restore({ bestLoss: resume.bestLoss, seen: resume.seenCheckpoints });
    opts.trainReader.resume(resume.train);
    opts.valFold.restoreCorrupted(resume.valCorrupted);
  }
  const optimizer = engine.getOptimizer();
  const writer = await CheckpointWriter.create(ctx.paths.results);
  const checkpointConfig: ModelConfigJson = modelConfigJson({
    settings: config as unknown as Record<string, unknown>,
    outClasses: classes.outClasses,
    classTitleToIdx: classes.classTitleToIdx,
    extra: {
      ...networkRecord(opts.taskCtx.network),
      ...opts.task.checkpointRecord(opts.taskCtx),
      // What the weights were trained with beyond the settings: the class weights computed from the data.
      ...(opts.loss.classWeights === undefined
        ? {}
        : { loss: { class_weights: weightsByTitle(opts.loss.classWeights, classes.classTitleToIdx) } }),
    },
  });
  let checkpoints = 0;

  const evaluate = (state: { epochFloat: number }): Promise<MetricValues> =>
    opts.task.evaluate(opts.taskCtx, {
      engine,
      valFold: opts.valFold,
      classes,
      epochFloat: state.epochFloat,
    });

  // The run's state after its last step, written with each checkpoint (training_state.json).
  const trainingState = (): TrainingStateJson | undefined =>
    optimizer instanceof tf.AdamOptimizer
      ? captureTrainingState({
          run: trainer.state,
          train: opts.trainReader.position(),
          valCorrupted: opts.valFold.corruptedIndices(),
          batchSize: plan.train.batchSize,
          trainItems: plan.train.items.length,
          planner: planner.saveState(),
          bestLoss: best.state().bestLoss,
          optimizer,
          seed: config.seed,
          dataSha256: opts.dataSha256,
          engine: engine.description,
        })
      : undefined;

  const trainer: Trainer = new Trainer({
    epochs: config.epochs,
    itersPerEpoch: plan.itersPerEpoch,
    ...(resume === undefined ? {} : { startStep: resume.startStep }),
    step: async ({ epoch }) => {
      const batch = await opts.trainReader.next(epoch);
      // Read before the step: the rate this step ran at (the schedule hook set it).
      const lr = engine.getLearningRate();
      const r = await engine.trainStep(batch);
      return { loss: r.loss, metrics: { accuracy: r.accuracy, lr } };
    },
    hooks: [
      ...standardHooks({
        logger,
        planner,
        best,
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
            manifest: opts.manifest,
            trainingState: trainingState(),
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
        learningRate: {
          lr: config.lr,
          schedule: config.lr_schedule,
          setLearningRate: (lr) => engine.setLearningRate(lr),
        },
      }),
      ...opts.extraHooks,
    ],
  });
  // SIGTERM / SIGINT: the step in progress finishes, then the checkpoint hook saves the weights (afterTrain).
  const stopListening = stopRequests.listen((signal) => trainer.requestStop(signal));
  try {
    const outcome = await trainer.train();
    return { outcome, checkpoints };
  } finally {
    stopListening();
  }
}
