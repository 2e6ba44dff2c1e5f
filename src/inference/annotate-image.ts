/**
 * One image through a mode (spec F.3), with the network behind a callback: plan the crops, score them in
 * batches, turn the scores into labels, merge them into the input annotation. No I/O and no tensors here; the
 * runner supplies `scoreCrops`, which crops the decoded image, runs the network and resizes the scores back.
 */

import { modelError } from '../errors';
import type { Annotation, ObjClass } from '../format/model';
import type { ObjClassJson } from '../format/types';
import { geometryBounds } from './label-geometry';
import { mergeAnnotation, type ModeResult, type RegionResult } from './merge-annotation';
import type { Blending, ModeConfig } from '../task/config-types';
import type { LabelBox } from './modes/bboxes';
import { planInference, type InferencePlan } from './modes/plan';
import type { OutputMeta } from './output-meta';
import { probabilityClasses, regionPredictions } from './predictions';
import { rectFromSize, rectHeight, rectSize, rectWidth, translateRect, type Rect, type Size } from './rect';
import { slidingWindows } from './modes/sliding-window';
import { argmaxMask, ScoreStitcher, type ClassIndexMask, type ScoreMap } from './stitch';

/**
 * Per-class scores (HWC, channel = class index) for each crop, each exactly the crop's size, in crop order.
 * Called with at most `batchSize` crops at a time.
 */
export type ScoreCrops = (crops: readonly Rect[]) => Promise<ScoreMap[]>;

export interface AnnotateImageOptions {
  readonly mode: ModeConfig;
  readonly annotation: Annotation;
  readonly outputMeta: OutputMeta;
  /** Network output index -> model class (`outClassMapping`). */
  readonly classMapping: ReadonlyMap<number, ObjClass>;
  readonly scoreCrops: ScoreCrops;
  /**
   * Class masks per crop, each the crop's size (e.g. score-resize.ts argmaxOfResized: the same masks, without
   * the crop-sized score maps). Used instead of scoreCrops when no scores are saved and nothing is stitched.
   */
  readonly maskCrops?: (crops: readonly Rect[]) => Promise<ClassIndexMask[]>;
  /** Called with each batch's masks once their labels are made: nothing reads them afterwards. */
  readonly masksDone?: (masks: readonly ClassIndexMask[]) => void;
  /** Crops per `scoreCrops` call; sliding windows are stitched batch by batch, so memory stays bounded. */
  readonly batchSize?: number;
  /**
   * A native-resolution network's window in image pixels (the input size over its training scale): a full_image
   * or roi region is then scored in overlapping windows of this size, feather-blended, so the network sees
   * the image at the scale it was trained at. Absent: the region is resized to the input (`fit`).
   */
  readonly regionWindow?: Size;
}

export interface AnnotatedImage {
  readonly annotation: Annotation;
  /** What was run, e.g. for logging the crops and the labels the bboxes mode skipped. */
  readonly plan: InferencePlan;
}

