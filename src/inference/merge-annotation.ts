/**
 * The output annotation of one image, per mode (spec F.3 table, F.4): the input annotation kept (every object
 * and tag), the predictions added, each mode's own rectangles and tag rules, every label cut to the image, and
 * `customBigData` kept with the probabilities added when they are saved (F.5).
 */

import type { Annotation, Geometry, Label, Tag } from '../format/model';
import type { LabelJson, ObjClassJson } from '../format/types';
import { clipGeometry } from './label-geometry';
import type { OutputMeta } from './output-meta';
import type { RegionPredictions } from './predictions';
import type { Rect } from './rect';
import { renameTags } from './renamer';

/** The model's answer for one crop. */
export interface RegionResult {
  /** The crop in image coordinates. */
  readonly rect: Rect;
  /** Labels already renamed and placed in the image (`regionPredictions`). */
  readonly predictions: RegionPredictions;
  /** The model's image-level tags for this crop, with the model's names (renamed here). */
  readonly modelTags?: readonly Tag[];
}

export interface WindowResult {
  readonly rect: Rect;
  readonly modelTags?: readonly Tag[];
}

export type ModeResult =
  | { readonly mode: 'full_image' | 'roi'; readonly region: RegionResult }
  | {
      readonly mode: 'bboxes';
      readonly regions: readonly RegionResult[];
      /** For each region, the index of the input label it came from (the plan's `cropLabel`). */
      readonly cropLabel: readonly number[];
    }
  | {
      readonly mode: 'sliding_window';
      readonly windows: readonly WindowResult[];
      /** Labels (and probabilities) from the stitched score map of the whole image. */
      readonly stitched: RegionPredictions;
    };

export interface MergeOptions {
  readonly input: Annotation;
  readonly result: ModeResult;
  readonly outputMeta: OutputMeta;
  /** `customBigData.probabilityClasses` for the saved probabilities (`probabilityClasses()`). */
  readonly probabilityClasses?: readonly ObjClassJson[];
}

export function mergeAnnotation(opts: MergeOptions): Annotation {
  const { input, result, outputMeta } = opts;
  const renamed = (tags: readonly Tag[] | undefined): Tag[] => renameTags(tags ?? [], outputMeta.tagRenamer);
  const regionRect = (rect: Rect, tags: Tag[]): Label[] =>
    outputMeta.regionClass === null ? [] : [rectangleLabel(outputMeta.regionClass, rect, tags)];

  let labels: Label[];
  let imageTags: Tag[] = [...input.tags];
  let probabilityLabels: LabelJson[];
  switch (result.mode) {
    case 'full_image':
    case 'roi': {
      const { region } = result;
      const tags = renamed(region.modelTags);
      labels = [...input.labels, ...region.predictions.labels];
      if (result.mode === 'roi') labels.push(...regionRect(region.rect, tags));
      imageTags = [...imageTags, ...tags];
      probabilityLabels = region.predictions.probabilityLabels;
      break;
    }
    case 'bboxes': {
      const regionOf = new Map<number, RegionResult>();
      result.cropLabel.forEach((labelIndex, i) => regionOf.set(labelIndex, result.regions[i]));
      labels = [];
      input.labels.forEach((src, i) => {
        const region = regionOf.get(i);
        if (region === undefined) {
          labels.push(src);
          return;
        }
        // The model's image tags go onto the source object (e.g. a classifier's answer), not onto the image.
        const tags = renamed(region.modelTags);
        labels.push(...region.predictions.labels);
        const boxClass = outputMeta.boxClassBySource.get(src.classTitle);
        if (boxClass !== undefined) labels.push(rectangleLabel(boxClass, region.rect, tags));
        labels.push({ ...src, tags: [...src.tags, ...tags] });
      });
      probabilityLabels = result.regions.flatMap((r) => r.predictions.probabilityLabels);
      break;
    }
    case 'sliding_window': {
      labels = [...input.labels];
      for (const w of result.windows) labels.push(...regionRect(w.rect, renamed(w.modelTags)));
      labels.push(...result.stitched.labels);
      probabilityLabels = result.stitched.probabilityLabels;
      break;
    }
  }

  return {
    ...input,
    tags: imageTags,
    labels: labels.flatMap((l) => clipLabel(l, input.size)),
    customBigData: withProbabilities(input.customBigData, probabilityLabels, opts.probabilityClasses),
  };
}

function rectangleLabel(classTitle: string, rect: Rect, tags: Tag[]): Label {
  return { classTitle, description: '', tags, geometry: { type: 'rectangle', ...rect }, extra: {} };
}

/**
 * The label's parts inside the image. Score labels are backend-only and never stay in `objects`
 * (`_remove_backend_only_labels`).
 */
export function clipLabel(label: Label, size: { height: number; width: number }): Label[] {
  if (label.geometry.type === 'multichannelBitmap') return [];
  return clipGeometry(label.geometry, size).map((g: Geometry) =>
    g === label.geometry ? label : { ...label, geometry: g },
  );
}

/**
 * `customBigData` with new probability labels appended after any already there, and their classes added to
 * `probabilityClasses` (by title, first definition wins), as the SDK's `Annotation.to_json` does.
 */
function withProbabilities(
  customBigData: Readonly<Record<string, unknown>>,
  labels: readonly LabelJson[],
  classes: readonly ObjClassJson[] | undefined,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...customBigData };
  if (labels.length === 0) return out;
  if (classes === undefined) {
    throw new Error('probability labels were given without their probabilityClasses');
  }
  const oldLabels = Array.isArray(customBigData.probabilityLabels)
    ? (customBigData.probabilityLabels as unknown[])
    : [];
  const oldClasses = Array.isArray(customBigData.probabilityClasses)
    ? (customBigData.probabilityClasses as ObjClassJson[])
    : [];
  const titles = new Set(oldClasses.map((c) => c.title));
  const used = new Set(labels.map((l) => l.classTitle));
  out.probabilityLabels = [...oldLabels, ...labels];
  out.probabilityClasses = [
    ...oldClasses,
    ...classes.filter((c) => used.has(c.title) && !titles.has(c.title)),
  ];
  return out;
}
