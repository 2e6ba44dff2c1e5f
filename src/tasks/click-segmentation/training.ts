/**
 * Click-prompted segmentation as a training task (network `clicks`): every labelled object of any image project
 * is an instance to segment from clicks. A sample is one object of an image (chosen from the seed, the epoch and
 * the image), with simulated clicks and previous mask (simulate.ts); the target is the object's mask (1) against
 * everything else (0), learnt with the engines' two-class softmax cross-entropy (binary cross-entropy).
 * Validation runs the NoC protocol (series.ts) on every object of each val image (up to
 * `clicks.val_objects_per_image`, which bounds its cost): NoC@85, NoC@90, the share of objects that never reach
 * them in 20 clicks, and mean IoU after 1, 3 and 5 clicks.
 */
import { configError, dataError, TaskError } from '../../errors';
import { drawLabel } from '../../format/rasterise';
import type { Annotation, ImageSize } from '../../format/model';
import type { ObjClassJson } from '../../format/types';
import { projectDisplayPath } from '../../format/project-reader';
import { resizeNearest } from '../../image/resize-nearest';
import { TfjsEngine } from '../../inference/engine/tfjs-engine';
import { applyFlips } from '../../training/augment';
import { batchLength, sliceBatch } from '../../training/engine/batch';
import type { SegmentationClasses } from '../../model-state/class-map';
import { networkTensorNames } from '../../network/types';
import { BACKGROUND_COLOR } from '../../model-state/class-map';
import { collateSamples, flipProbabilities, readItemAtSize, sampleFlips } from '../../training/data/sample';
import { WeightedMean, type MetricValues } from '../../training/metrics';
import { mixSeed, mulberry32 } from '../../util/random';
import type { TrainingTask } from '../../training/task';
import { nextClick, type Click, type Grid } from './clicks';
import { CLICK_INPUT_NAMES, DEFAULT_CLICK_ENCODING, encodeClickInput, CLICK_INPUT_CHANNELS } from './encode';
import { CLICK_SCORES_OUTPUT, clickScoreRunner, clickTensorNames } from './network-io';
import { clickMetrics, clickSeries, MAX_CLICKS } from './series';
import { simulateClicks } from './simulate';
import { CLICK_SEGMENTATION } from './task-name';

export const OBJECT_CLASS = 'object';
export const BACKGROUND_CLASS = 'background';

/** Objects smaller than this share of the input are not chosen while a larger one exists (a click covers them). */
const MIN_OBJECT_SHARE = 0.002;

/** One object of an image with its clicks and its mask. */
export interface ClickSample {
  x: Float32Array;
  y: Int32Array;
  height: number;
  width: number;
}

/** Each label of the annotation as a 0/1 mask at `size` (labels that draw nothing give empty masks). */
export function objectMasks(annotation: Annotation, size: ImageSize): Uint8Array[] {
  const { width, height } = annotation.size;
  return annotation.labels.map((label) => {
    const canvas = { width, height, data: new Uint8Array(width * height) };
    drawLabel(canvas, label, 1);
    return resizeNearest(canvas.data, annotation.size, size);
  });
}

/** The objects a sample may be of, in label order: those not tiny when there are any, else any that draws. */
function eligibleObjects(masks: Uint8Array[]): Uint8Array[] {
  const areas = masks.map((m) => m.reduce((a, v) => a + v, 0));
  const min = Math.max(1, MIN_OBJECT_SHARE * (masks[0]?.length ?? 0));
  const pool = masks.filter((_, i) => areas[i] >= min);
  return pool.length > 0 ? pool : masks.filter((_, i) => areas[i] > 0);
}

function protocolFirstClick(gt: Uint8Array, grid: Grid): Click[] {
  const first = nextClick(gt, new Uint8Array(gt.length), grid);
  return first === null ? [] : [first];
}

/** The two output channels as the checkpoint's classes: background 0, object 1. */
function clickClasses(): SegmentationClasses {
  const outClass = (title: string, color: string): ObjClassJson => ({
    title,
    shape: 'bitmap',
    color,
    geometry_config: {},
    hotkey: '',
  });
  const classTitleToIdx = { [BACKGROUND_CLASS]: 0, [OBJECT_CLASS]: 1 };
  return {
    outClasses: [outClass(BACKGROUND_CLASS, BACKGROUND_COLOR), outClass(OBJECT_CLASS, '#FF3366')],
    classTitleToIdx,
    drawingClassToIdx: classTitleToIdx,
    numClasses: 2,
    ignoreIndex: null,
    modeMessage: 'Click segmentation: two output channels, background and object.',
  };
}

/** What a click checkpoint's config.json records about the task (segment.ts reads it back). */
export function clickCheckpointRecord(): Record<string, unknown> {
  return {
    task: CLICK_SEGMENTATION,
    click_encoding: { ...DEFAULT_CLICK_ENCODING },
    input_channels: CLICK_INPUT_CHANNELS,
    max_clicks: MAX_CLICKS,
  };
}

