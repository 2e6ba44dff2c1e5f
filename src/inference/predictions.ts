/**
 * A region's network output as labels (spec F.1 `segmentation_array_to_sly_bitmaps` and
 * `segmentation_scores_to_per_class_labels`, F.3 renaming, F.5 probabilities): one tight bitmap per predicted
 * class present (the background class too, when it is one of the model's out classes), renamed with the mode's
 * `model_classes` renamer and moved to the region's place in the image.
 */

import { modelError } from '../errors';
import { objClassToJson } from '../format/meta';
import type { Label, ObjClass } from '../format/model';
import { probabilityLabelJson } from '../format/multichannel-bitmap';
import { classBitmapsFromMask } from '../format/rasterise';
import type { LabelJson, ObjClassJson } from '../format/types';
import { rectHeight, rectWidth, type Rect } from './rect';
import type { Renamer } from './renamer';
import type { ClassIndexMask, ScoreMap } from './stitch';

/** The model's classes as its checkpoint's config.json lists them (spec C.2). */
export interface ModelClasses {
  /** `out_classes`. */
  readonly classes: readonly ObjClass[];
  /** `class_title_to_idx`. */
  readonly classToIndex: ReadonlyMap<string, number> | Readonly<Record<string, number>>;
}

/**
 * The SDK's `out_class_mapping`: network output index -> model class, for every title of the class map that
 * is one of the out classes (spec F.1).
 */
export function outClassMapping(model: ModelClasses): Map<number, ObjClass> {
  const byTitle = new Map(model.classes.map((c) => [c.title, c]));
  const entries =
    model.classToIndex instanceof Map ? [...model.classToIndex] : Object.entries(model.classToIndex);
  const out = new Map<number, ObjClass>();
  for (const [title, index] of entries as [string, number][]) {
    const cls = byTitle.get(title);
    if (cls !== undefined) out.set(index, cls);
  }
  return new Map([...out].sort((a, b) => a[0] - b[0]));
}

export interface RegionPredictionOptions {
  /** The region's class indices, row-major, `rectHeight(region) x rectWidth(region)`. */
  readonly mask: ClassIndexMask;
  /** Where the region lies in the image. */
  readonly region: Rect;
  readonly classMapping: ReadonlyMap<number, ObjClass>;
  /** `mode.model_classes`. */
  readonly classRenamer: Renamer;
  /** The region's per-class scores (HWC, channel = class index); give them to save probabilities. */
  readonly scores?: ScoreMap;
}

export interface RegionPredictions {
  /** Bitmap labels in image coordinates, in ascending class index order, with output class titles. */
  readonly labels: Label[];
  /** `customBigData.probabilityLabels` entries (spec F.5), one per saved class; empty without scores. */
  readonly probabilityLabels: LabelJson[];
}

export function regionPredictions(opts: RegionPredictionOptions): RegionPredictions {
  const { region, classMapping, classRenamer } = opts;
  const size = { height: rectHeight(region), width: rectWidth(region) };
  const classToIndex = new Map<string, number>();
  for (const [index, cls] of classMapping) classToIndex.set(cls.title, index);

  const labels: Label[] = [];
  for (const label of classBitmapsFromMask({ mask: opts.mask, size, classToIndex })) {
    const title = classRenamer.rename(label.classTitle);
    if (title === null || label.geometry.type !== 'bitmap') continue;
    const { origin } = label.geometry;
    labels.push({
      ...label,
      classTitle: title,
      geometry: { ...label.geometry, origin: { x: origin.x + region.left, y: origin.y + region.top } },
    });
  }

  const probabilityLabels: LabelJson[] = [];
  if (opts.scores !== undefined) {
    const scores = opts.scores;
    if (scores.height !== size.height || scores.width !== size.width) {
      throw new Error(
        `scores are ${scores.height}x${scores.width}, the region is ${size.height}x${size.width}`,
      );
    }
    for (const [index, cls] of classMapping) {
      const title = classRenamer.rename(cls.title);
      if (title === null) continue;
      if (index >= scores.channels) {
        throw modelError(
          `class "${cls.title}" has index ${index} but the network gives ${scores.channels} score channels`,
          { file: 'config.json', field: 'class_title_to_idx' },
        );
      }
      probabilityLabels.push(
        probabilityLabelJson({
          classTitle: title,
          origin: { x: region.left, y: region.top },
          scores: { height: size.height, width: size.width, channels: 1, data: scoreChannel(scores, index) },
        }),
      );
    }
  }
  return { labels, probabilityLabels };
}

/** One channel of an HWC map, as an H x W x 1 buffer. */
export function scoreChannel(scores: ScoreMap, channel: number): Float32Array {
  const n = scores.height * scores.width;
  const out = new Float32Array(n);
  const C = scores.channels;
  for (let p = 0; p < n; p++) out[p] = scores.data[p * C + channel];
  return out;
}

/** `customBigData.probabilityClasses` (spec F.5): the saved model classes, renamed, as multichannelBitmap. */
export function probabilityClasses(
  classMapping: ReadonlyMap<number, ObjClass>,
  classRenamer: Renamer,
): ObjClassJson[] {
  const out: ObjClassJson[] = [];
  for (const cls of classMapping.values()) {
    const title = classRenamer.rename(cls.title);
    if (title === null) continue;
    const { id: _id, ...kept } = cls;
    out.push(objClassToJson({ ...kept, title, shape: 'multichannelBitmap', geometryConfig: {} }));
  }
  return out;
}
