/**
 * Validation when the planner says so (spec E.7), after the step's train metrics: the caller's `evaluate` runs
 * the val fold; the result is printed as the val metrics line (spec D.5) and written to the run's metric store
 * under `val/<name>`, where the checkpoint hook reads it.
 *
 * The val metrics: loss (mean over counted pixels, weighted by class as the training loss is; null when none
 * were, NaN when it diverged), accuracy (pixel accuracy), mean_iou, mean_accuracy, and per class of the class
 * map `iou_<class title>` and `acc_<class title>` (the share of the class's pixels predicted right: recall),
 * both null for a class absent from the val fold's ground truth (they say nothing about that fold). The means
 * are over the non-null per-class values.
 */

import { reportMetrics } from '../../protocol/events';
import type { Logger } from '../../protocol/logger';
import type { ConfusionMatrix, MetricValues, WeightedMean } from '../metrics';
import { finiteOrNull } from '../metrics';
import type { EvalPlanner } from '../planner';
import type { RunState, TrainHook } from '../trainer';

export const VAL_METRIC_PREFIX = 'val/';
export const IOU_PREFIX = 'iou_';
export const ACCURACY_PREFIX = 'acc_';

/** What `evaluate` accumulates over the val fold. */
export interface ValidationTally {
  loss: WeightedMean;
  confusion: ConfusionMatrix;
}

/** One per-class value for each class of the map, null when the class has no pixel in the ground truth. */
function perClass(
  confusion: ConfusionMatrix,
  classTitleToIdx: Readonly<Record<string, number>>,
  values: readonly (number | null)[],
): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const [title, idx] of Object.entries(classTitleToIdx)) {
    if (idx < 0 || idx >= confusion.numClasses) continue;
    let truthPixels = 0;
    for (let p = 0; p < confusion.numClasses; p += 1) truthPixels += confusion.count(idx, p);
    out[title] = truthPixels === 0 ? null : finiteOrNull(values[idx]);
  }
  return out;
}

/** IoU of each class of the map, null when the class has no pixel in the ground truth. */
export function iouPerClass(
  confusion: ConfusionMatrix,
  classTitleToIdx: Readonly<Record<string, number>>,
): Record<string, number | null> {
  return perClass(confusion, classTitleToIdx, confusion.classIou());
}

/** Accuracy (recall) of each class of the map, null when the class has no pixel in the ground truth. */
export function accuracyPerClass(
  confusion: ConfusionMatrix,
  classTitleToIdx: Readonly<Record<string, number>>,
): Record<string, number | null> {
  return perClass(confusion, classTitleToIdx, confusion.classAccuracy());
}

function meanOfPresent(values: Record<string, number | null>): number | null {
  const present = Object.values(values).filter((v): v is number => v !== null);
  return present.length === 0 ? null : present.reduce((a, b) => a + b, 0) / present.length;
}

/** The val metrics line from a tally (see the module comment). */
export function validationMetricValues(
  tally: ValidationTally,
  classTitleToIdx: Readonly<Record<string, number>>,
): MetricValues {
  const ious = iouPerClass(tally.confusion, classTitleToIdx);
  const accuracies = accuracyPerClass(tally.confusion, classTitleToIdx);
  const metrics: MetricValues = {
    // NaN or infinite stays so (the line prints null): the checkpoint hook must see the divergence.
    loss: tally.loss.mean(),
    accuracy: finiteOrNull(tally.confusion.pixelAccuracy()),
    mean_iou: meanOfPresent(ious),
    mean_accuracy: meanOfPresent(accuracies),
  };
  for (const [title, iou] of Object.entries(ious)) metrics[`${IOU_PREFIX}${title}`] = iou;
  for (const [title, acc] of Object.entries(accuracies)) metrics[`${ACCURACY_PREFIX}${title}`] = acc;
  return metrics;
}

/** The val metrics written at the current step, without the prefix; empty when none were. */
export function valMetricsAtStep(state: RunState): MetricValues {
  const out: MetricValues = {};
  for (const name of state.metrics.names()) {
    const entry = state.metrics.get(name);
    if (name.startsWith(VAL_METRIC_PREFIX) && entry !== undefined && entry.globalStep === state.globalStep) {
      out[name.slice(VAL_METRIC_PREFIX.length)] = entry.value;
    }
  }
  return out;
}

export interface ValidationHookOptions {
  logger: Logger;
  planner: EvalPlanner;
  /** Runs the val fold and returns the metrics line (see `validationMetricValues`). */
  evaluate: (state: RunState) => Promise<MetricValues>;
}

export function validationHook(opts: ValidationHookOptions): TrainHook {
  return {
    name: 'validation',
    afterStep: async (state) => {
      if (!opts.planner.needValidation(state.epochFloat)) return;
      const metrics = await opts.evaluate(state);
      reportMetrics(opts.logger, { type: 'val', epoch: state.epochFloat, metrics });
      for (const [name, value] of Object.entries(metrics)) {
        state.putMetric(`${VAL_METRIC_PREFIX}${name}`, value);
      }
      opts.planner.validationPerformed();
    },
  };
}