/** A sample is a list of objects of one image: one random object when training, every object for validation. */
export const clickSegmentationTask: TrainingTask<ClickSample[]> = {
  name: CLICK_SEGMENTATION,
  inputNames: CLICK_INPUT_NAMES,
  checkConfig(config) {
    // Clicks are simulated on the whole object at the input size; native windows would cut objects apart.
    if (config.resolution.mode !== 'fit') {
      throw configError(
        `a click network trains on whole images resized to input_size ("fit"); "${config.resolution.mode}" ` +
          'windows would cut the objects its clicks are simulated on. Use "fit" (and a larger input_size for ' +
          'small objects)',
        { file: 'task_config.json', field: 'resolution.mode' },
      );
    }
  },
  async determineClasses(ctx) {
    const classes = clickClasses();
    ctx.logger.info(classes.modeMessage);
    ctx.logger.info('Determined model out classes', { out_classes: classes.outClasses });
    ctx.logger.info('Determined class mapping.', { class_mapping: classes.classTitleToIdx });
    return classes;
  },
  unusableItem: (item) => (item.objectCount === 0 ? 'they have no object to click on' : undefined),
  // The output inference reads (network-io.ts), whatever the network's order; unweighted.
  loss: () => ({ output: CLICK_SCORES_OUTPUT }),
  samples(ctx, { fold }) {
    const { config, project, network } = ctx;
    const grid: Grid = config.input_size;
    const training = fold.purpose === 'train';
    const flips = training ? flipProbabilities(config.augment) : undefined;
    const perImage = config.clicks.val_objects_per_image;
    const inputName = clickTensorNames(network).input;
    return {
      async load(scanned, seed) {
        const item = scanned.item;
        try {
          const { annotation, image } = await readItemAtSize(project, item, grid);
          const rand = mulberry32(mixSeed(seed.seed, seed.epoch, seed.index, 0x636c6b));
          // Training: one random object a sample. Validation: every object, the same ones at every validation.
          const pool = eligibleObjects(objectMasks(annotation, grid));
          let objects = pool.slice(0, perImage);
          if (training) objects = pool.length === 0 ? [] : [pool[Math.floor(rand() * pool.length)]];
          if (objects.length === 0) {
            throw dataError('no object of the image covers a pixel at the input size', {
              file: projectDisplayPath(project, item.annotationPath),
            });
          }
          const f = sampleFlips(flips, seed);
          const rgb = applyFlips(
            { data: image.data, height: grid.height, width: grid.width, channels: 3 },
            f,
          ).data;
          return objects.map((mask) => {
            const gt = applyFlips(
              { data: mask, height: grid.height, width: grid.width, channels: 1 },
              f,
            ).data;
            // Validation starts where the NoC protocol does: its first click, no previous mask.
            const sim = training
              ? simulateClicks(gt, grid, rand)
              : { clicks: protocolFirstClick(gt, grid), previous: null };
            const x = encodeClickInput({
              rgb,
              grid,
              preprocessing: network.preprocessing,
              clicks: sim.clicks,
              previous: sim.previous,
              encoding: DEFAULT_CLICK_ENCODING,
            });
            return { x, y: Int32Array.from(gt), height: grid.height, width: grid.width };
          });
        } catch (e) {
          throw e instanceof TaskError ? e.withContext({ item: `${item.dataset}/${item.name}` }) : e;
        }
      },
      collate: (samples) => collateSamples(samples.flat(), inputName),
    };
  },
  async evaluate(ctx, { engine, valFold, epochFloat }) {
    const { logger, config } = ctx;
    const grid: Grid = config.input_size;
    const pixels = grid.height * grid.width;
    const runner = await TfjsEngine.create({
      model: engine.getModel(),
      tensorNames: networkTensorNames(ctx.network),
    });
    const loss = new WeightedMean();
    const series: number[][] = [];
    const valIters = valFold.batchesPerEpoch;
    logger.info('Validation in progress', { epoch: epochFloat, val_iters: valIters });
    let valIter = 0;
    try {
      const names = clickTensorNames(ctx.network);
      const run = clickScoreRunner(runner, names, grid);
      for await (const objects of valFold.epoch(0)) {
        // A batch holds every object of its images: the engines see at most a batch of them at a time.
        const total = batchLength(objects);
        for (let start = 0; start < total; start += valFold.batchSize) {
          const count = Math.min(valFold.batchSize, total - start);
          const batch = count === total ? objects : sliceBatch(objects, start, count);
          const r = await engine.evalStep(batch);
          loss.add(r.loss, r.pixels);
          const gts = Array.from({ length: count }, (_, i) =>
            Uint8Array.from(batch.labels.data.subarray(i * pixels, (i + 1) * pixels)),
          );
          series.push(
            ...(await clickSeries({
              run,
              x: batch.inputs[names.input].data,
              gts,
              grid,
              encoding: DEFAULT_CLICK_ENCODING,
            })),
          );
        }
        valIter += 1;
        logger.debug('Validation in progress', { epoch: epochFloat, val_iter: valIter, val_iters: valIters });
      }
    } finally {
      await runner.dispose();
    }
    logger.info('Click validation', {
      epoch: epochFloat,
      objects: series.length,
      val_objects_per_image: config.clicks.val_objects_per_image,
    });
    const m = clickMetrics(series);
    const finite = (v: number): number | null => (Number.isFinite(v) ? v : null);
    const metrics: MetricValues = { loss: loss.value() };
    for (const [thr, v] of Object.entries(m.noc)) metrics[`noc${thr}`] = finite(v);
    for (const [thr, v] of Object.entries(m.failed)) metrics[`noc${thr}_failed`] = finite(v);
    for (const [k, v] of Object.entries(m.iouAt)) metrics[`iou_at_${k}`] = finite(v);
    return metrics;
  },
  checkpointRecord: () => clickCheckpointRecord(),
};
