/**
 * Validation metrics as plain numbers: a confusion matrix accumulated over batches (from predicted and true
 * class-index arrays), pixel accuracy, per-class IoU and accuracy (recall), their means, and a weighted mean
 * of the loss. Tensors stay
 * with the caller: it passes `dataSync()`-style arrays in, and gets numbers (or null) out, ready for the metrics
 * line (spec D.5, H.5.12: non-finite values become null).
 */

export class ConfusionMatrix {
  readonly numClasses: number;
  /** Pixels whose truth is this index (the neutral class) are skipped. */
  readonly ignoreIndex: number | null;
  /** Row = truth, column = prediction. Float64: pixel counts of a large fold overflow 32 bits. */
  private readonly counts: Float64Array;

  constructor(opts: { numClasses: number; ignoreIndex?: number | null }) {
    if (!Number.isInteger(opts.numClasses) || opts.numClasses < 1) {
      throw new RangeError(`numClasses must be a positive integer, got ${opts.numClasses}`);
    }
    this.numClasses = opts.numClasses;
    this.ignoreIndex = opts.ignoreIndex ?? null;
    this.counts = new Float64Array(opts.numClasses * opts.numClasses);
  }

  /** Adds one batch: two arrays of class indices of the same length (e.g. argmax of the scores, and the mask). */
  add(opts: { predicted: ArrayLike<number>; truth: ArrayLike<number> }): void {
    const { predicted, truth } = opts;
    if (predicted.length !== truth.length) {
      throw new RangeError(`predicted has ${predicted.length} values but truth has ${truth.length}`);
    }
    const n = this.numClasses;
    for (let i = 0; i < truth.length; i += 1) {
      const t = truth[i];
      if (t === this.ignoreIndex) continue;
      const p = predicted[i];
      if (!(t >= 0 && t < n && Number.isInteger(t)))
        throw new RangeError(`truth[${i}] = ${t} is not a class index`);
      if (!(p >= 0 && p < n && Number.isInteger(p)))
        throw new RangeError(`predicted[${i}] = ${p} is not a class index`);
      this.counts[t * n + p] += 1;
    }
  }

  /**
   * Adds counts already tallied elsewhere (a step engine's numClasses x numClasses matrix, row-major, rows =
   * truth), so arrays of pixels need not cross back from the engine.
   */
  addCounts(counts: ArrayLike<number>): void {
    if (counts.length !== this.counts.length) {
      throw new RangeError(
        `expected ${this.counts.length} counts (${this.numClasses}^2), got ${counts.length}`,
      );
    }
    // All checked before any is added: a bad matrix leaves this one as it was.
    for (let i = 0; i < counts.length; i += 1) {
      if (!(counts[i] >= 0)) throw new RangeError(`counts[${i}] = ${counts[i]} is not a pixel count`);
    }
    for (let i = 0; i < counts.length; i += 1) this.counts[i] += counts[i];
  }

  /** Pixels counted (ignored ones excluded). */
  get total(): number {
    return this.counts.reduce((s, c) => s + c, 0);
  }

  count(truth: number, predicted: number): number {
    return this.counts[truth * this.numClasses + predicted];
  }

  /** Correct pixels / counted pixels; null before any pixel is counted. */
  pixelAccuracy(): number | null {
    const total = this.total;
    if (total === 0) return null;
    let correct = 0;
    for (let c = 0; c < this.numClasses; c += 1) correct += this.count(c, c);
    return correct / total;
  }

  /** TP / (TP + FP + FN) per class; null for a class neither predicted nor present anywhere so far. */
  classIou(): (number | null)[] {
    const n = this.numClasses;
    const result: (number | null)[] = [];
    for (let c = 0; c < n; c += 1) {
      let truthTotal = 0;
      let predictedTotal = 0;
      for (let k = 0; k < n; k += 1) {
        truthTotal += this.count(c, k);
        predictedTotal += this.count(k, c);
      }
      const tp = this.count(c, c);
      const union = truthTotal + predictedTotal - tp;
      result.push(union === 0 ? null : tp / union);
    }
    return result;
  }

  /**
   * Per class, the share of its pixels predicted as it (recall, "class accuracy"): TP / (TP + FN); null for a
   * class with no pixel in the truth so far.
   */
  classAccuracy(): (number | null)[] {
    const n = this.numClasses;
    const result: (number | null)[] = [];
    for (let c = 0; c < n; c += 1) {
      let truthTotal = 0;
      for (let k = 0; k < n; k += 1) truthTotal += this.count(c, k);
      result.push(truthTotal === 0 ? null : this.count(c, c) / truthTotal);
    }
    return result;
  }

  /** Mean of the non-null class IoUs; null if all are null. */
  meanIou(): number | null {
    const present = this.classIou().filter((v): v is number => v !== null);
    return present.length === 0 ? null : present.reduce((s, v) => s + v, 0) / present.length;
  }

  /** Adds another matrix's counts (e.g. from another worker). */
  merge(other: ConfusionMatrix): void {
    if (other.numClasses !== this.numClasses || other.ignoreIndex !== this.ignoreIndex) {
      throw new RangeError('can only merge confusion matrices of the same classes and ignore index');
    }
    for (let i = 0; i < this.counts.length; i += 1) this.counts[i] += other.counts[i];
  }
}

/** A mean weighted by batch size: the SDK averages validation loss per sample, not per batch. */
export class WeightedMean {
  private sum = 0;
  private weight = 0;

  add(value: number, weight = 1): void {
    if (!(weight >= 0)) throw new RangeError(`weight must be non-negative, got ${weight}`);
    this.sum += value * weight;
    this.weight += weight;
  }

  /** Null before anything with a positive weight was added, and when the sum is not finite. */
  value(): number | null {
    return finiteOrNull(this.mean());
  }

  /** Null before anything with a positive weight was added; otherwise the mean, NaN and infinities included. */
  mean(): number | null {
    return this.weight === 0 ? null : this.sum / this.weight;
  }
}

export function finiteOrNull(value: number | null | undefined): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

export type MetricValues = Record<string, number | null>;

/** The validation metrics line: loss, accuracy and mean IoU. */
export function validationMetrics(opts: { loss: WeightedMean; confusion: ConfusionMatrix }): MetricValues {
  return {
    loss: opts.loss.value(),
    accuracy: finiteOrNull(opts.confusion.pixelAccuracy()),
    mean_iou: finiteOrNull(opts.confusion.meanIou()),
  };
}

/** Per-class IoU keyed by class title, for the classes of the map (indices outside the matrix are skipped). */
export function iouByClass(
  confusion: ConfusionMatrix,
  classTitleToIdx: Readonly<Record<string, number>>,
): MetricValues {
  const ious = confusion.classIou();
  const entries = Object.entries(classTitleToIdx)
    .filter(([, idx]) => idx >= 0 && idx < ious.length)
    .map(([title, idx]): [string, number | null] => [title, finiteOrNull(ious[idx])]);
  return Object.fromEntries(entries);
}

/**
 * Intersection over union of two 0/1 masks (any non-zero value is 1), leaving out the pixels `ignore` marks;
 * 1 when the union is empty. The click task's IoU and DAVIS's J are this.
 */
export function maskIou(a: Uint8Array, b: Uint8Array, ignore?: Uint8Array): number {
  let inter = 0;
  let union = 0;
  for (let i = 0; i < a.length; i++) {
    if (ignore !== undefined && ignore[i] !== 0) continue;
    const p = a[i] !== 0;
    const q = b[i] !== 0;
    if (p && q) inter++;
    if (p || q) union++;
  }
  return union === 0 ? 1 : inter / union;
}