export async function annotateImage(opts: AnnotateImageOptions): Promise<AnnotatedImage> {
  const { mode, annotation, outputMeta, classMapping } = opts;
  const image = annotation.size;
  const plan = planInference({ mode, image, labels: labelBoxes(annotation) });
  const saveScores = mode.save_probabilities === true;
  const batchSize = Math.max(1, opts.batchSize ?? plan.crops.length);
  const channels = classMapping.size === 0 ? 0 : Math.max(...classMapping.keys()) + 1;

  const toRegion = (rect: Rect, scores: ScoreMap): RegionResult => {
    checkScores(rect, scores, channels);
    const mask = argmaxMask(scores);
    const predictions = regionPredictions({
      mask,
      region: rect,
      classMapping,
      classRenamer: outputMeta.classRenamer,
      ...(saveScores ? { scores } : {}),
    });
    return { rect, predictions };
  };

  /** The region's scores, stitched from the network's scores for `windows` (inside the region) with `blending`. */
  const stitched = async (region: Rect, windows: readonly Rect[], blending: Blending): Promise<ScoreMap> => {
    const stitcher = new ScoreStitcher({ size: rectSize(region), channels, blending });
    await forEachBatch(windows, batchSize, opts.scoreCrops, (rect, scores) => {
      checkScores(rect, scores, channels);
      stitcher.add(translateRect(rect, { drow: -region.top, dcol: -region.left }), scores);
    });
    return stitcher.result();
  };

  let result: ModeResult;
  if ((plan.mode === 'full_image' || plan.mode === 'roi') && opts.regionWindow !== undefined) {
    const region = plan.crops[0];
    const scores = await stitched(region, regionWindows(region, opts.regionWindow), 'feather');
    result = { mode: plan.mode, region: toRegion(region, scores) };
  } else if (plan.mode === 'sliding_window') {
    const imageRect = rectFromSize(image);
    const scores = await stitched(
      imageRect,
      plan.crops,
      mode.name === 'sliding_window' ? mode.blending : 'sum',
    );
    const whole = toRegion(imageRect, scores);
    result = {
      mode: 'sliding_window',
      windows: plan.crops.map((rect) => ({ rect })),
      stitched: whole.predictions,
    };
  } else {
    const regions: RegionResult[] = [];
    if (!saveScores && opts.maskCrops !== undefined) {
      for (let i = 0; i < plan.crops.length; i += batchSize) {
        const batch = plan.crops.slice(i, i + batchSize);
        const masks = await opts.maskCrops(batch);
        batch.forEach((rect, k) => {
          const predictions = regionPredictions({
            mask: masks[k],
            region: rect,
            classMapping,
            classRenamer: outputMeta.classRenamer,
          });
          regions.push({ rect, predictions });
        });
        // The labels hold masks of their own (classBitmapsFromMask copies), so these can be reused.
        opts.masksDone?.(masks);
      }
    } else {
      await forEachBatch(plan.crops, batchSize, opts.scoreCrops, (rect, scores) =>
        regions.push(toRegion(rect, scores)),
      );
    }
    result =
      plan.mode === 'bboxes'
        ? { mode: 'bboxes', regions, cropLabel: plan.cropLabel }
        : { mode: plan.mode, region: regions[0] };
  }

  const probClasses: ObjClassJson[] | undefined = saveScores
    ? probabilityClasses(classMapping, outputMeta.classRenamer)
    : undefined;
  return {
    annotation: mergeAnnotation({
      input: annotation,
      result,
      outputMeta,
      ...(probClasses !== undefined ? { probabilityClasses: probClasses } : {}),
    }),
    plan,
  };
}

/**
 * Windows of `window` (clamped to the region) covering `region`, overlapping by at least an eighth of a window
 * so the feather blend hides the seams, in image coordinates.
 */
export function regionWindows(region: Rect, window: Size): Rect[] {
  const size = rectSize(region);
  const w = { width: Math.min(window.width, size.width), height: Math.min(window.height, size.height) };
  const windows = slidingWindows({
    image: size,
    window: w,
    minOverlap: { x: Math.floor(w.width / 8), y: Math.floor(w.height / 8) },
  });
  return windows.map((r) => translateRect(r, { drow: region.top, dcol: region.left }));
}

/** The input labels as the bboxes plan sees them. */
export function labelBoxes(annotation: Annotation): LabelBox[] {
  return annotation.labels.map((l) => ({ classTitle: l.classTitle, bbox: geometryBounds(l.geometry) }));
}

async function forEachBatch(
  crops: readonly Rect[],
  batchSize: number,
  scoreCrops: ScoreCrops,
  use: (rect: Rect, scores: ScoreMap) => void,
): Promise<void> {
  for (let i = 0; i < crops.length; i += batchSize) {
    const batch = crops.slice(i, i + batchSize);
    const scores = await scoreCrops(batch);
    if (scores.length !== batch.length) {
      throw new Error(`scoreCrops returned ${scores.length} score maps for ${batch.length} crops`);
    }
    batch.forEach((rect, k) => use(rect, scores[k]));
  }
}

/** A crop's scores must be its size, with one channel per network output index (n_cls = max index + 1). */
function checkScores(rect: Rect, scores: ScoreMap, channels: number): void {
  if (scores.height !== rectHeight(rect) || scores.width !== rectWidth(rect)) {
    throw new Error(
      `scores for a ${rectHeight(rect)}x${rectWidth(rect)} crop are ${scores.height}x${scores.width}; resize them to the crop`,
    );
  }
  if (scores.channels !== channels) {
    throw modelError(
      `the network gives ${scores.channels} score channels, but class_title_to_idx needs ${channels} ` +
        '(its largest index + 1); the weights and config.json do not belong together',
      { file: 'config.json', field: 'class_title_to_idx' },
    );
  }
}
