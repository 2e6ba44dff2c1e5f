/**
 * Semantic segmentation, the plugin's first task (spec E, G.2): one RGB image in, per-pixel class scores out.
 * Classes come from the project and `special_classes` (spec E.3, E.4); a sample is the image and its class-index
 * mask at the input size (training/data/sample.ts); validation reports loss, pixel accuracy and IoU per class.
 */
import { errorMessage, modelError } from '../../errors';
import { projectClassesJson } from '../../training/plan';
import { createSegmentationClasses, type SegmentationClasses } from '../../model-state/class-map';
import {
  collateSamples,
  flipProbabilities,
  loadNativeSamples,
  loadSample,
  type Sample,
  type SampleRecipe,
} from '../../training/data/sample';
import { classPixelCounts, classWeights, weightsByTitle } from '../../training/class-weights';
import { ConfusionMatrix, WeightedMean } from '../../training/metrics';
import { batchLength, sliceBatch } from '../../training/engine/batch';
import { gridPlacements } from '../../training/data/native-crops';
import type { ScannedItem } from '../../training/plan';
import { validationMetricValues, type ValidationTally } from '../../training/hooks/validation';
import type { TaskLoss, TaskRunContext, TrainingTask } from '../../training/task';
import type { TrainingPlan } from '../../training/plan';
import type { Logger } from '../../protocol/logger';
import { displayPath, type TaskPaths } from '../../task/paths';
import { readRegularFile } from '../../util/regular-file';

export const SEMANTIC_SEGMENTATION = 'semantic_segmentation';

