/**
 * Scoring a results project against the ground truth of the same images: the predicted bitmaps (the classes
 * with the model's suffix) and the ground-truth objects are rasterised into class-index masks and compared
 * pixel by pixel. The example prints this, and the end-to-end tests assert on it.
 */
import path from 'node:path';
import type { Annotation } from '../format/model';
import { projectItems, readItemAnnotation, readSingleProject } from '../format/project-reader';
import { rasteriseAnnotation } from '../format/rasterise';
import { ConfusionMatrix } from '../training/metrics';

export interface ScoreOptions {
  /** The input project (ground truth). */
  readonly truthDir: string;
  /** The results project written by inference. */
  readonly resultsDir: string;
  /** Class titles, background first: index 0 is the background. */
  readonly classes: readonly string[];
  /** The suffix inference added to the model's classes, e.g. "_unet". */
  readonly suffix: string;
  /** A ground-truth class whose pixels are not scored (the neutral class). */
  readonly ignoreClass?: string;
}

export interface Score {
  readonly items: number;
  /** Null when no pixel was scored. */
  readonly pixelAccuracy: number | null;
  readonly meanIou: number | null;
  /** Per class title; null for a class absent from both truth and prediction. */
  readonly iou: Record<string, number | null>;
}

export async function scoreResults(opts: ScoreOptions): Promise<Score> {
  const truth = await readSingleProject(opts.truthDir);
  const results = await readSingleProject(opts.resultsDir);
  const ignore = opts.classes.length;
  const cm = new ConfusionMatrix({ numClasses: opts.classes.length, ignoreIndex: ignore });
  const truthIndex = Object.fromEntries(opts.classes.map((c, i) => [c, i]));
  const predIndex = Object.fromEntries(opts.classes.map((c, i) => [`${c}${opts.suffix}`, i]));
  let items = 0;
  const resultItems = new Map([...projectItems(results)].map((r) => [`${r.dataset}/${r.name}`, r]));
  for (const item of projectItems(truth)) {
    const resultItem = resultItems.get(`${item.dataset}/${item.name}`);
    if (resultItem === undefined) {
      throw new Error(`${path.join(item.dataset, item.name)} is missing from the results project`);
    }
    const truthAnn = await readItemAnnotation(truth, item);
    const predAnn = await readItemAnnotation(results, resultItem);
    const truthMask = rasteriseAnnotation(onlyClasses(truthAnn, [...opts.classes, opts.ignoreClass ?? '']), {
      classToIndex: truthIndex,
      fill: 0,
      ...(opts.ignoreClass !== undefined ? { neutral: { classTitle: opts.ignoreClass, value: ignore } } : {}),
    });
    const predMask = rasteriseAnnotation(onlyClasses(predAnn, Object.keys(predIndex)), {
      classToIndex: predIndex,
      fill: 0,
    });
    cm.add({ predicted: predMask, truth: truthMask });
    items += 1;
  }
  const perClass = cm.classIou();
  const iou: Record<string, number | null> = {};
  opts.classes.forEach((c, i) => (iou[c] = perClass[i]));
  return { items, pixelAccuracy: cm.pixelAccuracy(), meanIou: cm.meanIou(), iou };
}

function onlyClasses(ann: Annotation, titles: readonly string[]): Annotation {
  return { ...ann, labels: ann.labels.filter((l) => titles.includes(l.classTitle)) };
}