/** The model's config.json as JSON, or undefined when the model folder has none (read only for continue_training). */
export async function readModelConfigJson(paths: TaskPaths): Promise<unknown> {
  const file = displayPath(paths, paths.modelConfig);
  let text: string;
  try {
    text = await readRegularFile(paths.modelConfig, 'utf8');
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
export async function projectSegmentationClasses(ctx: TaskRunContext): Promise<SegmentationClasses> {
  const { paths, config, logger } = ctx;
  const modelFile = displayPath(paths, paths.modelConfig);
  const modelConfig =
    config.weights_init_type === 'continue_training' ? await readModelConfigJson(paths) : undefined;
  const classes = createSegmentationClasses({
    projectClasses: projectClassesJson(ctx.project),
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

/**
 * `class_weights`: the cross-entropy's class weights from the train fold's pixel counts (the preflight's label
 * areas), logged as one structured line and one readable line.
 */
export function semanticLoss(
  ctx: TaskRunContext,
  opts: { plan: TrainingPlan; classes: SegmentationClasses },
): TaskLoss {
  const { plan, classes } = opts;
  const method = ctx.config.class_weights;
  const counts = classPixelCounts({
    items: plan.train.items.map((i) => i.stats),
    drawingClassToIdx: classes.drawingClassToIdx,
    fill: plan.fill,
    numClasses: classes.numClasses,
  });
  const weights = classWeights(method, counts);
  if (weights === undefined) return {};
  logClassWeights(ctx.logger, method, weightsByTitle(weights, classes.classTitleToIdx));
  return { classWeights: weights };
}

function logClassWeights(logger: Logger, method: string, byTitle: Record<string, number>): void {
  logger.info('Class weights', { class_weights: method, weights: byTitle });
  const readable = Object.entries(byTitle).map(([t, w]) => `${t} ${w.toPrecision(3)}`);
  logger.info(`Class weights (${method}, from the train fold's pixels): ${readable.join(', ')}`);
}

/** How the config's resolution and augmentations make a fold's samples (native windows: native-crops.ts). */
export function semanticSampleRecipe(
  ctx: TaskRunContext,
  opts: { purpose: 'train' | 'val'; fill: number; classes: SegmentationClasses },
): SampleRecipe {
  const { config, network } = ctx;
  const training = opts.purpose === 'train';
  const native = config.resolution.mode === 'native';
  return {
    inputSize: config.input_size,
    drawingClassToIdx: opts.classes.drawingClassToIdx,
    fill: opts.fill,
    preprocessing: network.preprocessing,
    ...(training ? { flips: flipProbabilities(config.augment) } : {}),
    ...(native
      ? {
          native: {
            scale: config.resolution.scale,
            ...(training ? { randomScale: config.augment.random_scale } : {}),
          },
          ...(training ? { colourJitter: config.augment.color_jitter } : {}),
        }
      : {}),
  };
}

/** What native resolution means for this fold, in numbers: windows per epoch, and a warning when they are many. */
function logNativeResolution(
  ctx: TaskRunContext,
  purpose: 'train' | 'val',
  items: readonly ScannedItem[],
  recipe: SampleRecipe,
): void {
  const native = recipe.native;
  if (native === undefined) return;
  const input = recipe.inputSize;
  if (purpose === 'train') {
    ctx.logger.info('Native resolution: each training image gives one window per epoch.', {
      window: `${input.width}x${input.height}`,
      scale: native.scale,
      random_scale: native.randomScale,
      color_jitter: recipe.colourJitter ?? 0,
    });
    return;
  }
  const windows = items.reduce((n, it) => n + gridPlacements(it.stats, input, native.scale).length, 0);
  const perImage = items.length === 0 ? 0 : windows / items.length;
  ctx.logger.info('Native resolution: validation scores every pixel in windows.', {
    windows,
    images: items.length,
    windows_per_image: Number(perImage.toFixed(1)),
  });
  if (perImage > LARGE_GRID) {
    ctx.logger.warn(
      `Native resolution: a val image takes ${perImage.toFixed(0)} windows on average; validation and inference ` +
        'will be slow. A smaller resolution.scale (e.g. 0.5) shows the network less detail at a quarter of the cost.',
      { field: 'resolution.scale', scale: native.scale },
    );
  }
}

/** Windows per image above which native resolution is worth a warning (a 1024x1024 image at 128x128: 64). */
const LARGE_GRID = 64;

/**
 * A sample is a list of input-sized windows: one for `fit` and for native training, the grid of the image for
 * native validation (so every pixel is scored once).
 */
/** The one input this task feeds: the image, as the U-Net names it. */
const IMAGE_INPUT_NAME = 'image';

export const semanticSegmentationTask: TrainingTask<Sample[]> = {
  name: SEMANTIC_SEGMENTATION,
  inputNames: [IMAGE_INPUT_NAME],
  determineClasses: projectSegmentationClasses,
  loss: semanticLoss,
  samples(ctx, { fold, plan, classes }) {
    const { project } = ctx;
    const recipe = semanticSampleRecipe(ctx, { purpose: fold.purpose, fill: plan.fill, classes });
    if (recipe.native !== undefined) logNativeResolution(ctx, fold.purpose, fold.items, recipe);
    return {
      load: async (item, seed) =>
        recipe.native !== undefined
          ? loadNativeSamples({ project, item: item.item, recipe, seed })
          : [await loadSample({ project, item: item.item, recipe, seed })],
      collate: (samples) => collateSamples(samples.flat(), IMAGE_INPUT_NAME),
    };
  },
  async evaluate(ctx, { engine, valFold, classes, epochFloat }) {
    const { logger } = ctx;
    const tally: ValidationTally = {
      loss: new WeightedMean(),
      confusion: new ConfusionMatrix({ numClasses: classes.numClasses }),
    };
    const valIters = valFold.batchesPerEpoch;
    logger.info('Validation in progress', { epoch: epochFloat, val_iters: valIters });
    let valIter = 0;
    for await (const batch of valFold.epoch(0)) {
      // A native-resolution batch holds every window of its images: the network sees at most a batch at a time.
      const n = batchLength(batch);
      for (let start = 0; start < n; start += valFold.batchSize) {
        const count = Math.min(valFold.batchSize, n - start);
        const r = await engine.evalStep(count === n ? batch : sliceBatch(batch, start, count));
        // Weighted as the loss itself is: a batch counts by the class weights of its pixels.
        tally.loss.add(r.loss, r.lossWeight);
        tally.confusion.addCounts(r.confusion);
      }
      valIter += 1;
      logger.debug('Validation in progress', { epoch: epochFloat, val_iter: valIter, val_iters: valIters });
    }
    return validationMetricValues(tally, classes.classTitleToIdx);
  },
  // The U-Net checkpoints of earlier versions recorded no task: inference reads a missing one as this task.
  checkpointRecord: () => ({ task: SEMANTIC_SEGMENTATION }),
};
